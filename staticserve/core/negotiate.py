"""Choosing the representation for a request's Accept-Encoding (RFC 9110 §12.5.3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .headers import parse_accept_encoding
from .resource import IDENTITY, Representation

__all__ = ["choose", "preference", "weights_for"]

_CACHE_SIZE = 256
_weights_cache: dict[bytes, Mapping[str, int]] = {}
_NO_PREFERENCE: Mapping[str, int] = {}
# The rank of an identity the field does not mention: acceptable, yet below q=0.001 (a rank
# of 1), so that it is chosen only when no coding the client named is acceptable.
_UNNAMED_IDENTITY = 0.5


def weights_for(field: bytes) -> Mapping[str, int]:
    """Parsed Accept-Encoding weights, cached by the raw field (clients send a handful of forms)."""
    weights = _weights_cache.get(field)
    if weights is None:
        if len(_weights_cache) >= _CACHE_SIZE:
            _weights_cache.clear()  # bounded: a client inventing fields cannot grow it
        # A field too long to parse counts as an empty one: identity only.
        weights = _weights_cache[field] = parse_accept_encoding(field) or _NO_PREFERENCE
    return weights


def preference(weights: Mapping[str, int], coding: str) -> float:
    """How much the client wants ``coding``, in thousandths of q; 0 refuses it.

    RFC 9110 §12.5.3: a listed coding has its q-value; "*" gives its q to every coding not
    listed; identity is acceptable by default unless excluded ("identity;q=0", or "*;q=0"
    without an entry for identity). The field gives no q for an unmentioned identity: it
    ranks below every coding the client named, which it listed to be used.
    """
    weight = weights.get(coding)
    if weight is None:
        weight = weights.get("*")
        if weight is None:
            return _UNNAMED_IDENTITY if coding == IDENTITY else 0
    return weight


def choose(
    representations: Sequence[Representation], field: bytes | None, identity: Representation
) -> Representation:
    """The representation with the highest q-value; among equals, the smallest.

    ``representations`` is ordered smallest first, so a later one must be strictly preferred
    to displace an earlier one. Without the field the client stated no preference and gets
    identity, which every client understands. When nothing is acceptable identity is sent
    anyway: RFC 9110 §12.1 lets a server disregard the preference instead of answering 406.
    """
    if field is None:
        return identity
    weights = weights_for(field)
    chosen, best = identity, 0.0
    for representation in representations:
        rank = preference(weights, representation.coding)
        if rank > best:
            chosen, best = representation, rank
    return chosen
