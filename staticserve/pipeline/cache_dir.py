"""The persistent compression cache: variants kept in a folder outside the output (``--cache-dir``),
so that a build from a clean checkout (CI, a Docker build) compresses only what changed.

The entries are ``DIR/v2/<2 hex>/<key>.<check>`` (the folder's layout, reading and writing one
entry, and walking them all: cache_folder.py). The key is the
SHA-256 of the source content's hash and the codec's recipe (compress.recipe(): codec, level,
library version, the keep rules), so bytes made another way, by another brotli for instance, are
never found. The file holds exactly the variant's bytes (none when the variant was not worth
keeping), so a build links it into its output instead of writing the bytes again; the check,
the SHA-256 of the key and those bytes, is in the name, where no write through a link reaches.

Safe without locks: an entry is written under a name of its own and renamed into place, so a
reader sees a whole entry or none; every read checks the bytes against the name, so a corrupt,
truncated or edited entry is ignored (and replaced by the build that finds it), never published.
A build marks each entry it uses by its access time (its modification time stays, as the output
files linked to it are served with it as Last-Modified); pruning removes the least recently used
entries first, and the entries of the first format (``v1/``, read by no build now) before any.
The cache never fails a build: a folder it cannot write or read is a warning, and the build goes
on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import ConfigError
from .atomic import Linked, reason
from .cache_folder import (
    ENTRIES,
    LAST_BUILD,
    CacheInfo,
    PruneResult,
    cache_info,
    last_record,
    prune,
    read_entry,
    write_new,
)
from .compress import Readable, compress_variants, recipe

__all__ = [
    "CacheInfo",
    "CompressionCache",
    "PruneResult",
    "cache_info",
    "check_cache_dir",
    "prune",
    "read_entry",
    "write_new",
]

_TAG = "CACHEDIR.TAG"
# https://bford.info/cachedir/: the first line marks a cache folder for backup tools.
_TAG_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file marks staticserve's compression cache (--cache-dir); see its README.\n"
)
_WALK_EVERY = 20  # builds that store entries without a walk of the cache, at most in a row


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


def _check(key: str, variant: bytes) -> str:
    """The second half of an entry's name: what its bytes must hash to, with its key."""
    digest = hashlib.sha256(key.encode())
    digest.update(b"\n")
    digest.update(variant)  # not joined to the rest: a variant may be megabytes
    return digest.hexdigest()


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
        self._listed: dict[str, dict[str, str]] = {}  # shard -> key -> entry file name
        self._folder = os.path.join(root, ENTRIES, "")  # the shard folders' parent, as text
        self._user = os.geteuid() if hasattr(os, "geteuid") else None
        self.restored = 0  # variants taken from the cache (kept or not worth keeping)
        self.stored = 0  # entries written
        self.stored_bytes = 0  # the bytes of those (an empty one counts 1, as pruning counts it)
        self.rejected = 0  # entries found corrupt or truncated, and ignored
        self.missed = 0  # variants the cache did not have
        if (root / ENTRIES).is_symlink():
            self._refuse_link()
        elif write:
            self._prepare()

    def _refuse_link(self) -> None:
        """Not used at all: pruning and ``cache info`` never follow a linked entries folder
        (they would count or delete files elsewhere), so entries stored through it would grow
        past any ``cache_max_size``."""
        self.read = self.write = False
        self._warn(
            f"{self.root}: the compression cache is not used ({ENTRIES}/ is a symlink, which "
            "pruning never follows); the build goes on without it"
        )

    def _prepare(self) -> None:
        try:
            (self.root / ENTRIES).mkdir(parents=True, exist_ok=True)
            tag = self.root / _TAG
            if not tag.exists():
                write_new(tag, _TAG_TEXT.encode())
        except OSError as exc:
            self._cannot("write", exc)

    def variants(
        self, sha256: str, data: bytes | Readable, encodings: tuple[str, ...]
    ) -> dict[str, Linked | bytes | None]:
        """:func:`compress_variants` of ``data`` (whose content hash is ``sha256``), with every
        variant the cache holds taken from it and every other one made and stored. A variant
        that is in the cache (taken, or stored now) comes as :class:`Linked` to its entry."""
        found: dict[str, Linked | bytes | None] = {}
        if self.read:
            for encoding in encodings:
                hit, variant = self._lookup(self._key(sha256, encoding))
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
        for encoding in missing:
            fresh = made[encoding]
            found[encoding] = (
                self._store(self._key(sha256, encoding), fresh) if self.write else fresh
            )
        return found

    def held(
        self, sha256: str, encodings: tuple[str, ...]
    ) -> dict[str, Linked | bytes | None] | None:
        """:meth:`variants` when the cache holds every one of them (read and checked now), else
        None, having read nothing: what a warm build does in the thread that asks, since a
        compressing thread would only pass the interpreter lock back and forth for it."""
        if not self.read:
            return None
        listed = []
        for encoding in encodings:
            key = self._key(sha256, encoding)
            name = self._shard(key).get(key)
            if name is None:
                return None
            listed.append((encoding, key, name))
        found: dict[str, Linked | bytes | None] = {}
        for encoding, key, name in listed:
            hit, found[encoding] = self._take(key, name)
            if not hit:
                return None  # damaged or pruned meanwhile: made (and stored) by a thread
        with self._lock:
            self.restored += len(found)
        return found

    def _key(self, sha256: str, encoding: str) -> str:
        text = self._recipes.get(encoding)
        if text is None:
            text = self._recipes[encoding] = recipe(encoding, probed=self.probe)
        return hashlib.sha256(f"{sha256}\n{text}".encode()).hexdigest()

    def _shard(self, key: str) -> dict[str, str]:
        """The entries of ``key``'s shard folder, key -> file name, listed once per build (an
        entry another build stores meanwhile is not found: its variant is made again)."""
        shard = key[:2]
        listed = self._listed.get(shard)
        if listed is None:
            listed = {}
            folder = self.root / ENTRIES / shard
            try:
                with os.scandir(folder) as found:
                    for item in found:
                        name, dot, check = item.name.partition(".")
                        if dot and len(name) == 64 and len(check) == 64:
                            listed[name] = item.name
            except FileNotFoundError:
                pass  # nothing stored there yet
            except OSError as exc:
                self._cannot("read", exc)
            if self._linked(folder):
                listed = {}
            with self._lock:
                listed = self._listed.setdefault(shard, listed)
        return listed

    def _linked(self, folder: Path) -> bool:
        """True when the shard ``folder`` is a symlink, which pruning never follows: then
        never read nor stored through. Removed when this build writes (the link only), so that
        its entries are stored in a folder made anew."""
        if not folder.is_symlink():
            return False
        if self.write:
            with contextlib.suppress(OSError):
                folder.unlink()
        return True

    def _lookup(self, key: str) -> tuple[bool, Linked | bytes | None]:
        """(found, its variant: None when not worth keeping) of the entry ``key``."""
        name = self._shard(key).get(key)
        if name is None:
            return False, None
        return self._take(key, name)

    def _take(self, key: str, name: str) -> tuple[bool, Linked | bytes | None]:
        """:meth:`_lookup` of the entry ``key``, listed as the file ``name``. Its path is joined
        as text: a warm build takes thousands of entries, and a Path join costs more than the
        read."""
        path = f"{self._folder}{key[:2]}{os.sep}{name}"
        try:
            found = read_entry(path, mark_used=self.write)
        except FileNotFoundError:
            return False, None  # pruned meanwhile
        except OSError as exc:
            self._cannot("read", exc)
            return False, None
        if found is None or _check(key, found[0]) != name[65:]:
            with self._lock:
                self.rejected += 1
            if self.write:  # under a wrong name, it would be found (and refused) again
                with contextlib.suppress(OSError):
                    os.unlink(path)
            return False, None  # made again, and stored under its right name
        variant, identity = found
        if not variant:
            return True, None
        return True, (Linked(path, variant, identity[:2]) if self._linkable(identity) else variant)

    def _store(self, key: str, variant: bytes | None) -> Linked | bytes | None:
        """Store ``variant`` as the entry ``key``; return it, linked to the entry when stored."""
        data = variant or b""
        path = self.root / ENTRIES / key[:2] / f"{key}.{_check(key, data)}"
        if self._linked(path.parent) and path.parent.is_symlink():
            return variant  # not stored through the link it could not remove
        try:
            identity = write_new(path, data)
        except IsADirectoryError:
            return variant  # a folder planted under its name (warned of when read): not stored
        except OSError as exc:
            self._cannot("write", exc)
            return variant
        with self._lock:
            self.stored += 1
            self.stored_bytes += max(len(data), 1)  # as pruning counts it
        return None if variant is None else Linked(os.fspath(path), variant, identity)

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

    def tidy(self, max_size: int) -> PruneResult | None:
        """After a build: the least recently used entries pruned past ``max_size`` bytes, when
        the cache may hold more, and what this build did recorded (``staticserve cache info``).
        The result of the prune, or None when none was needed.

        Pruning walks every entry (a twentieth of a second for 5,000 of them). So the record
        also carries the bytes the entries took after the last walk plus what builds have
        stored since: a build walks only when that passes half of ``max_size``, or when
        ``_WALK_EVERY`` builds that stored something have not walked (two builds at once may
        each miss what the other stored in that count, which the next walk sets right), or
        when the record is missing or unreadable.
        """
        if not self.write and not self.stored:
            return None  # (a cache that failed partway through a build has stored entries)
        before = last_record(self.root) or {}
        total, unwalked = before.get("entries_bytes"), before.get("builds_since_walk")
        result = None
        if self.stored:
            if (
                isinstance(total, int)
                and isinstance(unwalked, int)
                and total >= 0
                and 0 <= unwalked < _WALK_EVERY
                and total + self.stored_bytes <= max_size // 2
            ):
                total, unwalked = total + self.stored_bytes, unwalked + 1
            else:
                result = prune(self.root, max_size)
                # An empty entry takes a byte of room to pruning: counted so, at most.
                total, unwalked = result.kept_bytes + result.kept, 0
        summary = {
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "restored": self.restored,
            "missed": self.missed,
            "stored": self.stored,
            "rejected": self.rejected,
        }
        if isinstance(total, int) and isinstance(unwalked, int):
            summary |= {"entries_bytes": total, "builds_since_walk": unwalked}
        try:
            write_new(self.root / LAST_BUILD, json.dumps(summary, sort_keys=True).encode())
        except OSError:
            # The count left there would miss what this build stored: none, so the next walks.
            with contextlib.suppress(OSError):
                os.unlink(self.root / LAST_BUILD)
        return result

    def _linkable(self, identity: tuple[int, int, int, int]) -> bool:
        """True when an entry of (device, inode, owner, mode) ``identity`` may become an output
        file itself: this user's, and writable by no one else. A cache folder of another user's
        (a root build of a CI user's cache) or a shared one is copied from: a hard link would
        let whoever can write the entry change the live files in place, which no build would
        ever notice."""
        owner, mode = identity[2:]
        mine = self._user is None or owner == self._user  # no owners on Windows
        return mine and not mode & (stat.S_IWGRP | stat.S_IWOTH)
