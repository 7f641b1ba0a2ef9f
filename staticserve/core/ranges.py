"""Byte ranges against a representation's length (RFC 9110 §14.1.2, §14.4)."""

from __future__ import annotations

from .headers import ByteRange

__all__ = ["content_range", "resolve"]


def resolve(byte_range: ByteRange, length: int) -> tuple[int, int] | None:
    """``(start, stop)`` (stop exclusive) of the satisfiable part, or None when unsatisfiable."""
    first, last = byte_range.first, byte_range.last
    if first is None:
        # RFC 9110 §14.1.2: a suffix range asks for the last N bytes, the whole representation
        # when it is shorter than N; a suffix-length of 0 is unsatisfiable.
        suffix = last or 0
        return (max(length - suffix, 0), length) if suffix > 0 and length > 0 else None
    # RFC 9110 §14.1.2: satisfiable when first-pos is less than the current length; a last-pos
    # at or past the end means the remainder.
    if first >= length:
        return None
    stop = length if last is None or last >= length else last + 1
    return first, stop


def content_range(start: int, stop: int, length: int) -> bytes:
    """The Content-Range value of a 206 (RFC 9110 §14.4): ``bytes first-last/complete``."""
    return b"bytes %d-%d/%d" % (start, stop - 1, length)
