"""The production catalog: a build's manifest turned into prepared resources, keyed by URL path.

Loading a build only reads and indexes the manifest (no file is opened, nothing is stat'ed).
Each URL's resource (header blocks, validators, prepared plans, and a small file's bytes) is
made on its first request and kept, so from then on serving it is one dictionary lookup. When a
new build publishes a new manifest the catalog notices (one ``stat`` at most every
``reload_interval`` seconds), indexes the new build in a background thread and swaps it in with
a single attribute assignment; the bytes of unchanged files are carried over. The manifest lists
the earlier builds' retained files, so their hashed URLs keep working after the swap. Larger
files are kept in memory by :class:`~staticserve.held.LargeFiles`, the most requested first, in
what the small files leave of ``memory_total``; it outlives the builds and keeps the copies of
files the new build still names.

A request that misses does not wait for that: the new build's URLs are in pages that other
processes, which noticed it first, are already rendering. So a miss looks for a newly published
manifest itself (one ``stat``, at most every ``NEW_BUILD_CHECK_INTERVAL`` seconds however many
misses arrive) and, when there is one, loads it before answering: a hashed URL of a published
build is served from the moment ``staticserve build`` returns.

While the wrapped app handles a request, ``static_url`` and ``integrity`` answer from the build
that was current at the first of them in that request (kept in ``pinned_builds``, which the
adapters set around the app), so a page never pairs the URL of one build with the integrity
value of the next when a deploy lands mid-render.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from time import monotonic

from .core.content_types import content_type_for
from .core.paths import url_path
from .core.resource import IDENTITY, IMMUTABLE, CachePolicy, Resource, VariantSource, build_resource
from .core.response import Body, FileSlice
from .errors import ManifestError
from .held import LargeFiles
from .manifest import (
    MANIFEST_NAME,
    NEW_BUILD_CHECK_INTERVAL,
    Asset,
    Manifest,
    split_reference,
)
from .options import HeaderRules, ServeOptions, header_rules, matching_headers

__all__ = ["Catalog", "Resources", "Snapshot", "pinned_builds"]

log = logging.getLogger("staticserve")

Signature = tuple[int, int, int]  # (st_mtime_ns, st_size, st_ino) of the manifest file


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
        # Large files kept in memory by hits, across builds, in what the small files leave.
        self.large_files = LargeFiles(self.root, options.memory_total, self._small_bytes)
        self._snapshot = self._load(None)
        self._find = self._snapshot.resources.get
        self._interval = float(options.reload_interval)
        self._next_check = monotonic() + self._interval if self._interval else math.inf
        self._reloading = threading.Lock()
        self._refused: Signature | None = None
        self._checking = threading.Lock()  # one look on behalf of misses at a time
        self._next_miss_check = -math.inf
        _warn_on_prefix_mismatch(self._snapshot.manifest, options)

    @property
    def manifest(self) -> Manifest:
        """The manifest being served."""
        return self._snapshot.manifest

    @property
    def held_bytes(self) -> int:
        """The bytes of files kept in memory now, small and large: at most ``memory_total``."""
        return self._small_bytes() + self.large_files.held_bytes

    def _small_bytes(self) -> int:
        snapshot: Snapshot | None = getattr(self, "_snapshot", None)  # None while loading the first
        return snapshot.resources.holder.used if snapshot is not None else 0

    def find(self, path: bytes) -> Resource | None:
        """The resource for a URL path (canonical percent-encoded bytes), or None."""
        if monotonic() >= self._next_check:  # never when reloading is off (inf)
            self._poll()
        resource = self._find(path)
        if resource is None:  # not prepared yet, or not in the build
            resource = self._snapshot.resources.prepare(path)
            if resource is None and self._interval:
                return self._after_miss(path)
        return resource

    def _after_miss(self, path: bytes) -> Resource | None:
        """``path`` once more, from a build published since the last look, if there is one.

        One thread looks (a ``stat``) and loads; the others wait for it and use its result.
        """
        with self._checking:
            now = monotonic()
            if now >= self._next_miss_check:
                self._next_miss_check = now + NEW_BUILD_CHECK_INTERVAL  # manifest.py
                signature = _signature(self.manifest_path)
                if signature not in (None, self._snapshot.signature, self._refused):
                    self.reload()
        if self._reloading.locked():  # the poll's background load: wait for it to finish
            with self._reloading:
                pass
        return self._snapshot.resources.prepare(path)

    def static_url(self, path: str) -> str:
        """The hashed URL of a logical path under this middleware's prefix.

        A ``?query`` or ``#fragment`` after the path is kept: ``icons.svg#home`` ->
        ``/static/icons.3f2a9c1d7e4b.svg#home``.
        """
        current = self._current()
        logical, suffix = split_reference(path, current.manifest.assets.__contains__)
        try:
            return current.resources.url(logical) + suffix
        except KeyError:
            raise KeyError(
                f"{logical!r} is not in the manifest; is it in a source folder?"
            ) from None

    def integrity(self, path: str) -> str:
        """The Subresource Integrity value (``sha384-…``) of a logical path (suffix ignored)."""
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
            manifest = snapshot.manifest
            self.large_files.keep_only((*manifest.assets.values(), *manifest.retained.values()))
            log.info("serving build %d from %s", manifest.generation, self.root)
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
            return _snapshot(
                manifest, signature, self.root, self.options, previous, self.large_files
            )
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
    large_files: LargeFiles,
) -> Snapshot:
    resources = Resources(
        manifest, root, options, previous.resources if previous else None, large_files
    )
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
        self,
        manifest: Manifest,
        root: Path,
        options: ServeOptions,
        previous: Resources | None,
        large_files: LargeFiles,
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
        self.holder: _Holder = _Holder(root, options, _reusable(manifest, previous), large_files)

    def prepare(self, path: bytes) -> Resource | None:
        """The resource for ``path``, prepared now if need be; None when the build has none."""
        entry = self._entries.get(path)
        if entry is None:
            return None
        with self._lock:  # one preparation per URL, and the memory budget counted once
            resource = self._prepared.get(path)
            if resource is None:
                asset, kind = entry
                if kind == _RETAINED:  # earlier builds: read from disk, or kept by hits
                    variants = _variants(asset, self.holder, small=False)
                    resource = self._prepare(asset, variants, hashed=True)
                else:
                    variants = _variants(asset, self.holder)
                    hashed = asset.hashed and kind == _CURRENT
                    resource = self._prepare(asset, variants, hashed=hashed)
                self._prepared[path] = resource
        return resource

    def url(self, logical: str) -> str:
        """The hashed URL of a logical path (KeyError when it is not in the build): under
        ``url_base`` when one is set, else under the prefix."""
        url = self._urls.get(logical)
        if url is None:
            asset = self._manifest.assets[logical]
            base = self._options.url_base or self._options.mount
            url = self._urls[logical] = base + url_path(asset.path).decode()
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


def _variants(asset: Asset, holder: _Holder, *, small: bool = True) -> list[VariantSource]:
    """The identity file and its precompressed variants, each tagged ``<hash>[-<coding>]``."""
    tag = _entity_tag(asset.sha256)
    stored = [(IDENTITY, asset.path, asset.size, tag)]
    stored += [
        (coding, asset.variant_path(coding), size, f"{tag}-{coding}")
        for coding, size in sorted(asset.encodings.items())
    ]
    sources = []
    for coding, path, size, variant_tag in stored:
        body = holder.body(path, coding, size, asset.sha256, small=small)
        if body is None:
            continue
        length = len(body) if isinstance(body, bytes) else size
        sources.append(VariantSource(coding, variant_tag, length, body))
    return sources


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
    """Reads small files into memory within the per-file and total limits; larger files are
    sent from disk, or from the copy ``large_files`` keeps of the most requested ones."""

    def __init__(
        self,
        root: Path,
        options: ServeOptions,
        previous: Mapping[tuple[str, str], bytes],
        large_files: LargeFiles,
    ) -> None:
        self._root = root
        self._limit = options.memory_limit
        self._total = self._budget = options.memory_total
        self._previous = previous
        self._large_files = large_files
        self.held: dict[tuple[str, str], bytes] = {}

    @property
    def used(self) -> int:
        """The bytes of small files held."""
        return self._total - self._budget

    def _file(self, relative: str, coding: str, size: int, sha256: str) -> FileSlice | None:
        """The file, sent from disk; None for a variant missing or not of the recorded size: a
        client of its coding gets the file or another variant, not a 404 or a body cut short."""
        if coding != IDENTITY:
            try:
                found = os.stat(self._root / relative).st_size
            except (FileNotFoundError, NotADirectoryError):
                found = -1
            except OSError:  # read at request time, as before
                found = size
            if found != size:
                _not_offered(relative, found, size)
                return None
        copy = self._large_files.copy_for(relative, coding, sha256, size)
        return FileSlice(str(self._root / relative), 0, size, size, copy)

    def body(
        self, relative: str, coding: str, size: int, sha256: str, *, small: bool
    ) -> Body | None:
        """The file's bytes when they fit, else the file itself; None for a variant whose
        bytes are not the size the manifest records."""
        if not small or size > self._limit or size > self._budget:
            return self._file(relative, coding, size, sha256)
        key = (relative, sha256)
        data = self.held.get(key)  # the logical and the hashed URL of a file share its bytes
        if data is not None:
            return data
        data = self._previous.get(key)
        if data is None:
            data = self._read(relative, coding)
            if data is None:
                return self._file(relative, coding, size, sha256)
            if len(data) != size:
                if coding != IDENTITY:  # a variant cut or grown (by hand, or a disk): not sent
                    _not_offered(relative, len(data), size)
                    return None
                if len(data) > min(self._limit, self._budget):  # grown past what may be held
                    return self._file(relative, coding, size, sha256)  # (answered 404)
                log.warning(
                    "%s has %d bytes but the manifest says %d; serving the file as it is",
                    relative,
                    len(data),
                    size,
                )
        self._large_files.make_room(len(data))  # small files first: large ones make way
        self._budget -= len(data)
        self.held[key] = data
        return data

    def _read(self, relative: str, coding: str) -> bytes | None:
        try:  # never more than may be held: a file grown on disk is not read whole
            with open(self._root / relative, "rb") as file:
                return file.read(min(self._limit, self._budget) + 1)
        except OSError as exc:  # a variant missing is not offered: _file says so
            if coding == IDENTITY or not isinstance(exc, (FileNotFoundError, NotADirectoryError)):
                log.warning("cannot read %s (%s); it will be read at request time", relative, exc)
            return None


def _not_offered(relative: str, found: int, size: int) -> None:
    """Log that the variant ``relative`` (``found`` bytes, -1: missing) is not served."""
    what = "is missing" if found < 0 else f"has {found} bytes but the manifest says {size}"
    log.warning(
        "%s %s; not serving it (the file itself and its other variants are)", relative, what
    )
