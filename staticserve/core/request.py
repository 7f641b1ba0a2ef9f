"""The request as the core sees it: method, raw path, the few header fields it reads, the time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

__all__ = ["REQUEST_FIELDS", "Request"]

# Every request header field the core reads; adapters that must copy fields copy only these.
REQUEST_FIELDS: tuple[bytes, ...] = (
    b"accept-encoding",
    b"if-match",
    b"if-unmodified-since",
    b"if-none-match",
    b"if-modified-since",
    b"range",
    b"if-range",
)


class Request(NamedTuple):
    """One request (immutable; a NamedTuple because one is built per request, at a third of a
    frozen dataclass's cost).

    ``path`` is the target's path as received: still percent-encoded, without the query.
    ``headers`` maps lower-case field names to raw values (ASGI delivers names lower-cased; other
    fields may be present and are ignored). ``now`` is the arrival time in whole seconds since the
    epoch, so that the core never reads a clock. ``query`` is the target's query, without the
    ``?`` (only a redirect uses it).
    """

    method: str
    path: bytes
    headers: Mapping[bytes, bytes]
    now: int
    query: bytes = b""
