"""Large files kept in memory: the most requested ones, within ``memory_total``, checked first.

Files up to ``memory_limit`` bytes are read when their URL is first asked for and kept (the
catalog's small-file holder). Larger ones are sent from disk, which costs a server that cannot
send a file itself (no ``http.response.pathsend``) three times what sending the same bytes from
memory does. So a large file (or compressed variant) that is asked for often is kept in memory
too, in what ``memory_total`` leaves: by hits, not first come. Each file has a counter (its
:class:`~staticserve.core.response.MemoryCopy`); while there is room, a file is kept from its
first request; once there is none, a file is kept only by pushing out files that were asked
for less often than it, so a one-off never displaces a popular file. Counts are halved as
requests go by, so yesterday's popular file gives way to today's. Small files come first:
holding one pushes large files out when it must.

A copy is never trusted for what its path says: it is keyed by the manifest's record (path,
coding, content hash, size) and kept only once its bytes are shown to be exactly those, the
decoded content of a compressed variant hashed like the file itself. So a logical URL that a
new build moved to other bytes never gets the old copy, and a file replaced or cut short on
disk is answered 404 (the adapter's answer for a file it cannot read) instead of a body that
belies its Content-Length or mixes builds. Loading reads the whole file in one call, in the
adapter's worker thread, one file at a time.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

from .core.response import MemoryCopy
from .manifest import Asset

__all__ = ["HeldFile", "LargeFiles"]

log = logging.getLogger("staticserve")

Key = tuple[str, str, str, int]  # (path, coding, sha256 of the decoded content, size)

_AGING_CHECK = 64  # look whether counts are due to be halved once in this many misses
_AGING_PER_FILE = 8  # ... which they are after this many requests per known file (at least
_AGING_MINIMUM = 256  # this many)


def _zstd_decoder() -> Callable[[bytes], bytes] | None:
    for name in ("compression.zstd", "backports.zstd", "zstandard"):
        try:
            module = __import__(name, fromlist=["decompress"])
        except ImportError:
            continue
        decompress: Callable[[bytes], bytes] = module.decompress
        return decompress
    return None


def _brotli_decoder() -> Callable[[bytes], bytes] | None:
    try:
        import brotli
    except ImportError:  # pragma: no cover - a dependency of the package
        return None
    decompress: Callable[[bytes], bytes] = brotli.decompress
    return decompress


def _identity(data: bytes) -> bytes:
    return data


# How each coding's bytes are turned back into the content the manifest hashed; a coding whose
# decoder is not installed is never kept in memory (it is sent from disk as before).
_DECODERS: dict[str, Callable[[], Callable[[bytes], bytes] | None]] = {
    "identity": lambda: _identity,
    "gzip": lambda: gzip.decompress,
    "br": _brotli_decoder,
    "zstd": _zstd_decoder,
}


@cache
def _decoder(coding: str) -> Callable[[bytes], bytes] | None:
    find = _DECODERS.get(coding)
    return find() if find is not None else None


class HeldFile(MemoryCopy):
    """One file of the build (or one compressed variant) that may be kept in memory."""

    __slots__ = ("bar", "key", "loading", "owner", "path", "refused", "retired")

    def __init__(self, owner: LargeFiles, key: Key, path: Path) -> None:
        super().__init__()
        self.owner = owner
        self.key = key
        self.path = path
        self.bar = 0  # admission is not tried again until hits pass this
        self.loading = False
        self.refused = False  # its last load did not match the manifest: checked every time
        self.retired = False  # no build in service names it any more

    @property
    def size(self) -> int:
        return self.key[3]

    def wanted(self) -> bool:
        return self.owner.wants(self)

    def load(self) -> bytes | None:
        return self.owner.load(self)


class LargeFiles:
    """The copies of large files kept in memory for one catalog, across its builds.

    ``small_bytes`` says how much of ``total`` the small files of the build in service hold;
    large files get the rest. ``held_bytes`` is what large files hold now.
    """

    def __init__(self, root: Path, total: int, small_bytes: Callable[[], int]) -> None:
        self._root = root
        self.total = total
        self._small_bytes = small_bytes
        self._files: dict[Key, HeldFile] = {}  # every large file a prepared URL serves
        self._held: dict[Key, HeldFile] = {}  # those with their bytes in memory
        self.held_bytes = 0
        self._loading = False  # one load at a time: one file's bytes in flight at most
        self._misses = 0
        self._counted = 0  # the hits counted when counts were last halved
        self._lock = threading.Lock()

    def copy_for(self, path: str, coding: str, sha256: str, size: int) -> HeldFile | None:
        """The shared copy of this file of the manifest, or None when it is never kept (larger
        than ``total``, or a coding whose decoder is not installed)."""
        if size > self.total or _decoder(coding) is None:
            return None
        key = (path, coding, sha256, size)
        with self._lock:
            held = self._files.get(key)
            if held is None:
                held = self._files[key] = HeldFile(self, key, self._root / path)
            return held

    # -- on a request that the copy could not answer ---------------------------------------------

    def wants(self, held: HeldFile) -> bool:
        """Whether this request should load the file: always after a failed check (it is
        checked again), else when it fits in the room left or may push out colder files."""
        if held.refused:
            return True
        self._misses += 1
        if self._misses >= _AGING_CHECK:
            self._misses = 0
            self._age()
        if held.retired or self._loading or held.hits <= held.bar:
            return False
        with self._lock:
            if self._loading or held.data is not None:
                return False
            if self._victims(held) is None:
                return False
            self._loading = held.loading = True
            return True

    def load(self, held: HeldFile) -> bytes | None:
        """Read the whole file in one call and check it; keep it when there is still room.

        None when it cannot be read or does not hold the manifest's bytes (logged): the
        adapter answers 404, as for a missing file, and the next request checks again.
        """
        try:
            data = self._read(held)
        finally:
            if held.loading:
                held.loading = False
                self._loading = False
        if data is None:
            held.refused = True
            return None
        held.refused = False
        with self._lock:
            victims = self._victims(held)
            if victims is not None and not held.retired and held.data is None:
                for victim in victims:
                    self._drop(victim)
                held.data = data
                self._held[held.key] = held
                self.held_bytes += held.size
        return data

    def _read(self, held: HeldFile) -> bytes | None:
        _, coding, sha256, size = held.key
        try:
            with open(held.path, "rb") as file:
                data = file.read(size + 1)  # one byte more shows a file that grew
        except OSError as exc:
            log.error("cannot read %s: %s", held.path, exc.strerror or exc)
            return None
        problem = None
        if len(data) != size:
            problem = f"{len(data)} bytes where the manifest says {size}"
        else:
            decode = _decoder(coding)
            try:
                content = decode(data) if decode is not None else b""
            except Exception:  # a corrupt variant: any decoder error means the same
                content = None
            if content is None or hashlib.sha256(content).hexdigest() != sha256:
                problem = "bytes that are not the content the manifest names"
        if problem is not None:
            log.error("%s holds %s (replaced or cut short?); not served", held.path, problem)
            return None
        return data

    # -- room ---------------------------------------------------------------------------------------

    def _victims(self, held: HeldFile) -> list[HeldFile] | None:
        """The kept files to push out to make room for ``held`` (none when it fits), or None
        when that would take a file asked for at least as often. Called under the lock."""
        free = self.total - self._small_bytes() - self.held_bytes
        if held.size <= free:
            return []
        victims = []
        for candidate in sorted(self._held.values(), key=_hits):
            if candidate.hits >= held.hits:
                held.bar = candidate.hits  # not worth another look before it passes this
                return None
            victims.append(candidate)
            free += candidate.size
            if held.size <= free:
                return victims
        held.bar = 2 * held.hits  # small files hold the rest: look again much later
        return None

    def make_room(self, size: int) -> None:
        """Push out the least requested large files until ``size`` more bytes fit."""
        with self._lock:
            over = self._small_bytes() + self.held_bytes + size - self.total
            for victim in sorted(self._held.values(), key=_hits):
                if over <= 0:
                    break
                over -= victim.size
                self._drop(victim)

    def _drop(self, held: HeldFile) -> None:
        if self._held.pop(held.key, None) is not None:
            held.data = None  # requests that took the bytes already keep them while they send
            self.held_bytes -= held.size

    def _age(self) -> None:
        """Halve every count once enough requests went by (``hits`` of all the files)."""
        with self._lock:
            files = list(self._files.values())
            total = sum(h.hits for h in files)
            if total - self._counted < max(_AGING_MINIMUM, _AGING_PER_FILE * len(files)):
                return
            for held in files:
                held.hits >>= 1
                held.bar >>= 1
            self._counted = sum(h.hits for h in files)

    # -- builds -------------------------------------------------------------------------------------

    def keep_only(self, assets: Iterable[Asset]) -> None:
        """Forget the files no build in service names (a new build was swapped in)."""
        wanted: set[tuple[str, str]] = set()
        for asset in assets:
            wanted.add((asset.path, asset.sha256))
            wanted.update((asset.variant_path(c), asset.sha256) for c in asset.encodings)
        with self._lock:
            for key, held in list(self._files.items()):
                if (key[0], key[2]) not in wanted:
                    held.retired = True
                    self._drop(held)
                    del self._files[key]


def _hits(held: HeldFile) -> int:
    return held.hits
