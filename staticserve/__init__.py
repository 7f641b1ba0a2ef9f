"""staticserve: fingerprinted, precompressed static assets, served right by any ASGI/WSGI app."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import BrokenReference, BuildError, ConfigError, ManifestError, StaticServeError
from .manifest import Asset, Manifest
from .pipeline import BuildConfig, BuildReport, ListedFile, build

if TYPE_CHECKING:
    from .asgi import StaticServe
    from .nginx import nginx_conf
    from .upload import PublishReport, publish
    from .wsgi import StaticServeWSGI

__version__ = "0.1.0"

__all__ = [
    "Asset",
    "BrokenReference",
    "BuildConfig",
    "BuildError",
    "BuildReport",
    "ConfigError",
    "ListedFile",
    "Manifest",
    "ManifestError",
    "PublishReport",
    "StaticServe",
    "StaticServeError",
    "StaticServeWSGI",
    "__version__",
    "build",
    "nginx_conf",
    "publish",
]

# The middlewares are imported on first use, so the ``staticserve`` command (a build, often a
# no-op one in a deploy script) does not pay for asyncio and the serving code at every start.
# ``publish`` (the optional object-storage upload) and ``nginx_conf`` likewise.
_MIDDLEWARES = {
    "StaticServe": ".asgi",
    "StaticServeWSGI": ".wsgi",
    "nginx_conf": ".nginx",
    "PublishReport": ".upload",
    "publish": ".upload",
}


def __dir__() -> list[str]:
    return sorted({*globals(), *_MIDDLEWARES})  # the lazy ones too, as imported ones are


def __getattr__(name: str) -> Any:
    module = _MIDDLEWARES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value
