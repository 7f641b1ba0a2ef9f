"""The persistent compression cache: variants kept in a folder outside the output (``--cache-dir``),
so that a build from a clean checkout (CI, a Docker build) compresses only what changed.

Layout: ``DIR/CACHEDIR.TAG`` (backup tools skip the folder), ``DIR/last-build.json`` (what the
last build that used it did) and the entries, ``DIR/v1/<2 hex>/<64 hex>``. An entry's name is
the SHA-256 of the source content's hash and the codec's recipe (compress.recipe(): codec,
level, library version, the keep rules), so bytes made another way, by another brotli for
instance, are never found. Its file holds a header (kind, size, a digest of name, kind, size and
bytes) and the variant's bytes, or none when the variant was not worth keeping.

Safe without locks: an entry is written under a name of its own and renamed into place, so a
reader sees a whole entry or none; every read checks the digest, so a corrupt or truncated
entry is ignored (and replaced by the build that finds it), never published. Each hit sets the
entry's modification time to now; pruning removes the least recently used entries first. The
cache never fails a build: a folder it cannot write or read is a warning, and the build goes on.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .atomic import reason
from .compress import Readable, compress_variants, recipe

__all__ = ["CacheInfo", "CompressionCache", "PruneResult", "cache_info", "check_cache_dir", "prune"]

_ENTRIES = "v1"  # a new entry format gets a new folder: old entries are then simply not found
_MAGIC = b"staticserve-cache 1\n"
_KEPT, _NOT_KEPT = b"V", b"N"
_HEADER = len(_MAGIC) + 1 + 8 + 32  # magic, kind, size (8 bytes), SHA-256 digest
_LAST_BUILD = "last-build.json"
_TAG = "CACHEDIR.TAG"
# https://bford.info/cachedir/: the first line marks a cache folder for backup tools.
_TAG_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file marks staticserve's compression cache (--cache-dir); see its README.\n"
)
_TEMP_PREFIX = ".tmp-"
_STALE_TEMP_SECONDS = 3600.0  # a killed build's temporary entry: gone at the next prune


def check_cache_dir(cache: Path, output: Path, sources: Iterable[Path]) -> None:
    """Refuse a cache folder that is, contains or sits inside the output or a source: the build
    would publish its entries, or prune them, or store them among the files it reads."""
    where = _real(cache)
    for kind, folder in (("the output folder", output), *(("source", s) for s in sources)):
        other = _real(folder)
        if where == other or other in where.parents or where in other.parents:
            raise ConfigError(
                f"cache_dir {cache} overlaps {kind} {folder}: keep the compression cache "
                "outside both, e.g. ~/.cache/staticserve"
            )


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _entry_digest(name: str, kind: bytes, size: int, payload: bytes) -> bytes:
    digest = hashlib.sha256(name.encode() + kind + size.to_bytes(8, "big"))
    digest.update(payload)  # not joined to the rest: a variant may be megabytes
    return digest.digest()


def _encode(name: str, variant: bytes | None, made_size: int) -> bytes:
    kind, size, payload = (
        (_NOT_KEPT, made_size, b"") if variant is None else (_KEPT, len(variant), variant)
    )
    digest = _entry_digest(name, kind, size, payload)
    return _MAGIC + kind + size.to_bytes(8, "big") + digest + payload


def _decode(name: str, raw: bytes) -> tuple[bool, bytes | None]:
    """(valid, variant) of an entry file's bytes; variant None: not worth keeping."""
    if len(raw) < _HEADER or not raw.startswith(_MAGIC):
        return False, None
    kind = raw[len(_MAGIC) : len(_MAGIC) + 1]
    size = int.from_bytes(raw[len(_MAGIC) + 1 : len(_MAGIC) + 9], "big")
    digest, payload = raw[len(_MAGIC) + 9 : _HEADER], raw[_HEADER:]
    if kind not in (_KEPT, _NOT_KEPT) or (kind == _KEPT and len(payload) != size):
        return False, None
    if kind == _NOT_KEPT and payload:
        return False, None
    if _entry_digest(name, kind, size, payload) != digest:
        return False, None
    return True, (payload if kind == _KEPT else None)


