"""Recognising file names that already carry a content hash, and so may be cached forever.

A wrong "yes" serves changing bytes under an ``immutable`` URL for a year; a wrong "no" only
hashes a name twice. So a name is taken as hashed only when that is certain:

* it carries the SHA-256 of its own bytes: a dot-separated part of the file name is at least
  :data:`MIN_HEX` lowercase hex digits and starts that digest (``app.3f2a9c1d7e4b.css``, as the
  build names files) -- checked against the bytes, not guessed from the shape; or
* it matches one of the user's ``fingerprinted`` patterns (regular expressions over the whole
  path): names a bundler hashes in its own way, which cannot be checked (Vite's
  ``index-B7x9Qz1k.js``), kept because the user said so.
"""

from __future__ import annotations

import functools
import re

__all__ = [
    "MIN_HEX",
    "carries_own_hash",
    "hash_parts",
    "keeps_its_name",
    "matches_patterns",
]

MIN_HEX = 12  # as the build's names (and Django's): 48 bits, no accidental match
_HEX = re.compile(rf"[0-9a-f]{{{MIN_HEX},64}}")


def hash_parts(name: str) -> list[str]:
    """The parts of the file name in ``name`` shaped like a hash (:data:`MIN_HEX` to 64
    lowercase hex digits): only a name with one may carry its own hash. Needs no bytes, so a
    build hashes a file to check its name only when this is not empty."""
    base = name.rsplit("/", 1)[-1]
    return [part for part in base.split(".") if len(part) >= MIN_HEX and _HEX.fullmatch(part)]


def carries_own_hash(name: str, sha256: str) -> bool:
    """True when the file name in ``name`` contains a prefix of ``sha256`` (hex) as a part."""
    return any(sha256.startswith(part) for part in hash_parts(name))


def matches_patterns(name: str, patterns: tuple[str, ...]) -> bool:
    """True when one of the regular expressions ``patterns`` matches the whole of ``name``."""
    return any(pattern.fullmatch(name) for pattern in _compiled(patterns))


def keeps_its_name(name: str, sha256: str, patterns: tuple[str, ...] = ()) -> bool:
    """True when a file ``name`` with bytes of digest ``sha256`` is hashed already."""
    return carries_own_hash(name, sha256) or matches_patterns(name, patterns)


@functools.lru_cache(maxsize=16)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern) for pattern in patterns)
