"""Recognising file names that already carry a content hash (ours or a bundler's)."""

from __future__ import annotations

import re

__all__ = ["is_fingerprinted"]

# A wrong "yes" would cache a changing file forever, a wrong "no" only hashes a name twice, so
# both patterns are strict: a hash must mix digits and letters.
# ``app.3f2a9c1d7e4b.css`` (ours, Django's 12 hex, webpack's ``[contenthash]`` 16-20 hex):
_HEX = re.compile(r"\.([0-9a-f]{12,64})\.[A-Za-z0-9]+$")
# ``index-BxY3z9_k.js`` (Vite/Rollup ``[name]-[hash]``: 8 base64url characters):
_BUNDLER = re.compile(r"-([A-Za-z0-9_-]{8})\.[A-Za-z0-9]+$")


def is_fingerprinted(name: str) -> bool:
    """True when the last path segment of ``name`` already contains a content hash."""
    base = name.rsplit("/", 1)[-1]
    match = _HEX.search(base) or _BUNDLER.search(base)
    if match is None:
        return False
    token = match.group(1)
    return any(c.isdigit() for c in token) and any(c.isalpha() for c in token)
