"""Build configuration: ``[tool.staticserve]`` in pyproject.toml, overridden by keywords of
``build()`` or by CLI flags -- three ways in, one check per setting (``_CHECKS``)."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..manifest import ENCODING_SUFFIXES

__all__ = [
    "CACHE_DIR_ENV",
    "DEFAULT_CACHE_MAX_SIZE",
    "DEFAULT_IGNORE",
    "KEYS",
    "BuildConfig",
    "Source",
    "load_config",
    "parse_duration",
    "parse_source",
]

# The persistent compression cache: where it is when no flag or keyword says (an empty value:
# nowhere), and how large it may grow before the least recently used entries go.
CACHE_DIR_ENV = "STATICSERVE_CACHE_DIR"
DEFAULT_CACHE_MAX_SIZE = 1024**3

# Never worth publishing: dotfiles (which also covers .git, .DS_Store), editor backups, caches.
DEFAULT_IGNORE: tuple[str, ...] = (".*", "*~", "#*#", "__pycache__", "*.pyc", "*.pyo", "*.swp")


@dataclass(frozen=True, slots=True)
class Source:
    """A folder of assets published under ``prefix`` (``""`` for the output root).

    ``path`` may be given as a str or any path-like; ``prefix`` is cleaned of surplus slashes.
    """

    path: Path
    prefix: str = ""
    package: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.path, (str, os.PathLike)):
            raise ConfigError(f"sources: a source's path must be a folder path, got {self.path!r}")
        if not isinstance(self.prefix, str):
            raise ConfigError(f"sources: a prefix must be a string, got {self.prefix!r}")
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "prefix", _clean_prefix(self.prefix))

    @property
    def label(self) -> str:
        return f"package {self.package}" if self.package else str(self.path)


@dataclass(frozen=True, slots=True)
class BuildConfig:
    """Everything a build needs. Relative paths are resolved against ``base_dir``.

    Every field is checked, and normalised (a str path becomes a Path, a list a tuple), by the
    one table :data:`_CHECKS`, whichever way the value came: the config file, a keyword of
    :func:`staticserve.build` or a command-line flag -- so the three give the same messages.
    The fields other than ``base_dir`` are the keys of ``[tool.staticserve]``, with the same
    meaning: ``ignore`` holds the patterns added to :data:`DEFAULT_IGNORE` (dropped when
    ``ignore_defaults`` is false); :attr:`ignore_patterns` is what applies.
    """

    sources: tuple[Source, ...] = ()
    packages: tuple[str, ...] = ()
    output: Path = Path("static_build")
    prefix: str = "/static/"
    ignore: tuple[str, ...] = ()
    ignore_defaults: bool = True
    encodings: tuple[str, ...] = ("br", "gzip")
    keep: int = 3
    keep_age: int = 0  # seconds; "1h", "30m", "2d" in the file, on the command line and as keywords
    strict: bool = False
    jobs: int = 0
    rewrite_js: bool = True
    min_size: int = 0  # every file is tried; MAX_RATIO decides what is kept, as WhiteNoise does
    fingerprinted: tuple[str, ...] = ()  # regular expressions: names a bundler hashed already
    cache_dir: Path | None = None  # the persistent compression cache, outside the output
    cache_max_size: int = DEFAULT_CACHE_MAX_SIZE  # bytes; least recently used entries go first
    base_dir: Path = field(default_factory=Path.cwd)

    def __post_init__(self) -> None:
        for setting in fields(self):
            checked = _CHECKS[setting.name](setting.name, getattr(self, setting.name))
            object.__setattr__(self, setting.name, checked)

    @property
    def output_dir(self) -> Path:
        return _absolute(self.base_dir, self.output)

    @property
    def cache_path(self) -> Path | None:
        """The persistent compression cache's folder, absolute; None when there is none."""
        return None if self.cache_dir is None else _absolute(self.base_dir, self.cache_dir)

    @property
    def ignore_patterns(self) -> tuple[str, ...]:
        return (DEFAULT_IGNORE if self.ignore_defaults else ()) + self.ignore

    @property
    def worker_count(self) -> int:
        return self.jobs or os.cpu_count() or 1

    def with_overrides(self, **overrides: Any) -> BuildConfig:
        """A copy with the given settings replaced; ``None`` values are ignored."""
        given = {k: v for k, v in overrides.items() if v is not None}
        for key in given:
            if key not in _CHECKS:
                raise ConfigError(_unknown(key))
        return replace(self, **given)