class CompressionCache:
    """The cache folder ``root`` as one build uses it, from its compressing threads.

    ``read``: entries may be used (a ``--clear`` build makes everything anew, and stores it);
    ``write``: what is compressed is stored and hits are marked as used (not in a dry run).
    ``warn`` receives, once each, what went wrong with the folder.
    """

    def __init__(
        self, root: Path, *, read: bool, write: bool, probe: bool, warn: Callable[[str], None]
    ) -> None:
        self.root, self.read, self.write, self.probe = root, read, write, probe
        self._warn = warn
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self._recipes: dict[str, str] = {}
        self.restored = 0  # variants taken from the cache (kept or not worth keeping)
        self.stored = 0  # entries written
        self.rejected = 0  # entries found corrupt or truncated, and ignored
        self.missed = 0  # variants the cache did not have
        if write:
            self._prepare()

    def _prepare(self) -> None:
        try:
            (self.root / _ENTRIES).mkdir(parents=True, exist_ok=True)
            tag = self.root / _TAG
            if not tag.exists():
                _write_new(tag, _TAG_TEXT.encode())
        except OSError as exc:
            self._cannot("write", exc)

    def variants(
        self, sha256: str, data: bytes | Readable, encodings: tuple[str, ...]
    ) -> dict[str, bytes | None]:
        """:func:`compress_variants` of ``data`` (whose content hash is ``sha256``), with every
        variant the cache holds taken from it and every other one made and stored."""
        found: dict[str, bytes | None] = {}
        if self.read:
            for encoding in encodings:
                hit, variant = self._lookup(self._name(sha256, encoding))
                if hit:
                    found[encoding] = variant
        missing = tuple(e for e in encodings if e not in found)
        with self._lock:
            self.restored += len(found)
            self.missed += len(missing)
        if not missing:
            return found
        # gzip runs with the others when it is configured, as in a build without the cache: its
        # size may spare brotli and zstd their work (compress.GZIP_HOPELESS_RATIO).
        made_with = missing + (("gzip",) if self.probe and "gzip" not in missing else ())
        made = compress_variants(data, made_with)
        if self.write:
            size = data.size if not isinstance(data, bytes) else len(data)
            for encoding, variant in made.items():
                if encoding not in found:
                    self._store(self._name(sha256, encoding), variant, size)
        return {**found, **{e: made[e] for e in missing}}

    def _name(self, sha256: str, encoding: str) -> str:
        text = self._recipes.get(encoding)
        if text is None:
            text = self._recipes[encoding] = recipe(encoding, probed=self.probe)
        return hashlib.sha256(f"{sha256}\n{text}".encode()).hexdigest()

    def _path(self, name: str) -> Path:
        return self.root / _ENTRIES / name[:2] / name

    def _lookup(self, name: str) -> tuple[bool, bytes | None]:
        path = self._path(name)
        try:
            raw = _read_entry(path)
        except FileNotFoundError:
            return False, None
        except OSError as exc:
            self._cannot("read", exc)
            return False, None
        valid, variant = (False, None) if raw is None else _decode(name, raw)
        if not valid:
            with self._lock:
                self.rejected += 1
            return False, None  # made again, and stored over it
        if self.write:
            with contextlib.suppress(OSError):
                os.utime(path)  # used now: the last to be pruned
        return True, variant

    def _store(self, name: str, variant: bytes | None, made_size: int) -> None:
        path = self._path(name)
        try:
            path.parent.mkdir(exist_ok=True)
            _write_new(path, _encode(name, variant, made_size))
        except OSError as exc:
            self._cannot("write", exc)
            return
        with self._lock:
            self.stored += 1

    def _cannot(self, what: str, exc: OSError) -> None:
        with self._lock:
            if what in self._warned:
                return
            self._warned.add(what)
            if what == "write":
                self.write = False  # one warning, not one per file
        self._warn(
            f"{self.root}: the compression cache cannot be {'written' if what == 'write' else 'read'} "
            f"({reason(exc)}); the build goes on without it"
        )

    def record(self) -> None:
        """Save what this build did with the cache (shown by ``staticserve cache info``)."""
        if not self.write:
            return
        summary = {
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "restored": self.restored,
            "missed": self.missed,
            "stored": self.stored,
            "rejected": self.rejected,
        }
        with contextlib.suppress(OSError):
            _write_new(self.root / _LAST_BUILD, json.dumps(summary, sort_keys=True).encode())


