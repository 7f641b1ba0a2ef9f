"""Which staticserve middleware wraps this process's Django application, if any.

``wrap_wsgi``/``wrap_asgi`` (and any other way the integration wraps the application) record
it here; ``ManifestStorage`` asks it for URLs, so that a page pins one build, as the
middleware's own helpers do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...middleware import MiddlewareBase

__all__ = ["record_serving", "serving_middleware"]

_serving: MiddlewareBase | None = None


def record_serving(middleware: MiddlewareBase) -> None:
    """``middleware`` wraps the application of this process (the last one recorded wins)."""
    global _serving
    _serving = middleware


def serving_middleware() -> MiddlewareBase | None:
    """The middleware that wraps the application of this process, or None."""
    return _serving
