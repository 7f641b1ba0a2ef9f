"""Build configuration: ``[tool.staticserve]`` in pyproject.toml, overridden by CLI flags."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..manifest import ENCODING_SUFFIXES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["DEFAULT_IGNORE", "BuildConfig", "Source", "load_config"]

# Never worth publishing: dotfiles (which also covers .git, .DS_Store), editor backups, caches.
DEFAULT_IGNORE: tuple[str, ...] = (".*", "*~", "#*#", "__pycache__", "*.pyc", "*.pyo", "*.swp")


@dataclass(frozen=True, slots=True)
class Source:
    """A folder of assets published under ``prefix`` (``""`` for the output root)."""

    path: Path
    prefix: str = ""
    package: str | None = None

    @property
    def label(self) -> str:
        return f"package {self.package}" if self.package else str(self.path)


@dataclass(frozen=True, slots=True)
class BuildConfig:
    """Everything a build needs. Relative paths are resolved against ``base_dir``."""

    sources: tuple[Source, ...] = ()
    packages: tuple[str, ...] = ()
    output: Path = Path("static_build")
    prefix: str = "/static/"
    ignore: tuple[str, ...] = DEFAULT_IGNORE
    encodings: tuple[str, ...] = ("br", "gzip")
    keep: int = 3
    strict: bool = False
    jobs: int = 0
    rewrite_js: bool = True
    min_size: int = 0  # every file is tried; MAX_RATIO decides what is kept, as WhiteNoise does
    fingerprinted: tuple[str, ...] = ()  # regular expressions: names a bundler hashed already
    base_dir: Path = field(default_factory=Path.cwd)

    def __post_init__(self) -> None:
        bad = [e for e in self.encodings if e not in ENCODING_SUFFIXES]
        if bad:
            known = ", ".join(ENCODING_SUFFIXES)
            raise ConfigError(f"encodings: unknown encoding {bad[0]!r} (known: {known})")
        if self.keep < 1:
            raise ConfigError(f"keep: must be at least 1, got {self.keep}")
        if self.jobs < 0:
            raise ConfigError(f"jobs: must be 0 (all cores) or more, got {self.jobs}")
        if self.min_size < 0:
            raise ConfigError(f"min_size: must be 0 or more, got {self.min_size}")
        if not self.prefix.startswith("/") or "//" in self.prefix or "?" in self.prefix:
            raise ConfigError(f"prefix: must be a URL path such as '/static/', got {self.prefix!r}")
        if not self.prefix.endswith("/"):
            object.__setattr__(self, "prefix", self.prefix + "/")
        object.__setattr__(self, "fingerprinted", tuple(self.fingerprinted))
        for pattern in self.fingerprinted:
            _check_pattern(pattern)

    @property
    def output_dir(self) -> Path:
        return _absolute(self.base_dir, self.output)

    @property
    def worker_count(self) -> int:
        return self.jobs or os.cpu_count() or 1

    def with_overrides(self, **overrides: Any) -> BuildConfig:
        """A copy with the given settings replaced; ``None`` values are ignored."""
        given = {k: v for k, v in overrides.items() if v is not None}
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


# -- loading ----------------------------------------------------------------------------------

# key -> (expected Python type(s), human description)
_KEYS: Mapping[str, tuple[tuple[type, ...], str]] = {
    "sources": ((list,), "a list of folder paths or {path, prefix} tables"),
    "packages": ((list,), "a list of importable package names"),
    "output": ((str,), "a folder path"),
    "prefix": ((str,), "a URL path such as '/static/'"),
    "ignore": ((list,), "a list of glob patterns"),
    "ignore_defaults": ((bool,), "true or false"),
    "encodings": ((list,), "a list of encodings (br, gzip, zstd)"),
    "keep": ((int,), "a whole number of builds"),
    "strict": ((bool,), "true or false"),
    "jobs": ((int,), "a whole number of processes (0: all cores)"),
    "rewrite_js": ((bool,), "true or false"),
    "min_size": ((int,), "a size in bytes"),
    "fingerprinted": ((list,), "a list of regular expressions matching whole logical paths"),
}


def load_config(
    path: str | os.PathLike[str] | None = None, *, start: Path | None = None
) -> BuildConfig:
    """Read ``[tool.staticserve]`` from ``path``, or from ``pyproject.toml`` in ``start`` (default: cwd).

    A missing default pyproject.toml (or one without the table) gives the defaults; a missing
    explicit ``path`` is an error.
    """
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"--config {file}: no such file")
    else:
        file = (start or Path.cwd()) / "pyproject.toml"
        if not file.is_file():
            return BuildConfig(base_dir=file.parent.resolve())
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
    for key, value in table.items():
        if key not in _KEYS:
            known = ", ".join(sorted(_KEYS))
            raise ConfigError(f"{origin}: unknown key tool.staticserve.{key} (known keys: {known})")
        types, description = _KEYS[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ConfigError(
                f"{origin}: tool.staticserve.{key} must be {description}, got {value!r}"
            )
    settings: dict[str, Any] = {"base_dir": base_dir}
    if "sources" in table:
        settings["sources"] = tuple(_source(item, origin) for item in table["sources"])
    for key in ("packages", "encodings", "fingerprinted"):
        if key in table:
            settings[key] = tuple(_strings(table[key], key, origin))
    extra_ignore = tuple(_strings(table.get("ignore", []), "ignore", origin))
    defaults = DEFAULT_IGNORE if table.get("ignore_defaults", True) else ()
    settings["ignore"] = defaults + extra_ignore
    if "output" in table:
        settings["output"] = Path(table["output"])
    for key in ("prefix", "keep", "strict", "jobs", "rewrite_js", "min_size"):
        if key in table:
            settings[key] = table[key]
    names = {f.name for f in fields(BuildConfig)}
    try:
        return BuildConfig(**{k: v for k, v in settings.items() if k in names})
    except ConfigError as exc:
        raise ConfigError(f"{origin}: tool.staticserve.{exc}") from None


def parse_source(spec: str) -> Source:
    """A CLI source: ``DIR`` or ``DIR=PREFIX`` (e.g. ``vendor/bootstrap/dist=bootstrap``)."""
    path, _, prefix = spec.partition("=")
    if not path:
        raise ConfigError(f"--source {spec!r}: expected DIR or DIR=PREFIX")
    return Source(Path(path), _clean_prefix(prefix, f"--source {spec!r}"))


def _source(item: object, origin: str) -> Source:
    if isinstance(item, str):
        return Source(Path(item))
    if isinstance(item, Mapping) and isinstance(item.get("path"), str):
        unknown = set(item) - {"path", "prefix"}
        if unknown:
            raise ConfigError(f"{origin}: unknown key {sorted(unknown)[0]!r} in a source table")
        prefix = item.get("prefix", "")
        if not isinstance(prefix, str):
            raise ConfigError(f"{origin}: a source's prefix must be a string, got {prefix!r}")
        return Source(Path(item["path"]), _clean_prefix(prefix, origin))
    raise ConfigError(
        f"{origin}: tool.staticserve.sources entries must be a path or a table with 'path' "
        f"(and optional 'prefix'), got {item!r}"
    )


def _clean_prefix(prefix: str, origin: str) -> str:
    parts = [p for p in prefix.replace("\\", "/").split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ConfigError(f"{origin}: a source prefix may not contain '.' or '..' ({prefix!r})")
    return "/".join(parts)


def _strings(values: Sequence[object], key: str, origin: str) -> list[str]:
    if not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{origin}: tool.staticserve.{key} must be a list of strings")
    return [str(v) for v in values]