def _check_pattern(pattern: object) -> None:
    if not isinstance(pattern, str):
        raise ConfigError(f"fingerprinted: patterns must be strings, got {pattern!r}")
    if not pattern:
        raise ConfigError("fingerprinted: an empty pattern matches no file name; remove it")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ConfigError(
            f"fingerprinted: {pattern!r} is not a valid regular expression ({exc})"
        ) from None


def _absolute(base: Path, path: Path) -> Path:
    return path if path.is_absolute() else base / path


# -- checking settings: one function per kind of value ------------------------------------------

_Check = Callable[[str, Any], Any]


def _invalid(key: str, expected: str, value: object) -> ConfigError:
    return ConfigError(f"{key}: must be {expected}, got {value!r}")


def _flag(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _invalid(key, "true or false", value)
    return value


def _count(unit: str, minimum: int, at_least: str) -> _Check:
    """A whole number of ``unit`` no smaller than ``minimum`` (``at_least`` in words)."""

    def check(key: str, value: object) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _invalid(key, f"a whole number of {unit}", value)
        if value < minimum:
            raise _invalid(key, at_least, value)
        return value

    return check


# Unit -> seconds, for durations such as "90s", "30m", "1h", "2d", "1w" or "1h30m".
DURATION_UNITS: Mapping[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(?:\d+[smhdw])+")


def parse_duration(key: str, value: object) -> int:
    """A duration in whole seconds: ``"1h"``, ``"30m"``, ``"2d"``, ``"1h30m"``, or a number of
    seconds (``0``: none)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text == "0":
        return 0
    if text is None or not _DURATION.fullmatch(text):
        raise _invalid(key, "a duration such as '30m', '1h', '2d' or '1h30m' (0: none)", value)
    return sum(
        int(number) * DURATION_UNITS[unit] for number, unit in re.findall(r"(\d+)([smhdw])", text)
    )


def _folder(key: str, value: object) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise _invalid(key, "a folder path", value)
    return Path(value)


def _optional_folder(key: str, value: object) -> Path | None:
    if value is None:
        return None
    if isinstance(value, str) and not value:
        raise _invalid(key, "a folder path (leave it out for none)", value)
    return _folder(key, value).expanduser()  # "~/.cache/staticserve" in a file means it too


def _url_prefix(key: str, value: object) -> str:
    if not isinstance(value, str) or not value.startswith("/") or "//" in value or "?" in value:
        raise _invalid(key, "a URL path such as '/static/'", value)
    return value if value.endswith("/") else value + "/"


def _strings(what: str) -> _Check:
    def check(key: str, value: object) -> tuple[str, ...]:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise _invalid(key, f"a list of {what}", value)
        return tuple(str(v) for v in value)

    return check


def _encodings(key: str, value: object) -> tuple[str, ...]:
    known = ", ".join(ENCODING_SUFFIXES)
    names: tuple[str, ...] = _strings(f"encodings ({known})")(key, value)
    for name in names:
        if name not in ENCODING_SUFFIXES:
            raise ConfigError(f"{key}: unknown encoding {name!r} (known: {known})")
    return names


def _sources(key: str, value: object) -> tuple[Source, ...]:
    if not isinstance(value, (list, tuple)):
        raise _invalid(key, "a list of folder paths or {path, prefix} tables", value)
    return tuple(_source(key, entry) for entry in value)


def _source(key: str, entry: object) -> Source:
    if isinstance(entry, Source):
        return entry
    if isinstance(entry, (str, os.PathLike)):
        return Source(Path(entry))
    if isinstance(entry, Mapping) and isinstance(entry.get("path"), (str, os.PathLike)):
        unknown = sorted(set(entry) - {"path", "prefix"})
        if unknown:
            raise ConfigError(f"{key}: unknown key {unknown[0]!r} in a {{path, prefix}} table")
        return Source(Path(entry["path"]), entry.get("prefix", ""))
    raise ConfigError(
        f"{key}: an entry must be a folder path or a {{path, prefix}} table, got {entry!r}"
    )


def _patterns(key: str, value: object) -> tuple[str, ...]:
    """Regular expressions, each compiled once here so that a bad one is named at once."""
    if not isinstance(value, (list, tuple)):
        raise _invalid(key, "a list of regular expressions matching whole logical paths", value)
    for pattern in value:
        _check_pattern(pattern)
    return tuple(value)


def _clean_prefix(prefix: str) -> str:
    parts = [p for p in prefix.replace("\\", "/").split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ConfigError(f"sources: a prefix may not contain '.' or '..', got {prefix!r}")
    return "/".join(parts)


# setting -> its check. The keys of [tool.staticserve] are all of them but base_dir (the
# folder of the file that holds the table).
_CHECKS: Mapping[str, _Check] = {
    "sources": _sources,
    "packages": _strings("package names"),
    "output": _folder,
    "prefix": _url_prefix,
    "ignore": _strings("glob patterns"),
    "ignore_defaults": _flag,
    "encodings": _encodings,
    "keep": _count("builds", 1, "at least 1"),
    "keep_age": parse_duration,
    "strict": _flag,
    "jobs": _count("threads (0: all cores)", 0, "0 (all cores) or more"),
    "rewrite_js": _flag,
    "min_size": _count("bytes", 0, "0 or more"),
    "fingerprinted": _patterns,
    "cache_dir": _optional_folder,
    "cache_max_size": _count("bytes", 0, "0 or more"),
    "base_dir": _folder,
}
KEYS: tuple[str, ...] = tuple(sorted(set(_CHECKS) - {"base_dir"}))


def _unknown(key: str) -> str:
    return f"unknown key {key!r} (known keys: {', '.join(KEYS)})"


# -- loading ----------------------------------------------------------------------------------


def load_config(
    path: str | os.PathLike[str] | None = None, *, start: Path | None = None
) -> BuildConfig:
    """Read ``[tool.staticserve]`` from ``path``, or from ``pyproject.toml`` in ``start`` (default: cwd).

    A missing default pyproject.toml (or one without the table) gives the defaults; a missing
    explicit ``path`` is an error. ``STATICSERVE_CACHE_DIR``, when set and not empty, replaces
    the file's ``cache_dir`` (a relative one is relative to the working folder, as for a flag);
    keywords and flags, applied after, replace both.
    """
    config = _load_file(path, start)
    cache_dir = os.environ.get(CACHE_DIR_ENV, "")
    if not cache_dir:
        return config
    try:
        return replace(config, cache_dir=Path.cwd() / Path(cache_dir).expanduser())
    except ConfigError as exc:
        raise ConfigError(f"{CACHE_DIR_ENV}: {exc}") from None


def _load_file(path: str | os.PathLike[str] | None, start: Path | None) -> BuildConfig:
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"--config {file}: no such file")
    else:
        file = (start or Path.cwd()) / "pyproject.toml"
        if not file.is_file():
            return BuildConfig(base_dir=file.parent.resolve())
    if sys.version_info >= (3, 11):
        import tomllib  # here: a build without a pyproject.toml spares the import
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from None
    table = data.get("tool", {}).get("staticserve", {})
    return config_from_table(table, base_dir=file.parent.resolve(), origin=str(file))


def config_from_table(
    table: Mapping[str, Any], *, base_dir: Path, origin: str = "configuration"
) -> BuildConfig:
    """Validate a ``[tool.staticserve]`` table into a BuildConfig."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{origin}: [tool.staticserve] must be a table")
    try:
        for key in table:
            if key not in KEYS:
                raise ConfigError(_unknown(key))
        return BuildConfig(**table, base_dir=base_dir)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: [tool.staticserve] {exc}") from None


def parse_source(spec: str) -> Source:
    """A CLI source: ``DIR`` or ``DIR=PREFIX`` (e.g. ``vendor/bootstrap/dist=bootstrap``)."""
    path, _, prefix = spec.partition("=")
    if not path:
        raise ConfigError(f"--source {spec!r}: expected DIR or DIR=PREFIX")
    return Source(Path(path), prefix)
