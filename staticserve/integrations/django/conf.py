"""What staticserve serves in a Django project: read from Django's settings, checked once.

By default everything comes from the settings a Django project already has: the build is in
``STATIC_ROOT``, URLs start with the path of ``STATIC_URL`` (which may be a CDN's absolute URL:
the path is still served, for the CDN to pull from), and ``DEBUG`` turns on development mode,
where files come straight from Django's staticfiles finders. An absolute ``STATIC_URL`` is the
``url_base`` option: pages link the CDN, which pulls from the served path. ``settings.STATICSERVE`` is
optional; each of its keys overrides one of these or sets a middleware option.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ...errors import ConfigError
from ...options import KEYWORDS, OUTPUT_DIR, PREFIX, ServeOptions
from .serving import record_serving
from .sources import find_source

if TYPE_CHECKING:
    from ...middleware import MiddlewareBase

__all__ = [
    "SETTING_KEYS",
    "ServeSettings",
    "SettingError",
    "read_settings",
    "serving",
]

# What settings.STATICSERVE may hold: the middleware's root, prefix and keywords, except the
# development lookup, which this integration fills in with Django's finders.
SETTING_KEYS = frozenset({"root", "prefix"}) | (KEYWORDS - {"dev_sources"})


class SettingError(ConfigError):
    """A setting staticserve cannot use; ``check_id`` names the system check that reports it."""

    def __init__(self, check_id: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.check_id = check_id
        self.hint = hint


@dataclass(frozen=True)
class ServeSettings:
    """The middleware's arguments."""

    root: str | os.PathLike[str] | None  # None only in development mode
    prefix: str
    keywords: dict[str, Any] = field(default_factory=dict)

    @property
    def dev(self) -> bool:
        return bool(self.keywords.get("dev"))

    @property
    def uses_finders(self) -> bool:
        """Development mode over Django's finders (not over a staticserve config file)."""
        return self.keywords.get("dev_sources") is not None

    def arguments(self) -> dict[str, Any]:
        """``root``, ``prefix`` and the keywords, for a middleware's constructor."""
        root = OUTPUT_DIR if self.root is None else self.root  # unread in development mode
        return {"root": root, "prefix": self.prefix, **self.keywords}


def read_settings() -> ServeSettings:
    """The serving settings, from STATIC_ROOT, STATIC_URL, DEBUG and STATICSERVE (a
    :class:`SettingError` says what is wrong)."""
    from django.conf import settings

    options = getattr(settings, "STATICSERVE", None)
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise SettingError(
            "staticserve.E001",
            f"settings.STATICSERVE must be a dict of staticserve options, not {options!r}",
        )
    unknown = sorted(set(options) - SETTING_KEYS)
    if unknown:
        known = ", ".join(sorted(SETTING_KEYS))
        raise SettingError(
            "staticserve.E002",
            f"settings.STATICSERVE: unknown option {unknown[0]!r} (known: {known})",
        )
    keywords = {k: v for k, v in options.items() if k not in ("root", "prefix")}
    static_url = _static_url_as_written(settings)
    if static_url is not None and not isinstance(static_url, str):
        raise SettingError("staticserve.E003", "STATIC_URL must be a string such as '/static/'")
    url = urlsplit(static_url or "")
    # The served path is relative to the mount point (SCRIPT_NAME), as request.path_info is.
    path = url.path if not url.path or url.path.startswith("/") else "/" + url.path
    prefix = options.get("prefix", path or PREFIX)
    root = options.get("root", getattr(settings, "STATIC_ROOT", None))
    if root is not None and not isinstance(root, (str, os.PathLike)):
        name = "STATICSERVE['root']" if "root" in options else "STATIC_ROOT"
        raise SettingError("staticserve.E003", f"{name} must be a path, not {root!r}")
    # An absolute STATIC_URL is how a Django project says its static files live on a CDN:
    # URLs name it (in production), and its path is still served, for the CDN to pull from.
    if url.netloc and "url_base" not in keywords:
        keywords["url_base"] = static_url
    keywords.setdefault("dev", bool(getattr(settings, "DEBUG", False)))
    if keywords["dev"] is True and keywords.get("config") is None:
        keywords["dev_sources"] = find_source
    try:
        ServeOptions(prefix=prefix, **keywords)
    except (ConfigError, TypeError) as exc:
        raise SettingError("staticserve.E003", f"settings.STATICSERVE: {exc}") from None
    if root is None and not keywords["dev"]:
        raise SettingError(
            "staticserve.E004",
            "STATIC_ROOT is not set: staticserve serves the build there when DEBUG is False",
            "set STATIC_ROOT = BASE_DIR / 'staticfiles' and run manage.py collectstatic",
        )
    return ServeSettings(root, prefix, keywords)


def _static_url_as_written(settings: Any) -> object:
    """``STATIC_URL`` as the settings module writes it. Not ``settings.STATIC_URL``: Django
    puts the script prefix of the moment before a relative one and keeps the result, so read
    at start-up (no request yet, prefix ``/``) it would make every later ``{% static %}`` of a
    site under a sub-path (``SCRIPT_NAME``, ``root_path``) lack that sub-path."""
    getattr(settings, "DEBUG", None)  # set the settings up, which a first read does
    return getattr(getattr(settings, "_wrapped", settings), "STATIC_URL", None)


_lock = threading.Lock()
_serving: MiddlewareBase | None = None


def serving() -> MiddlewareBase:
    """The one object per process that serves from settings (catalog or finders) and answers the
    template helpers: the Django middleware's, or the wrapper's when the app is wrapped."""
    global _serving
    if _serving is None:
        from ...middleware import MiddlewareBase

        with _lock:
            if _serving is None:
                _serving = use(MiddlewareBase(**read_settings().arguments()))
    return _serving


def use(middleware: MiddlewareBase) -> MiddlewareBase:
    """Make ``middleware`` the one the template helpers ask (a wrapper made from settings)."""
    global _serving
    _serving = middleware
    record_serving(middleware)  # ManifestStorage asks it for URLs too
    middleware.pinning = True  # the template tags ask it: one build per rendered page
    return middleware


def forget() -> None:
    """Drop the serving object (tests that change settings; Django's setting_changed)."""
    global _serving
    with _lock:
        _serving = None
