"""``{% load staticserve %}``: ``{% static_url "css/app.css" %}`` and ``{% integrity "..." %}``."""

from __future__ import annotations

from django import template

from .. import assets

register = template.Library()


def static_url(path: str) -> str:
    """The URL of a logical path: hashed in production, plain in development mode."""
    return assets().static_url(path)


def integrity(path: str) -> str:
    """The Subresource Integrity value (``sha384-…``) of a logical path."""
    return assets().integrity(path)


register.simple_tag(static_url)
register.simple_tag(integrity)
