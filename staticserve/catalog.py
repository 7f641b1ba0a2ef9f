"""The production catalog: a build's manifest turned into prepared resources, keyed by URL path.

Loading a build only reads and indexes the manifest (no file is opened, nothing is stat'ed).
Each URL's resource (header blocks, validators, prepared plans, and a small file's bytes) is
made on its first request and kept, so from then on serving it is one dictionary lookup. When a
new build publishes a new manifest the catalog notices (one ``stat`` at most every
``reload_interval`` seconds), indexes the new build in a background thread and swaps it in with
a single attribute assignment; the bytes of unchanged files are carried over. The manifest lists
the earlier builds' retained files, so their hashed URLs keep working after the swap.

While the wrapped app handles a request, the middleware's ``static_url`` and ``integrity`` answer
from the build that was current at the first of them in that request, so a page never pairs the
URL of one build with the integrity value of the next when a deploy lands mid-render.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, BinaryIO

from .core.content_types import content_type_for
from .core.paths import url_path
from .core.plan import Lookup
from .core.resource import IDENTITY, IMMUTABLE, CachePolicy, Resource, VariantSource, build_resource
from .core.response import Body, FileSlice, Header
from .errors import ConfigError, ManifestError
from .manifest import MANIFEST_NAME, Asset, Manifest

if TYPE_CHECKING:
    from .dev import DevFinder
    from .pipeline.config import BuildConfig

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


def header_rules(option: Mapping[str, Mapping[str, str]]) -> HeaderRules:
    """The ``headers`` option as (glob, encoded fields) pairs."""
    return tuple(
        (
            "*" + pattern if pattern.startswith(".") and "/" not in pattern else pattern,
            tuple((k.lower().encode("ascii"), v.encode("ascii")) for k, v in fields.items()),
        )
        for pattern, fields in option.items()
    )


def matching_headers(rules: HeaderRules, logical: str) -> list[Header]:
    """The extra fields for a logical path: those of every rule whose glob matches it."""
    return [pair for pattern, fields in rules if fnmatchcase(logical, pattern) for pair in fields]


# The builds that ``static_url``/``integrity`` pinned during the current request, by catalog.
# The adapters give every request the wrapped app handles a fresh dict (set and reset around
# the call) once the helpers have been used; outside a request it is None and the helpers
# answer from the newest build.
pinned_builds: ContextVar[dict[Catalog, Snapshot] | None] = ContextVar(
    "staticserve_pinned_builds", default=None
)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One loaded build: URL path -> resource (prepared on first use), logical path -> URL."""

    manifest: Manifest
    resources: Resources
    signature: Signature


class Catalog:
    """The lookup the adapters serve from: ``find(path)``, ``static_url``, ``integrity``.

    Raises ``ManifestError`` when the build's manifest is missing or unreadable.
    """

    def __init__(self, root: str | os.PathLike[str], options: ServeOptions) -> None:
        self.root = Path(root).absolute()  # not resolved: a "current" symlink may move
        self.options = options
        self.manifest_path = self.root / MANIFEST_NAME
        self._snapshot = self._load(None)
        self._find = self._snapshot.resources.get
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
        resource = self._find(path)
        if resource is None:  # not prepared yet, or not in the build
            return self._snapshot.resources.prepare(path)
        return resource

    def static_url(self, path: str) -> str:
        """The hashed URL of a logical path under this middleware's prefix."""
        try:
            return self._current().resources.url(path.lstrip("/"))
        except KeyError:
            raise KeyError(f"{path!r} is not in the manifest; is it in a source folder?") from None

    def integrity(self, path: str) -> str:
        """The Subresource Integrity value (``sha384-…``) of a logical path."""
        return self._current().manifest.integrity(path)

    def _current(self) -> Snapshot:
        pins = pinned_builds.get()
        if pins is None:
            return self._latest()
        snapshot = pins.get(self)
        if snapshot is None:
            snapshot = pins[self] = self._latest()
        return snapshot

    def _latest(self) -> Snapshot:
        # Pages ask for URLs too, not only static requests: browsers and CDNs keep hashed files
        # for a year, so after a deploy no static request may ever arrive to trigger the poll.
        if self._interval and monotonic() >= self._next_check:
            self._poll()
        return self._snapshot

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
            # The swap: readers see the old build or the new one (``find`` tolerates a reader
            # that takes ``_find`` of one and ``_snapshot`` of the other).
            self._snapshot = snapshot
            self._find = snapshot.resources.get
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
    resources = Resources(manifest, root, options, previous.resources if previous else None)
    return Snapshot(manifest=manifest, resources=resources, signature=signature)


_CURRENT, _LOGICAL, _RETAINED = 0, 1, 2  # how an entry's URL serves its asset


