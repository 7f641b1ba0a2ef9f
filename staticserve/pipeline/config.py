"""Build configuration: ``[tool.staticserve]`` in pyproject.toml, overridden by CLI flags."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..manifest import ENCODING_SUFFIXES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["DEFAULT_IGNORE", "BuildConfig", "Source", "apply_keywords", "load_config"]

# Never worth publishing: dotfiles (which also covers .git, .DS_Store), editor backups, caches.
DEFAULT_IGNORE: tuple[str, ...] = (".*", "*~", "#*#", "__pycache__", "*.pyc", "*.pyo", "*.swp")


@dataclass(frozen=True, slots=True)
class Source:
    """A folder of assets published under ``prefix`` (``""`` for the output root)."""

    path: Path
    prefix: str = ""
    package: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.path, Path):  # a str or os.PathLike from a caller
            object.__setattr__(self, "path", Path(self.path))

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
    base_dir: Path = field(default_factory=Path.cwd)

    def __post_init__(self) -> None:
        self._coerce()
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

    def _coerce(self) -> None:
        """Paths as Path (a str or os.PathLike is accepted), sequences as tuples, and a clear
        error for a number or flag of the wrong type (rather than a TypeError further on)."""
        for name in ("output", "base_dir"):
            if not isinstance(getattr(self, name), Path):
                object.__setattr__(self, name, Path(getattr(self, name)))
        sources = tuple(s if isinstance(s, Source) else Source(Path(s)) for s in self.sources)
        object.__setattr__(self, "sources", sources)
        for name in ("packages", "ignore", "encodings"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("keep", "jobs", "min_size", "strict", "rewrite_js"):
            value = getattr(self, name)
            wanted = bool if name in ("strict", "rewrite_js") else int
            if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
                raise ConfigError(f"{name}: must be {_KEYS[name][1]}, got {value!r}")

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


def _absolute(base: Path, path: Path) -> Path:
    return path if path.is_absolute() else base / path


# -- loading ----------------------------------------------------------------------------------

# key -> (expected Python type(s), human description). The same table checks the keys of
# [tool.staticserve] and the keywords of staticserve.build(); TOML never yields a tuple or an
# os.PathLike, Python callers often pass them.
_LIST = (list, tuple)
_KEYS: Mapping[str, tuple[tuple[type, ...], str]] = {
    "sources": (_LIST, "a list of folder paths or {path, prefix} tables"),
    "packages": (_LIST, "a list of importable package names"),
    "output": ((str, os.PathLike), "a folder path"),
    "prefix": ((str,), "a URL path such as '/static/'"),
    "ignore": (_LIST, "a list of glob patterns"),
    "ignore_defaults": ((bool,), "true or false"),
    "encodings": (_LIST, "a list of encodings (br, gzip, zstd)"),
    "keep": ((int,), "a whole number of builds"),
    "strict": ((bool,), "true or false"),
    "jobs": ((int,), "a whole number of threads (0: all cores)"),
    "rewrite_js": ((bool,), "true or false"),
    "min_size": ((int,), "a size in bytes"),
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
    _check_types(table, origin, "tool.staticserve.")
    settings = _settings(table, origin)
    extra_ignore = settings.pop("ignore", ())
    defaults = DEFAULT_IGNORE if table.get("ignore_defaults", True) else ()
    settings["ignore"] = defaults + extra_ignore
    try:
        return BuildConfig(base_dir=base_dir, **settings)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: tool.staticserve.{exc}") from None


def apply_keywords(
    config: BuildConfig, keywords: Mapping[str, Any], *, origin: str = "staticserve.build()"
) -> BuildConfig:
    """``config`` with settings given as keywords, each read as the same key of
    ``[tool.staticserve]`` is (``ignore`` adds to the default patterns), and checked with the
    same messages. ``None`` means "not given". Relative paths are relative to the current
    folder, as on the command line.
    """
    given = {key: value for key, value in keywords.items() if value is not None}
    _check_types(given, origin, "")
    settings = _settings(given, origin)
    here = Path.cwd()
    if "output" in settings:
        settings["output"] = here / settings["output"]
    if "sources" in settings:
        settings["sources"] = tuple(replace(s, path=here / s.path) for s in settings["sources"])
    if "ignore" in given or "ignore_defaults" in given:
        had_defaults = config.ignore[: len(DEFAULT_IGNORE)] == DEFAULT_IGNORE
        extra = config.ignore[len(DEFAULT_IGNORE) :] if had_defaults else config.ignore
        defaults = DEFAULT_IGNORE if given.get("ignore_defaults", had_defaults) else ()
        settings["ignore"] = defaults + settings.get("ignore", extra)
    try:
        return replace(config, **settings)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from None


def _check_types(table: Mapping[str, Any], origin: str, qualifier: str) -> None:
    for key, value in table.items():
        if key not in _KEYS:
            known = ", ".join(sorted(_KEYS))
            raise ConfigError(f"{origin}: unknown key {qualifier}{key} (known keys: {known})")
        types, description = _KEYS[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ConfigError(f"{origin}: {qualifier}{key} must be {description}, got {value!r}")


def _settings(table: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """BuildConfig fields from checked keys; ``ignore`` holds only the listed patterns."""
    settings: dict[str, Any] = {}
    if "sources" in table:
        settings["sources"] = tuple(_source(item, origin) for item in table["sources"])
    for key in ("packages", "encodings", "ignore"):
        if key in table:
            settings[key] = tuple(_strings(table[key], key, origin))
    if "output" in table:
        settings["output"] = Path(table["output"])
    for key in ("prefix", "keep", "strict", "jobs", "rewrite_js", "min_size"):
        if key in table:
            settings[key] = table[key]
    return settings


def parse_source(spec: str) -> Source:
    """A CLI source: ``DIR`` or ``DIR=PREFIX`` (e.g. ``vendor/bootstrap/dist=bootstrap``)."""
    path, _, prefix = spec.partition("=")
    if not path:
        raise ConfigError(f"--source {spec!r}: expected DIR or DIR=PREFIX")
    return Source(Path(path), _clean_prefix(prefix, f"--source {spec!r}"))


def _source(item: object, origin: str) -> Source:
    if isinstance(item, Source):  # from Python only
        return item
    if isinstance(item, (str, os.PathLike)):
        return Source(Path(item))
    if isinstance(item, Mapping) and isinstance(item.get("path"), (str, os.PathLike)):
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
