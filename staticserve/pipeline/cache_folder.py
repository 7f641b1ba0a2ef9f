"""The compression cache folder's files (cache_dir.py keeps the entries in it): its layout, one
entry read or written safely, the record of the last build, and the walk that ``staticserve
cache info`` and ``staticserve cache prune`` (and a build past half of its limit) make.

Layout: ``DIR/CACHEDIR.TAG`` (backup tools skip the folder), ``DIR/last-build.json`` (what the
last build that used it did), ``DIR/scans-v1.json`` (scan_cache.py) and the entries,
``DIR/v2/<2 hex>/<key>.<check>``; entries of the first format, ``DIR/v1/``, are read by no build
now: counted, and pruned first.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = [
    "ENTRIES",
    "LAST_BUILD",
    "CacheInfo",
    "PruneResult",
    "cache_info",
    "last_record",
    "prune",
    "read_entry",
    "write_new",
]

ENTRIES = "v2"  # a new entry format gets a new folder: old entries are then simply not found
_OLD_ENTRIES = ("v1",)  # earlier formats: counted, and pruned first
LAST_BUILD = "last-build.json"
_TEMP_PREFIX = ".tmp-"
# Never through a symlink; never blocking on a pipe planted as an entry.
_READ_FLAGS = (
    os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)
_STALE_TEMP_SECONDS = 3600.0  # a killed build's temporary entry: gone at the next prune
# An entry marked as used (its access time) this recently is not marked again: least recently
# used is told to the hour, and a warm build spares a system call per entry.
_USE_MARK_SECONDS = 3600
_RECORD_LIMIT = 64 * 1024  # a last-build.json larger than this is not ours: not read


def last_record(root: Path) -> dict[str, Any] | None:
    """What the last build recorded in ``root`` (last-build.json); None when there is no such
    small file to read: read as an entry is (:func:`read_entry`: never through a link, nor from
    a pipe or a device), and only up to ``_RECORD_LIMIT`` bytes."""
    try:
        found = read_entry(root / LAST_BUILD, mark_used=False, limit=_RECORD_LIMIT)
        value = json.loads(found[0]) if found is not None else None
    except (OSError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def read_entry(
    path: str | Path, *, mark_used: bool, limit: int | None = None
) -> tuple[bytes, tuple[int, int, int, int]] | None:
    """The bytes of the entry file ``path`` and its (device, inode, owner, mode); None when
    something else than a file stands there (a symlink, a pipe, a device): never followed nor
    read, so a planted ``/dev/zero`` or a pipe cannot exhaust memory or block the build. It is
    then rejected and replaced like a corrupt entry. ``mark_used``: its access time set to now
    unless a build marked it within the last ``_USE_MARK_SECONDS`` (its modification time is
    kept: it is the Last-Modified of the output files linked to it). ``limit``: a file larger
    than that is not read either (None)."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None  # a symlink
        raise
    try:
        found = os.fstat(fd)
        if stat.S_ISDIR(found.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", os.fspath(path))
        if not stat.S_ISREG(found.st_mode) or (limit is not None and found.st_size > limit):
            return None
        # One byte more than its size: an entry that grew since is not taken whole. (Grown by
        # appending at the very moment between, it is taken as it was: the bytes checked, its
        # size then. A link to it would then have another size, so it is written as bytes.)
        data = os.read(fd, found.st_size + 1)
        while len(data) < found.st_size and (more := os.read(fd, found.st_size + 1 - len(data))):
            data += more
        now = time.time_ns()
        if mark_used and found.st_atime_ns < now - _USE_MARK_SECONDS * 1_000_000_000:
            with contextlib.suppress(OSError):
                os.utime(fd, ns=(now, found.st_mtime_ns))
        return data, (found.st_dev, found.st_ino, found.st_uid, found.st_mode)
    finally:
        os.close(fd)


def write_new(path: Path, data: bytes) -> tuple[int, int]:
    """``path`` given ``data`` through a temporary name of this writer's own, then renamed: two
    builds storing the same entry at once each rename a whole file; a reader sees one of them.
    Returns the (device, inode) of the file written."""
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            os.fchmod(file.fileno(), 0o644)
            written = os.fstat(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return written.st_dev, written.st_ino


# -- looking after the folder: `staticserve cache info` and `staticserve cache prune` ----------


@dataclass(frozen=True, slots=True)
class _Entry:
    path: Path
    size: int
    used: float  # the last build that stored or used it (v2: access time; v1: modification)
    current: bool  # of the format builds read now (v2), not an earlier one


def _entries(root: Path) -> Iterator[_Entry]:
    """Every entry file of the cache, of each format; killed builds' old temporaries are
    removed on the way (the scans file's and last-build.json's too, beside the folders)."""
    _remove_stale_temporaries(root)
    for folder in (ENTRIES, *_OLD_ENTRIES):
        yield from _entries_in(root / folder, current=folder == ENTRIES)


def _remove_stale_temporaries(root: Path) -> None:
    try:
        items = list(os.scandir(root))
    except OSError:
        return
    stale = time.time() - _STALE_TEMP_SECONDS
    for item in items:
        if not item.name.startswith(_TEMP_PREFIX):
            continue
        with contextlib.suppress(OSError):
            if item.is_file(follow_symlinks=False) and item.stat().st_mtime < stale:
                os.unlink(item.path)  # a killed build's scans file or last-build.json


def _entries_in(folder: Path, *, current: bool) -> Iterator[_Entry]:
    now = time.time()
    if folder.is_symlink():  # never prune (or count) files elsewhere through a link
        return
    try:
        shards = list(os.scandir(folder))
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
            if len(item.name) == (129 if current else 64) and item.is_file(follow_symlinks=False):
                used = max(stat.st_atime, stat.st_mtime) if current else stat.st_mtime
                yield _Entry(Path(item.path), stat.st_size, used, current)


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
    last = last_record(root)  # as a build reads it: a planted pipe or device never hangs this
    return CacheInfo(
        path=root,
        entries=len(entries),
        bytes=sum(e.size for e in entries),
        oldest_use=min(uses, default=None),
        newest_use=max(uses, default=None),
        last_build=last,
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
    kept = kept_bytes = room = removed = removed_bytes = 0
    full = False  # from the first entry that does not fit on, every older one goes
    # Entries of an earlier format first (no build reads them), then the least recently used.
    for entry in sorted(_entries(root), key=lambda e: (e.current, e.used), reverse=True):
        # An empty entry (a variant not worth keeping) takes room too: --max-size 0 empties all.
        full = full or room + max(entry.size, 1) > max_size
        if not full:
            kept, kept_bytes, room = kept + 1, kept_bytes + entry.size, room + max(entry.size, 1)
            continue
        try:
            entry.path.unlink()
        except FileNotFoundError:
            continue
        removed, removed_bytes = removed + 1, removed_bytes + entry.size
    return PruneResult(removed, removed_bytes, kept, kept_bytes)
