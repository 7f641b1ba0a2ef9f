"""The production catalog: a build's manifest turned into prepared resources, keyed by URL path.

All the work happens when a manifest is loaded: header blocks, validators and small files' bytes
are prepared once, so serving is one dictionary lookup. When a new build publishes a new manifest
the catalog notices (one ``stat`` at most every ``reload_interval`` seconds), prepares the new
build in a background thread and swaps it in with a single attribute assignment. The manifest
lists the earlier builds' retained files, so their hashed URLs keep working after the swap.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from time import monotonic
from types import MappingProxyType
from typing import BinaryIO

from .core.content_types import content_type_for
from .core.paths import url_path
from .core.plan import Lookup
from .core.resource import IDENTITY, IMMUTABLE, CachePolicy, Resource, VariantSource, build_resource
from .core.response import Body, FileSlice, Header
from .errors import ConfigError, ManifestError
from .manifest import MANIFEST_NAME, Asset, Manifest

__all__ = [
    "MEMORY_LIMIT",
    "MEMORY_TOTAL",
    "OUTPUT_DIR",
    "Catalog",
    "MiddlewareBase",
    "ServeOptions",
    "Snapshot",
    "open_slice",
]

log = logging.getLogger("staticserve")

OUTPUT_DIR = "static_build"  # the build's default output folder
MEMORY_LIMIT = 64 * 1024  # files up to this size are served from memory ...
MEMORY_TOTAL = 32 * 1024 * 1024  # ... until this many bytes are held
_URL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/")
_FIELD_NAME = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")

Signature = tuple[int, int, int]  # (st_mtime_ns, st_size, st_ino) of the manifest file
HeaderRules = tuple[tuple[str, tuple[Header, ...]], ...]


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """How the middleware serves a build; validated on construction (``ConfigError``).

    ``prefix`` is normalised to ``/static`` form (``""`` for the site root). ``headers`` maps a
    glob over logical paths (``fonts/*``, ``*.woff2``; a bare ``.woff2`` means ``*.woff2``) to
    extra response fields, which replace defaults of the same name.
    """

    prefix: str = "/static"
    max_age: int = 60
    allow_origin: str | None = "*"
    headers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    memory_limit: int = MEMORY_LIMIT
    memory_total: int = MEMORY_TOTAL
    index_file: str | None = None
    reload_interval: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix", _normalise_prefix(self.prefix))
        for name in ("max_age", "memory_limit", "memory_total"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be a whole number >= 0, not {value!r}")
        if not isinstance(self.reload_interval, (int, float)) or self.reload_interval < 0:
            raise ConfigError(
                f"reload_interval must be >= 0 seconds (0 disables reloading), "
                f"not {self.reload_interval!r}"
            )
        if self.index_file is not None and not _is_file_name(self.index_file):
            raise ConfigError(f"index_file must be a plain file name, not {self.index_file!r}")
        if self.allow_origin is not None:
            _check_field("Access-Control-Allow-Origin", self.allow_origin)
        for fields in self.headers.values():
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


def _is_file_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and not name.startswith(".")


def _check_field(name: str, value: str) -> None:
    if not name or not set(name.lower()) <= _FIELD_NAME:
        raise ConfigError(f"{name!r} is not a valid HTTP header name")
    if any(c in value for c in "\r\n\0") or not value.isprintable() or not value.isascii():
        raise ConfigError(f"the value of header {name!r} must be printable ASCII: {value!r}")


def _header_rules(option: Mapping[str, Mapping[str, str]]) -> HeaderRules:
    return tuple(
        (
            "*" + pattern if pattern.startswith(".") and "/" not in pattern else pattern,
            tuple((k.lower().encode("ascii"), v.encode("ascii")) for k, v in fields.items()),
        )
        for pattern, fields in option.items()
    )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One loaded build: URL path -> resource, logical path -> hashed URL."""

    manifest: Manifest
    resources: Mapping[bytes, Resource]
    urls: Mapping[str, str]
    signature: Signature
    held: Mapping[tuple[str, str], bytes]  # (file, sha256) -> bytes kept in memory
    lookup: Callable[[bytes], Resource | None]  # ``get`` of the dict behind ``resources``


class Catalog:
    """The lookup the adapters serve from: ``find(path)``, ``static_url``, ``integrity``.

    Raises ``ManifestError`` when the build's manifest is missing or unreadable.
    """

    def __init__(self, root: str | os.PathLike[str], options: ServeOptions) -> None:
        self.root = Path(root).absolute()  # not resolved: a "current" symlink may move
        self.options = options
        self.manifest_path = self.root / MANIFEST_NAME
        self._snapshot = self._load(None)
        self._find = self._snapshot.lookup
        self._interval = float(options.reload_interval)
        self._next_check = monotonic() + self._interval if self._interval else math.inf
        self._reloading = threading.Lock()
        self._refused: Signature | None = None
        _warn_on_prefix_mismatch(self._snapshot.manifest, options)

    @property
    def manifest(self) -> Manifest:
        """The manifest being served."""
        return self._snapshot.manifest

    def find(self, path: bytes) -> Resource | None:
        """The resource for a URL path (canonical percent-encoded bytes), or None."""
        if monotonic() >= self._next_check:  # never when reloading is off (inf)
            self._poll()
        return self._find(path)

    def static_url(self, path: str) -> str:
        """The hashed URL of a logical path under this middleware's prefix."""
        try:
            return self._snapshot.urls[path.lstrip("/")]
        except KeyError:
            raise KeyError(f"{path!r} is not in the manifest; is it in a source folder?") from None

    def integrity(self, path: str) -> str:
        """The Subresource Integrity value (``sha384-…``) of a logical path."""
        return self._snapshot.manifest.integrity(path)

    def reload(self) -> bool:
        """Load the manifest now if it changed; True when a new build was swapped in.

        A missing or broken manifest is logged and the current build stays in service.
        """
        with self._reloading:
            signature = _signature(self.manifest_path)
            if signature in (None, self._snapshot.signature, self._refused):
                return False
            try:
                snapshot = self._load(self._snapshot)
            except ManifestError as exc:
                self._refused = signature
                log.warning("%s; still serving the previous build", exc)
                return False
            # The swap: readers see the old build or the new one. ``_find`` reads the plain dict
            # behind the snapshot's read-only view, a third cheaper than going through the view.
            self._find = snapshot.lookup
            self._snapshot = snapshot
            log.info("serving build %d from %s", snapshot.manifest.generation, self.root)
            return True

    def _poll(self) -> None:
        self._next_check = monotonic() + self._interval
        signature = _signature(self.manifest_path)
        if signature in (None, self._snapshot.signature, self._refused):
            return
        if not self._reloading.locked():
            threading.Thread(target=self.reload, name="staticserve-reload", daemon=True).start()

    def _load(self, previous: Snapshot | None) -> Snapshot:
        data, signature = _read_manifest(self.manifest_path)
        try:
            manifest = Manifest.loads(data, source=str(self.manifest_path))
            return _snapshot(manifest, signature, self.root, self.options, previous)
        except (ManifestError, ValueError) as exc:
            raise ManifestError(_with_fix(str(exc), self.manifest_path)) from None


def _with_fix(message: str, path: Path) -> str:
    if str(path) not in message:
        message = f"{path}: {message}"
    if "staticserve build" not in message:
        message += "; run `staticserve build` again"
    return message


def _signature(path: Path) -> Signature | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def _read_manifest(path: Path) -> tuple[bytes, Signature]:
    try:
        with open(path, "rb") as file:
            stat = os.fstat(file.fileno())
            return file.read(), (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    except FileNotFoundError:
        raise ManifestError(
            f"no manifest at {path}: run `staticserve build` to create it, "
            "or pass the build's output folder as root="
        ) from None
    except OSError as exc:
        raise ManifestError(f"cannot read {path}: {exc.strerror}") from None


def _warn_on_prefix_mismatch(manifest: Manifest, options: ServeOptions) -> None:
    if manifest.prefix.rstrip("/") != options.prefix:
        log.warning(
            "the build was made for the URL prefix %r but is served under %r; absolute "
            "references inside CSS/JS may not resolve",
            manifest.prefix,
            options.mount,
        )


# -- preparing a build -------------------------------------------------------------------------


def _snapshot(
    manifest: Manifest,
    signature: Signature,
    root: Path,
    options: ServeOptions,
    previous: Snapshot | None,
) -> Snapshot:
    holder = _Holder(root, options, previous.held if previous else {})
    prepare = _Preparer(options, _created(manifest.created), _header_rules(options.headers))
    resources: dict[bytes, Resource] = {}
    # Retained files first, so that a current file wins should a path appear in both.
    for asset in manifest.retained.values():
        resources[_url_key(options, asset.path)] = prepare(
            asset, _variants(asset, root), hashed=True
        )
    for logical, asset in manifest.assets.items():
        variants = _variants(asset, root, holder)
        logical_resource = prepare(asset, variants, hashed=False)
        for key in _logical_keys(logical, options):
            resources[key] = logical_resource
        resources[_url_key(options, asset.path)] = prepare(asset, variants, hashed=asset.hashed)
    # The manifest itself is never served, whatever a source folder contained.
    resources.pop(_url_key(options, MANIFEST_NAME), None)
    urls = {
        logical: options.mount + url_path(a.path).decode() for logical, a in manifest.assets.items()
    }
    return Snapshot(
        manifest=manifest,
        resources=MappingProxyType(resources),
        urls=MappingProxyType(urls),
        signature=signature,
        held=MappingProxyType(holder.held),
        lookup=resources.get,
    )


def _url_key(options: ServeOptions, path: str) -> bytes:
    return url_path(options.mount + path)


def _logical_keys(logical: str, options: ServeOptions) -> Iterator[bytes]:
    yield _url_key(options, logical)
    index = options.index_file
    if index is not None and (logical == index or logical.endswith("/" + index)):
        yield _url_key(options, logical[: -len(index)])  # "docs/index.html" -> "docs/"


def _created(created: str) -> int | None:
    """The build time (ISO 8601, UTC) as epoch seconds: every file's Last-Modified."""
    try:
        moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def _entity_tag(sha256: str) -> str:
    """The opaque ETag text: the content hash's first 16 hex digits, the same on every machine."""
    head = sha256[:16].lower()
    if len(head) == 16 and all(c in "0123456789abcdef" for c in head):
        return head
    return hashlib.sha256(sha256.encode()).hexdigest()[:16]


def _variants(asset: Asset, root: Path, holder: _Holder | None = None) -> list[VariantSource]:
    """The identity file and its precompressed variants, each tagged ``<hash>[-<coding>]``."""
    tag = _entity_tag(asset.sha256)
    stored = [(IDENTITY, asset.path, asset.size, tag)]
    stored += [
        (coding, asset.variant_path(coding), size, f"{tag}-{coding}")
        for coding, size in sorted(asset.encodings.items())
    ]
    sources = []
    for coding, path, size, variant_tag in stored:
        body = holder.body(path, size, asset.sha256) if holder else _file(root, path, size)
        length = len(body) if isinstance(body, bytes) else size
        sources.append(VariantSource(coding, variant_tag, length, body))
    return sources


def _file(root: Path, relative: str, size: int) -> FileSlice:
    return FileSlice(str(root / relative), 0, size, size)


class _Preparer:
    """Turns an asset and its variants into a resource with this build's shared settings."""

    def __init__(self, options: ServeOptions, last_modified: int | None, rules: HeaderRules):
        self._short = CachePolicy.short(options.max_age)
        self._origin = options.allow_origin.encode("ascii") if options.allow_origin else None
        self._last_modified = last_modified
        self._rules = rules

    def __call__(self, asset: Asset, variants: list[VariantSource], *, hashed: bool) -> Resource:
        return build_resource(
            variants,
            content_type=content_type_for(asset.logical),
            cache=IMMUTABLE if hashed else self._short,
            last_modified=self._last_modified,
            allow_origin=self._origin,
            extra_headers=[
                pair
                for pattern, fields in self._rules
                if fnmatchcase(asset.logical, pattern)
                for pair in fields
            ],
        )


class _Holder:
    """Reads small files into memory within the per-file and total limits."""

    def __init__(
        self, root: Path, options: ServeOptions, previous: Mapping[tuple[str, str], bytes]
    ) -> None:
        self._root = root
        self._limit = options.memory_limit
        self._budget = options.memory_total
        self._previous = previous
        self.held: dict[tuple[str, str], bytes] = {}

    def body(self, relative: str, size: int, sha256: str) -> Body:
        """The file's bytes when they fit, else the file itself."""
        if size > self._limit or size > self._budget:
            return _file(self._root, relative, size)
        key = (relative, sha256)
        data = self._previous.get(key)
        if data is None:
            data = self._read(relative, size)
            if data is None:
                return _file(self._root, relative, size)
        self._budget -= len(data)
        self.held[key] = data
        return data

    def _read(self, relative: str, size: int) -> bytes | None:
        try:
            data = (self._root / relative).read_bytes()
        except OSError as exc:
            log.warning("cannot read %s (%s); it will be read at request time", relative, exc)
            return None
        if len(data) != size:
            log.warning(
                "%s has %d bytes but the manifest says %d; serving the file as it is",
                relative,
                len(data),
                size,
            )
        return data


def open_slice(part: FileSlice) -> BinaryIO:
    """Open the file of ``part`` positioned at its offset (the caller closes it)."""
    file = open(part.path, "rb")  # noqa: SIM115 -- handed to the caller, who closes it
    try:
        if part.offset:
            file.seek(part.offset)
    except BaseException:
        file.close()
        raise
    return file


class MiddlewareBase:
    """What both middlewares share: options, the catalog, and the template helpers.

    ``lookup`` is what requests are answered from (the catalog; a development-mode finder can
    take its place: anything with ``find(path)``).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        prefix: str,
        *,
        max_age: int,
        allow_origin: str | None,
        headers: Mapping[str, Mapping[str, str]] | None,
        fall_through: bool,
        memory_limit: int,
        memory_total: int,
        index_file: str | None,
        reload_interval: float,
    ) -> None:
        options = ServeOptions(
            prefix=prefix,
            max_age=max_age,
            allow_origin=allow_origin,
            headers=dict(headers or {}),
            memory_limit=memory_limit,
            memory_total=memory_total,
            index_file=index_file,
            reload_interval=reload_interval,
        )
        self.catalog = Catalog(root, options)
        self.lookup: Lookup = self.catalog
        self.fall_through = fall_through
        self.mount = options.mount

    def static_url(self, path: str) -> str:
        """The hashed URL of a logical path, e.g. ``/static/css/app.3f2a9c1d7e4b.css``."""
        return self.catalog.static_url(path)

    def integrity(self, path: str) -> str:
        """The Subresource Integrity value (``sha384-…``) of a logical path."""
        return self.catalog.integrity(path)

    def reload(self) -> bool:
        """Pick up a newly published build now (True when one was swapped in)."""
        return self.catalog.reload()
