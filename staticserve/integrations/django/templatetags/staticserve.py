"""``{% load staticserve %}``: ``{% static_url "css/app.css" %}`` and ``{% integrity "..." %}``."""

from __future__ import annotations

from django import template

from .. import assets
from ..conf import url_origin

register = template.Library()


def static_url(path: str) -> str:
    """The URL of a logical path: hashed in production, plain in development mode; absolute
    on the CDN's host when ``STATIC_URL`` names one."""
    # When the middlewares' url_base option lands (branch nginx), read_settings() passes the
    # origin as url_base= and this prefixing goes.
    return url_origin() + assets().static_url(path)


def integrity(path: str) -> str:
    """The Subresource Integrity value (``sha384-…``) of a logical path."""
    return assets().integrity(path)


register.simple_tag(static_url)
register.simple_tag(integrity)
