"""The middlewares' options: their names, types, defaults and checks, and the header rules.

An option is declared here and nowhere else: a line in :class:`ServeKeywords` (what the
``StaticServe`` and ``StaticServeWSGI`` constructors accept, as editors and type checkers see
it) and a field in :class:`ServeOptions` (its default and its check). The middlewares pass the
keywords straight into ``ServeOptions``; the catalog and the development finder read it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, TypedDict
from urllib.parse import urlsplit

from .core.response import Header
from .errors import ConfigError

if TYPE_CHECKING:  # for the type of ``config`` only: serving never imports the build
    from .pipeline.config import BuildConfig

__all__ = [
    "KEYWORDS",
    "MEMORY_LIMIT",
    "MEMORY_TOTAL",
    "OUTPUT_DIR",
    "PREFIX",
    "HeaderRules",
    "ServeKeywords",
    "ServeOptions",
    "SourceLookup",
    "header_rules",
    "matching_headers",
]

OUTPUT_DIR = "static_build"  # the build's default output folder: what ``root`` defaults to
PREFIX = "/static"  # the URL path the build is served under
MEMORY_LIMIT = 64 * 1024  # files up to this size are served from memory ...
MEMORY_TOTAL = 32 * 1024 * 1024  # ... until this many bytes are held, the most requested
# larger files included
_URL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/")
_FIELD_NAME = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")

HeaderRules = tuple[tuple[str, tuple[Header, ...]], ...]
# Development mode's alternative to a build configuration: a logical path in, the file that
# holds it out (None: no such file). Django's staticfiles finders are one.
SourceLookup = Callable[[str], str | os.PathLike[str] | None]


class ServeKeywords(TypedDict, total=False):
    """The keywords both middlewares take after ``app, root, prefix`` (each a ServeOptions field)."""

    max_age: int
    allow_origin: str | None
    headers: Mapping[str, Mapping[str, str]] | None
    fall_through: bool
    memory_limit: int
    memory_total: int
    index_file: str | None
    reload_interval: float
    dev: bool
    config: BuildConfig | str | os.PathLike[str] | None
    dev_sources: SourceLookup | None
    url_base: str | None


KEYWORDS = frozenset(ServeKeywords.__annotations__)  # the names, for checks at run time


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """How the middleware serves; validated on construction (``ConfigError``).

    ``prefix`` is normalised to ``/static`` form (``""`` for the site root). ``max_age`` is the
    cache lifetime of unhashed URLs. ``headers`` maps a glob over logical paths (``fonts/*``,
    ``*.woff2``; a bare ``.woff2`` means ``*.woff2``) to extra response fields, which replace
    defaults of the same name; it is copied into a dict (None: none). ``fall_through``: requests
    under the prefix that match no file go to the app (else 404). Files up to ``memory_limit``
    bytes are held in memory until ``memory_total`` bytes are; the most requested larger files
    are kept in what is left (see :mod:`staticserve.held`). ``index_file`` (``index.html``)
    answers for its folder's URL. A newly published build is looked for every
    ``reload_interval`` seconds (0: never). ``dev=True`` serves the source folders of the build
    configuration ``config`` (a :class:`BuildConfig`, a TOML file, or None for
    ``pyproject.toml`` in the working directory) as they are, uncached, and needs no build;
    or, when ``dev_sources`` is given, the files that function names for each logical path
    (the Django integration passes Django's staticfiles finders).
    ``url_base`` (``https://cdn.example.com/static/``) makes ``static_url`` answer absolute URLs
    on that base in production, for a CDN or bucket that holds the build; requests under
    ``prefix`` are still served (a CDN's origin). Normalised to end with ``/``.
    """

    prefix: str = PREFIX
    max_age: int = 60
    allow_origin: str | None = "*"
    headers: Mapping[str, Mapping[str, str]] | None = None
    fall_through: bool = True
    memory_limit: int = MEMORY_LIMIT
    memory_total: int = MEMORY_TOTAL
    index_file: str | None = None
    reload_interval: float = 1.0
    dev: bool = False
    config: BuildConfig | str | os.PathLike[str] | None = None
    dev_sources: SourceLookup | None = None
    url_base: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix", _normalise_prefix(self.prefix))
        if self.url_base is not None:
            object.__setattr__(self, "url_base", _checked_url_base(self.url_base))
        # A copy: the caller may change its dict later, the middleware has prepared its answers.
        object.__setattr__(self, "headers", dict(self.headers or {}))
        for name in ("max_age", "memory_limit", "memory_total"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be a whole number >= 0, not {value!r}")
        if not isinstance(self.reload_interval, (int, float)) or self.reload_interval < 0:
            raise ConfigError(
                f"reload_interval must be >= 0 seconds (0 disables reloading), "
                f"not {self.reload_interval!r}"
            )
        if self.dev_sources is not None and not callable(self.dev_sources):
            raise ConfigError(
                f"dev_sources must be a function of a logical path, not {self.dev_sources!r}"
            )
        if self.index_file is not None and not _is_file_name(self.index_file):
            raise ConfigError(f"index_file must be a plain file name, not {self.index_file!r}")
        if self.allow_origin is not None:
            if not isinstance(self.allow_origin, str):
                raise ConfigError(
                    "allow_origin must be '*', one origin such as 'https://example.com' or "
                    f"None, not {self.allow_origin!r}"
                )
            _check_field("Access-Control-Allow-Origin", self.allow_origin)
        for fields in (self.headers or {}).values():
            for name, value in fields.items():
                _check_field(name, value)

    @property
    def mount(self) -> str:
        """Every served URL path starts with this (``/static/``)."""
        return self.prefix + "/"


def _normalise_prefix(prefix: str) -> str:
    cleaned = "/" + prefix.strip("/") if prefix.strip("/") else ""
    if not set(cleaned) <= _URL_SAFE or "//" in cleaned or "/." in cleaned:
        raise ConfigError(
            f"prefix {prefix!r} must be a plain URL path such as '/static' "
            "(letters, digits, '-', '.', '_', '~' and '/')"
        )
    return cleaned


_URL_BASE_EXAMPLE = "'https://cdn.example.com/static/' or '//cdn.example.com/static/'"


def _checked_url_base(value: object) -> str:
    """An absolute http(s) or scheme-relative URL, ending with "/" (the base of hashed paths)."""
    problem = f"url_base must be an absolute URL such as {_URL_BASE_EXAMPLE}, not {value!r}"
    if not isinstance(value, str):
        raise ConfigError(problem)
    if not value.isascii() or not value.isprintable() or any(c in value for c in ' "<>\\'):
        raise ConfigError(problem + " (no spaces, quotes or non-ASCII characters)")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https", "") or not parts.netloc or "@" in parts.netloc:
        raise ConfigError(problem)
    if not value.startswith(("http://", "https://", "//")):
        raise ConfigError(problem)
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ConfigError(problem + " (no query or fragment: hashed paths are appended to it)")
    return value if value.endswith("/") else value + "/"


def _is_file_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and not name.startswith(".")


def _check_field(name: str, value: str) -> None:
    if not name or not set(name.lower()) <= _FIELD_NAME:
        raise ConfigError(f"{name!r} is not a valid HTTP header name")
    if any(c in value for c in "\r\n\0") or not value.isprintable() or not value.isascii():
        raise ConfigError(f"the value of header {name!r} must be printable ASCII: {value!r}")


def header_rules(option: Mapping[str, Mapping[str, str]] | None) -> HeaderRules:
    """The ``headers`` option as (glob, encoded fields) pairs."""
    return tuple(
        (
            "*" + pattern if pattern.startswith(".") and "/" not in pattern else pattern,
            tuple((k.lower().encode("ascii"), v.encode("ascii")) for k, v in fields.items()),
        )
        for pattern, fields in (option or {}).items()
    )


def matching_headers(rules: HeaderRules, logical: str) -> list[Header]:
    """The extra fields for a logical path: those of every rule whose glob matches it."""
    return [pair for pattern, fields in rules if fnmatchcase(logical, pattern) for pair in fields]
