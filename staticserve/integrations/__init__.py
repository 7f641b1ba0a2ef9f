"""Helpers for template engines and frameworks: hashed URLs and SRI values in templates."""

from __future__ import annotations

from typing import Protocol

__all__ = ["AssetUrls"]


class AssetUrls(Protocol):
    """What templates need: both middlewares and :class:`~staticserve.Manifest` provide it."""

    def static_url(self, path: str) -> str:
        """The URL to put in a page for the logical ``path`` (hashed in production)."""
        ...

    def integrity(self, path: str) -> str:
        """The Subresource Integrity value of ``path`` (``sha384-…``)."""
        ...
