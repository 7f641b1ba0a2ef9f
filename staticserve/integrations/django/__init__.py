"""Django: serve the build (or, with ``DEBUG``, the finders' folders) from Django's settings.

``settings.py``::

    INSTALLED_APPS = ["staticserve.integrations.django", ..., "django.contrib.staticfiles"]
    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "staticserve.integrations.django.StaticServeMiddleware",
        ...,
    ]

An absolute ``STATIC_URL`` (``https://cdn.example.com/static/``) is taken as the ``url_base``
option unless ``STATICSERVE`` sets one.

or, instead of the middleware, the faster wrapper in ``wsgi.py`` (``asgi.py`` alike, with
:func:`wrap_asgi`)::

    application = wrap_wsgi(get_wsgi_application())

Both read ``STATIC_ROOT`` and ``STATIC_URL``; ``DEBUG = True`` serves the files Django's
staticfiles finders find, as they are. ``settings.STATICSERVE`` (optional) overrides any of
``root``, ``prefix``, ``dev`` and sets middleware options (``max_age``, ``headers``, ...).
Listed before ``django.contrib.staticfiles``, the app's ``runserver`` serves through staticserve.
``manage.py check`` reports a misconfiguration (see :mod:`.checks`).

Templates: ``{% load staticserve %}`` then ``{% static_url "css/app.css" %}`` and
``{% integrity "css/app.css" %}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .conf import read_settings, serving, use
from .middleware import StaticServeMiddleware
from .storage import ManifestStorage

if TYPE_CHECKING:
    from ...asgi import ASGIApp, StaticServe
    from ...wsgi import StaticServeWSGI, WSGIApp
    from .. import AssetUrls

__all__ = [
    "ManifestStorage",
    "StaticServeMiddleware",
    "assets",
    "settings_options",
    "wrap_asgi",
    "wrap_wsgi",
]


def settings_options() -> dict[str, Any]:
    """The middleware's arguments (``root``, ``prefix`` and keywords) from Django's settings;
    a :class:`~staticserve.errors.ConfigError` says what is wrong."""
    return read_settings().arguments()


def wrap_wsgi(application: WSGIApp) -> StaticServeWSGI:
    """``application`` behind :class:`~staticserve.StaticServeWSGI`, configured from settings."""
    from ...wsgi import StaticServeWSGI

    middleware = StaticServeWSGI(application, **settings_options())
    use(middleware)
    return middleware


def wrap_asgi(application: ASGIApp) -> StaticServe:
    """``application`` behind :class:`~staticserve.StaticServe`, configured from settings."""
    from ...asgi import StaticServe

    middleware = StaticServe(application, **settings_options())
    use(middleware)
    return middleware


def assets() -> AssetUrls:
    """What the template tags use: the wrapper or the middleware, or one made from settings."""
    return serving()
