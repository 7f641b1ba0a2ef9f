"""Django: wrap the project's application from ``settings.STATICSERVE``, and template tags.

``settings.py``::

    INSTALLED_APPS = [..., "staticserve.integrations.django"]
    STATICSERVE = {"root": BASE_DIR / "static_build", "prefix": "/static", "dev": DEBUG}

An absolute ``STATIC_URL`` (``https://cdn.example.com/static/``) is taken as the ``url_base``
option unless ``STATICSERVE`` sets one.

``wsgi.py`` (``asgi.py`` alike, with :func:`wrap_asgi`)::

    application = wrap_wsgi(get_wsgi_application())

Templates: ``{% load staticserve %}`` then ``{% static_url "css/app.css" %}`` and
``{% integrity "css/app.css" %}``. The tags ask the wrapped application's middleware, so a
newly published build shows in pages as soon as the middleware serves it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ...errors import ConfigError
from ...options import KEYWORDS

if TYPE_CHECKING:
    from ...asgi import ASGIApp, StaticServe
    from ...middleware import MiddlewareBase
    from ...wsgi import StaticServeWSGI, WSGIApp
    from .. import AssetUrls

__all__ = ["assets", "settings_options", "wrap_asgi", "wrap_wsgi"]

_OPTIONS = frozenset({"root", "prefix"}) | KEYWORDS  # what the middlewares take
M = TypeVar("M", bound="MiddlewareBase")
_lock = threading.Lock()
_assets: AssetUrls | None = None


def settings_options() -> dict[str, Any]:
    """The middleware keywords from ``settings.STATICSERVE`` (a dict; unknown keys are errors)."""
    from django.conf import settings

    options = getattr(settings, "STATICSERVE", {})
    if not isinstance(options, Mapping):
        raise ConfigError("settings.STATICSERVE must be a dict of staticserve options")
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        known = ", ".join(sorted(_OPTIONS))
        raise ConfigError(f"settings.STATICSERVE: unknown option {unknown[0]!r} (known: {known})")
    options = dict(options)
    # An absolute STATIC_URL is how a Django project says its static files live on a CDN.
    static_url = getattr(settings, "STATIC_URL", None)
    if "url_base" not in options and _is_absolute_url(static_url):
        options["url_base"] = static_url
    return options


def _is_absolute_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://", "//"))


def wrap_wsgi(application: WSGIApp) -> StaticServeWSGI:
    """``application`` behind :class:`~staticserve.StaticServeWSGI`, configured from settings."""
    from ...wsgi import StaticServeWSGI

    return _register(StaticServeWSGI(application, **settings_options()))


def wrap_asgi(application: ASGIApp) -> StaticServe:
    """``application`` behind :class:`~staticserve.StaticServe`, configured from settings."""
    from ...asgi import StaticServe

    return _register(StaticServe(application, **settings_options()))


def assets() -> AssetUrls:
    """What the template tags use: the wrapping middleware, or one made from settings."""
    global _assets
    if _assets is None:
        from ...wsgi import StaticServeWSGI

        with _lock:
            if _assets is None:
                _assets = StaticServeWSGI(_unused_app, **settings_options())
    return _assets


def _register(middleware: M) -> M:
    global _assets
    _assets = middleware
    middleware.pinning = True  # the template tags ask it: one build per rendered page
    return middleware


def _unused_app(environ: Any, start_response: Any) -> Any:  # pragma: no cover - never served
    raise RuntimeError("staticserve's template helper is not an application")
