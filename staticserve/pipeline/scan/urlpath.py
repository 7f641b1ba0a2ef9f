"""A reference's path as a browser reads it: percent-encoded, and where a content hash goes.

A browser sends a reference's path with its ``%XX`` sequences as written, and the server decodes
them (RFC 3986 §2.1): ``logo%2Epng`` names the file ``logo.png``. So the hash goes where the
*decoded* name has its last dot, and every character around it keeps the spelling it was written
with. Pure text: no disk, no hashing.
"""

from __future__ import annotations

import posixpath
from urllib.parse import quote, unquote

__all__ = ["with_hash"]

_HEX = frozenset("0123456789abcdefABCDEF")
# What a path may hold unencoded: RFC 3986 pchar and "/" ; everything else is percent-encoded.
_SAFE_IN_PATH = "/!$&'()*+,;=:@-._~"


def with_hash(written: str, short: str) -> str:
    """``written`` (a reference's path part, percent-encoding as written) naming the file whose
    name gains ``short`` as the build inserts it: ``name.<short>.ext``, or ``name.<short>``
    without a suffix. Only the inserted characters are new; an ``%2E`` stays ``%2E``.

    >>> with_hash("../img/logo%2Epng", "3f2a9c1d7e4b")
    '../img/logo.3f2a9c1d7e4b%2Epng'
    """
    units = _units(written)
    decoded_last = [char for char, _ in units]
    slash = _last_index(decoded_last, "/")
    base = units[slash + 1 :]
    if not base or "".join(c or "x" for c, _ in base) in (".", ".."):
        # "img/x.png/.." names what it normalises to: hash that, spelled anew.
        return quote(_insert(posixpath.normpath(unquote(written)), short), safe=_SAFE_IN_PATH)
    dot = _last_index([char for char, _ in base], ".")
    if dot <= 0:  # no suffix, or a name that is only ".suffix": the hash goes at the end
        return f"{written}.{short}"
    at = base[dot][1]
    return f"{written[:at]}.{short}{written[at:]}"


def _units(written: str) -> list[tuple[str | None, int]]:
    """Each character or ``%XX`` sequence of ``written`` with its offset; the first item is the
    ASCII character it decodes to (a byte of a multi-byte character, or none, gives None)."""
    units: list[tuple[str | None, int]] = []
    i = 0
    while i < len(written):
        if written[i] == "%" and written[i + 1 : i + 2] in _HEX and written[i + 2 : i + 3] in _HEX:
            code = int(written[i + 1 : i + 3], 16)
            units.append((chr(code) if code < 0x80 else None, i))
            i += 3
        else:
            units.append((written[i], i))
            i += 1
    return units


def _last_index(chars: list[str | None], wanted: str) -> int:
    for index in range(len(chars) - 1, -1, -1):
        if chars[index] == wanted:
            return index
    return -1


def _insert(path: str, short: str) -> str:
    head, slash, base = path.rpartition("/")
    stem, dot, suffix = base.rpartition(".")
    new_base = f"{stem}.{short}.{suffix}" if dot and stem else f"{base}.{short}"
    return head + slash + new_base
