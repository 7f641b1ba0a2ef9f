"""``{% load staticserve %}``: ``{% static_url "css/app.css" %}`` and ``{% integrity "..." %}``."""

from __future__ import annotations

from django import template

from ..conf import serving, url_origin

register = template.Library()


def static_url(path: str) -> str:
    """The URL of a logical path: hashed in production, plain in development mode; in
    production absolute on the CDN's host when ``STATIC_URL`` names one (development mode
    serves the sources, which no CDN holds)."""
    # When the middlewares' url_base option lands (branch nginx), read_settings() passes an
    # absolute STATIC_URL as url_base= and this line becomes `return serving().static_url(path)`.
    middleware = serving()
    url = middleware.static_url(path)
    return url if middleware.dev else url_origin() + url


def integrity(path: str) -> str:
    """The Subresource Integrity value (``sha384-…``) of a logical path."""
    return serving().integrity(path)


register.simple_tag(static_url)
register.simple_tag(integrity)
