"""staticserve: fingerprinted, precompressed static assets, served right by any ASGI/WSGI app."""

from __future__ import annotations

from .asgi import StaticServe
from .build import BuildConfig, BuildReport, build
from .errors import BrokenReference, BuildError, ConfigError, ManifestError, StaticServeError
from .manifest import Asset, Manifest
from .wsgi import StaticServeWSGI

__version__ = "0.1.0"

__all__ = [
    "Asset",
    "BrokenReference",
    "BuildConfig",
    "BuildError",
    "BuildReport",
    "ConfigError",
    "Manifest",
    "ManifestError",
    "StaticServe",
    "StaticServeError",
    "StaticServeWSGI",
    "__version__",
    "build",
]