class Resources:
    """URL path -> resource for one build, each resource prepared when first asked for.

    Loading a build only indexes the manifest's URLs, so a process serving 10,000 files starts
    in a fraction of a second and holds only what is asked for: header blocks, plans and the
    bytes of small files are made on a URL's first request (one small read, once per process
    and build). ``get`` is the hot path: a plain dictionary lookup of the prepared ones.
    """

    def __init__(
        self, manifest: Manifest, root: Path, options: ServeOptions, previous: Resources | None
    ) -> None:
        self._manifest = manifest
        self._root = root
        self._options = options
        self._prepare = _Preparer(
            options, _created(manifest.created), header_rules(options.headers)
        )
        entries: dict[bytes, tuple[Asset, int]] = {}
        # Retained files first, so that a current file wins should a path appear in both.
        for asset in manifest.retained.values():
            entries[_url_key(options, asset.path)] = (asset, _RETAINED)
        for logical, asset in manifest.assets.items():
            for key in _logical_keys(logical, options):
                entries[key] = (asset, _LOGICAL)
            entries[_url_key(options, asset.path)] = (asset, _CURRENT)
        # The manifest itself is never served, whatever a source folder contained.
        entries.pop(_url_key(options, MANIFEST_NAME), None)
        self._entries = entries
        self._prepared: dict[bytes, Resource] = {}
        self.get: Callable[[bytes], Resource | None] = self._prepared.get
        self._urls: dict[str, str] = {}
        self._lock = threading.Lock()
        self.holder: _Holder = _Holder(root, options, _reusable(manifest, previous))

    def prepare(self, path: bytes) -> Resource | None:
        """The resource for ``path``, prepared now if need be; None when the build has none."""
        entry = self._entries.get(path)
        if entry is None:
            return None
        with self._lock:  # one preparation per URL, and the memory budget counted once
            resource = self._prepared.get(path)
            if resource is None:
                asset, kind = entry
                if kind == _RETAINED:
                    resource = self._prepare(asset, _variants(asset, self._root), hashed=True)
                else:
                    variants = _variants(asset, self._root, self.holder)
                    hashed = asset.hashed and kind == _CURRENT
                    resource = self._prepare(asset, variants, hashed=hashed)
                self._prepared[path] = resource
        return resource

    def url(self, logical: str) -> str:
        """The hashed URL of a logical path (KeyError when it is not in the build)."""
        url = self._urls.get(logical)
        if url is None:
            asset = self._manifest.assets[logical]
            url = self._urls[logical] = self._options.mount + url_path(asset.path).decode()
        return url


def _reusable(manifest: Manifest, previous: Resources | None) -> Mapping[tuple[str, str], bytes]:
    """The bytes the previous build held that this one serves too (kept without a new read)."""
    if previous is None or not previous.holder.held:
        return {}
    held = dict(previous.holder.held)  # a copy: another thread may be adding to it
    wanted = {
        (path, asset.sha256)
        for asset in manifest.assets.values()
        for path in (asset.path, *map(asset.variant_path, asset.encodings))
    }
    return {key: data for key, data in held.items() if key in wanted}


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
            extra_headers=matching_headers(self._rules, asset.logical),
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
        data = self.held.get(key)  # the logical and the hashed URL of a file share its bytes
        if data is not None:
            return data
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

    ``lookup`` is what requests are answered from: the build's catalog, or in development mode
    (``dev=True``) a finder over the configured source folders (anything with ``find(path)``).
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
        dev: bool = False,
        config: BuildConfig | str | os.PathLike[str] | None = None,
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
        self.dev = dev
        self.catalog: Catalog | DevFinder
        if dev:
            from .dev import DevFinder  # the build's config and collect code, in dev only

            self.catalog = DevFinder(config, options)
        else:  # config= is for development mode; settings may pass it whatever dev is
            self.catalog = Catalog(root, options)
        self.lookup: Lookup = self.catalog
        self.fall_through = fall_through
        self.mount = options.mount
        # Pin one build per request for the helpers, once the app has shown it uses them:
        # apps that never call them pay nothing for it on their requests.
        self.pinning = False
        # Where the app is mounted in the request being handled (ASGI root_path, WSGI
        # SCRIPT_NAME), percent-encoded: static_url puts it first, so that its URLs work from
        # the site root. The adapters set it around the wrapped app's call.
        self.request_root: ContextVar[str] = ContextVar("staticserve_request_root", default="")

    def static_url(self, path: str) -> str:
        """The URL of a logical path: hashed (``/static/css/app.3f2a9c1d7e4b.css``) in production,
        the plain ``/static/css/app.css`` in development mode; during a request to an app mounted
        under a sub-path, with that path first (``/app/static/…``)."""
        self.pinning = True
        return self.request_root.get() + self.catalog.static_url(path)

    def integrity(self, path: str) -> str:
        """The Subresource Integrity value (``sha384-…``) of a logical path."""
        self.pinning = True
        return self.catalog.integrity(path)

    def reload(self) -> bool:
        """Pick up a newly published build now (True when one was swapped in)."""
        return self.catalog.reload()
