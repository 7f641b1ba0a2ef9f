"""Choosing the representation for a request's Accept-Encoding (RFC 9110 §12.5.3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .headers import parse_accept_encoding
from .resource import IDENTITY, Representation

__all__ = ["accepts", "choose", "weights_for"]

_CACHE_SIZE = 256
_weights_cache: dict[bytes, Mapping[str, int]] = {}
_NO_PREFERENCE: Mapping[str, int] = {}


def weights_for(field: bytes) -> Mapping[str, int]:
    """Parsed Accept-Encoding weights, cached by the raw field (clients send a handful of forms)."""
    weights = _weights_cache.get(field)
    if weights is None:
        if len(_weights_cache) >= _CACHE_SIZE:
            _weights_cache.clear()  # bounded: a client inventing fields cannot grow it
        # A field too long to parse counts as an empty one: identity only.
        weights = _weights_cache[field] = parse_accept_encoding(field) or _NO_PREFERENCE
    return weights


def accepts(weights: Mapping[str, int], coding: str) -> bool:
    """True when ``coding`` has a non-zero weight.

    RFC 9110 §12.5.3: "*" matches any coding not listed; identity is acceptable unless the
    field excludes it with "identity;q=0" or with "*;q=0" and no entry for identity.
    """
    default = 1000 if coding == IDENTITY else 0
    return weights.get(coding, weights.get("*", default)) > 0


def choose(
    representations: Sequence[Representation], field: bytes | None, identity: Representation
) -> Representation:
    """The smallest acceptable representation (``representations`` is ordered smallest first).

    Without the field the client stated no preference and gets identity, which every client
    understands. When nothing is acceptable identity is sent anyway: RFC 9110 §12.1 lets a
    server disregard the preference instead of answering 406.
    """
    if field is None:
        return identity
    weights = weights_for(field)
    for representation in representations:
        if accepts(weights, representation.coding):
            return representation
    return identity