def _read_entry(path: Path) -> bytes | None:
    """The bytes of the entry file ``path``; None when something else than a file stands there
    (a symlink, a pipe, a device): never followed nor read, so a planted ``/dev/zero`` or a pipe
    cannot exhaust memory or block the build. It is then rejected and replaced like a corrupt
    entry."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None  # a symlink
        raise
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", os.fspath(path))
        if not stat.S_ISREG(mode):
            return None
        return file.read()


def _write_new(path: Path, data: bytes) -> None:
    """``path`` given ``data`` through a temporary name of this writer's own, then renamed: two
    builds storing the same entry at once each rename a whole file; a reader sees one of them."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


# -- looking after the folder: `staticserve cache info` and `staticserve cache prune` ----------


@dataclass(frozen=True, slots=True)
class _Entry:
    path: Path
    size: int
    used: float  # modification time: the last build that stored or used it


def _entries(root: Path) -> Iterator[_Entry]:
    """Every entry file of the cache; killed builds' old temporaries are removed on the way."""
    now = time.time()
    if (root / _ENTRIES).is_symlink():  # never prune (or count) files elsewhere through a link
        return
    try:
        shards = list(os.scandir(root / _ENTRIES))
    except FileNotFoundError:
        return
    for shard in shards:
        if not shard.is_dir(follow_symlinks=False):
            continue
        for item in os.scandir(shard.path):
            try:
                stat = item.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # pruned or renamed meanwhile by another build
            if item.name.startswith(_TEMP_PREFIX):
                if now - stat.st_mtime > _STALE_TEMP_SECONDS:
                    with contextlib.suppress(OSError):
                        os.unlink(item.path)
                continue
            if len(item.name) == 64 and item.is_file(follow_symlinks=False):
                yield _Entry(Path(item.path), stat.st_size, stat.st_mtime)


@dataclass(frozen=True, slots=True)
class CacheInfo:
    path: Path
    entries: int
    bytes: int
    oldest_use: float | None  # seconds since the epoch
    newest_use: float | None
    last_build: dict[str, Any] | None  # what the last build did with it (last-build.json)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "entries": self.entries,
            "bytes": self.bytes,
            "oldest_use": _iso(self.oldest_use),
            "newest_use": _iso(self.newest_use),
            "last_build": self.last_build,
        }


def _iso(moment: float | None) -> str | None:
    return None if moment is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def cache_info(root: Path) -> CacheInfo:
    """What the cache folder ``root`` holds. A folder that does not exist holds nothing."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"cache_dir {root}: not a folder")
    entries = list(_entries(root))
    uses = [e.used for e in entries]
    try:
        last = json.loads((root / _LAST_BUILD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        last = None
    return CacheInfo(
        path=root,
        entries=len(entries),
        bytes=sum(e.size for e in entries),
        oldest_use=min(uses, default=None),
        newest_use=max(uses, default=None),
        last_build=last if isinstance(last, dict) else None,
    )


@dataclass(frozen=True, slots=True)
class PruneResult:
    removed: int
    removed_bytes: int
    kept: int
    kept_bytes: int


def prune(root: Path, max_size: int) -> PruneResult:
    """Remove the least recently used entries until those left take at most ``max_size`` bytes.

    Safe while builds use the folder: a build that loses an entry it was about to read
    compresses that variant again; one that read it already holds its bytes.
    """
    if root.exists() and not root.is_dir():
        raise ConfigError(f"cache_dir {root}: not a folder")
    kept = kept_bytes = removed = removed_bytes = 0
    full = False  # from the first entry that does not fit on, every older one goes
    for entry in sorted(_entries(root), key=lambda e: e.used, reverse=True):
        full = full or kept_bytes + entry.size > max_size
        if not full:
            kept, kept_bytes = kept + 1, kept_bytes + entry.size
            continue
        try:
            entry.path.unlink()
        except FileNotFoundError:
            continue
        removed, removed_bytes = removed + 1, removed_bytes + entry.size
    return PruneResult(removed, removed_bytes, kept, kept_bytes)
