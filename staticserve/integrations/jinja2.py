"""Jinja2 globals: ``{{ static_url('css/app.css') }}`` and ``{{ integrity('css/app.css') }}``.

Works for any Jinja2 environment: Starlette's ``Jinja2Templates(...).env``, Flask's
``app.jinja_env``, or a plain ``jinja2.Environment``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..middleware import MiddlewareBase
from . import AssetUrls

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = ["install"]


def install(environment: Environment, assets: AssetUrls) -> None:
    """Add ``static_url`` and ``integrity`` to the environment's globals.

    With a middleware, every page then takes both from one build, even when a deploy lands
    while it renders, and ``static_url`` gives the middleware's URLs: absolute ones on its
    ``url_base`` (a CDN) when it has one.
    """
    if isinstance(assets, MiddlewareBase):
        assets.pinning = True
    environment.globals["static_url"] = assets.static_url
    environment.globals["integrity"] = assets.integrity
