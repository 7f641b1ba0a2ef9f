"""``{% load staticserve %}``: ``{% static_url "css/app.css" %}`` and ``{% integrity "..." %}``."""

from __future__ import annotations

from django import template

from ..conf import serving

register = template.Library()


def static_url(path: str) -> str:
    """The URL of a logical path: hashed in production (on the CDN when ``STATIC_URL`` names
    one: the ``url_base`` option), plain and local in development mode."""
    return serving().static_url(path)


def integrity(path: str) -> str:
    """The Subresource Integrity value (``sha384-…``) of a logical path."""
    return serving().integrity(path)


register.simple_tag(static_url)
register.simple_tag(integrity)
