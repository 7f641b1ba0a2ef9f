"""Write one file so that no reader, and no build killed midway, ever sees a part of it.

The bytes go to a temporary name beside the target, then are renamed over it: the rename is
atomic, so the name holds either the old bytes or the new ones. On Linux a content file is
instead made with no name at all in its folder (``O_TMPFILE``) and given its name once whole
(``linkat`` through ``/proc/self/fd``): it appears complete just the same, for one directory
entry instead of two, and a build killed midway leaves nothing of it. A file written ``durable``
(the manifest, the journal) is fsynced before its rename and its folder after it; the content
files are not, one by one: durable.py flushes them all at once before the manifest names them. A
failed write becomes a one-line :class:`~staticserve.errors.BuildError` that says why.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple, NoReturn

from ..errors import BuildError
from .durable import fsync_dir, fsync_path

__all__ = [
    "Linked",
    "NoUnnamedFiles",
    "Payload",
    "ensure_dir",
    "file_chunks",
    "fsync_dir",
    "has_size",
    "is_temporary",
    "place_copy",
    "reason",
    "temporary",
    "write_atomic",
    "write_error",
    "write_file",
    "write_json",
]

_TEMP_SUFFIX = ".staticserve-tmp"
_CHUNK = 1024 * 1024


class Linked(NamedTuple):
    """Bytes that a file holds already: ``source``, an entry of the compression cache, read and
    checked against its name just now. Written as a hard link to it where the filesystem has
    them (no byte is written twice), else as ``data``."""

    source: str | Path
    data: bytes
    identity: tuple[int, int]  # (st_dev, st_ino) of the file that was checked


Payload = bytes | Iterable[bytes] | Linked
"""What a file is written from: its bytes, its bytes in chunks (read as they are written), or
a file that holds them already."""


def temporary(target: Path) -> Path:
    """The name ``target`` is written under before the rename: hidden, beside it."""
    return target.with_name(f".{target.name}{_TEMP_SUFFIX}")


def _temporary_name(target: str | Path) -> str:
    """:func:`temporary` as text (the writes of a build join no Path per file)."""
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}{_TEMP_SUFFIX}")


def is_temporary(name: str) -> bool:
    """True when a file name (no folder) has the shape of :func:`temporary`'s names."""
    return name.startswith(".") and name.endswith(_TEMP_SUFFIX)


def has_size(path: str | Path, size: int) -> bool:
    try:
        return os.stat(path).st_size == size
    except OSError:
        return False


def write_atomic(target: str | Path, data: Payload, *, durable: bool = True) -> None:
    """Give ``target`` the bytes ``data``, or leave it as it was (the temporary is removed when
    the write fails, or when the chunks stop with an error). ``durable``: on disk, bytes and
    name, when this returns; otherwise whenever the caller's SyncBatch (durable.py) syncs, and
    then written as an unnamed file where the system has them (:func:`write_file`)."""
    if isinstance(data, Linked):
        if not durable and _link_over(data.source, target, (*data.identity, len(data.data))):
            return
        data = data.data
    if not durable:
        if _unnamed.usable:
            try:
                write_file(target, data, unnamed=True)
                return
            except NoUnnamedFiles:
                pass  # refused by this filesystem, or no /proc: a temporary and a rename
        _write_renamed(target, data)
        return
    temp = _temporary_name(target)
    write_file(temp, data)
    try:
        fsync_path(temp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    os.replace(temp, target)
    fsync_dir(os.path.dirname(target) or ".")


def write_file(path: str | Path, data: bytes | Iterable[bytes], *, unnamed: bool = False) -> None:
    """Create ``path`` anew with ``data`` (its folder too, when missing); not fsynced
    (write_atomic's ``durable``). A file of that name is replaced, never written through: it may
    be a killed build's hard link to a cache entry, or to a file a server is sending. A write
    that fails leaves no file of that name.

    ``unnamed``: the file is made with no name in the folder of ``path`` and given that name
    once whole, replacing a file of that name as a rename does: ``path`` shows the old bytes or
    all the new ones, never a part. :class:`NoUnnamedFiles` (nothing written) where the system
    cannot do that."""
    if unnamed:
        _write_unnamed(path, data)
        return
    fd = _create(path)
    try:
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def _write_all(fd: int, data: bytes | Iterable[bytes]) -> None:
    for chunk in (data,) if isinstance(data, bytes) else data:
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]


def _create(path: str | Path) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(path, flags, 0o644)
    except FileExistsError:
        os.unlink(path)
    except FileNotFoundError:
        # The folder is missing: made here, where a write finds it so, not checked before each.
        os.makedirs(os.path.dirname(path), exist_ok=True)
    return os.open(path, flags, 0o644)


class NoUnnamedFiles(Exception):
    """This system cannot make a file with no name (``O_TMPFILE``) or name one; nothing was
    written, and no later write tries again."""


class _Unnamed:
    """Whether files are made unnamed (Linux, a filesystem with ``O_TMPFILE``, ``/proc``
    mounted), and the ``/proc/self/fd`` folder they are named through. Turned off, for the
    process, at the first refusal."""

    def __init__(self) -> None:
        # Read and write: bytes written and then refused a name are copied to a temporary.
        self.flags = getattr(os, "O_TMPFILE", 0) | os.O_RDWR | getattr(os, "O_CLOEXEC", 0)
        self.usable = hasattr(os, "O_TMPFILE") and os.link in os.supports_dir_fd
        self._fds: int | None = None
        if hasattr(os, "register_at_fork"):
            # /proc/self/fd opened is the opener's: a forked child opens its own.
            os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        fds, self._fds = self._fds, None
        if fds is not None:
            with contextlib.suppress(OSError):
                os.close(fds)

    def descriptors(self) -> int:
        """The folder ``/proc/self/fd``, open: a file is named through its entry there."""
        fds = self._fds
        if fds is None:
            try:
                fds = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                self.refused()
            if self._fds is None:  # (two threads may both have opened it: one is kept)
                self._fds = fds
            elif self._fds != fds:
                os.close(fds)
                fds = self._fds
        return fds

    def refused(self) -> NoReturn:
        self.usable = False
        raise NoUnnamedFiles


_unnamed = _Unnamed()
# What an unnamed file's creation or naming fails with where the system does not offer it (no
# O_TMPFILE in this filesystem, linkat through /proc refused): then a temporary and a rename.
_REFUSALS = frozenset(
    {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT, errno.EXDEV, errno.EPERM}
)


def _write_unnamed(path: str | Path, data: bytes | Iterable[bytes]) -> None:
    fds = _unnamed.descriptors()
    folder = os.path.dirname(path) or "."
    try:
        try:
            fd = os.open(folder, _unnamed.flags, 0o644)
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)  # as _create does
            fd = os.open(folder, _unnamed.flags, 0o644)  # (where the refusal may come first)
    except OSError as exc:
        if exc.errno in _REFUSALS:
            _unnamed.refused()
        raise
    try:
        _write_all(fd, data)
        try:
            _give_name(fd, fds, path)
        except NoUnnamedFiles:
            # The chunks are spent: their bytes, in the unnamed file, go to a temporary.
            _write_renamed(path, _chunks_of(fd))
    finally:
        os.close(fd)  # unnamed still (a failed write): gone with it


def _chunks_of(fd: int) -> Iterator[bytes]:
    offset = 0
    while chunk := os.pread(fd, _CHUNK, offset):
        offset += len(chunk)
        yield chunk


def _write_renamed(path: str | Path, data: bytes | Iterable[bytes]) -> None:
    temp = _temporary_name(path)
    write_file(temp, data)
    _rename_over(temp, path)


def _rename_over(temp: str, path: str | Path) -> None:
    """``temp`` renamed ``path``, replacing a file of that name; removed if that fails."""
    try:
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _give_name(fd: int, fds: int, path: str | Path) -> None:
    """Name the whole file open as ``fd`` ``path``, replacing a file of that name at once."""
    entry = str(fd)
    try:
        os.link(entry, path, src_dir_fd=fds, follow_symlinks=True)
        return
    except FileExistsError:
        pass
    except OSError as exc:
        if exc.errno in _REFUSALS:
            _unnamed.refused()
        raise
    temp = _temporary_name(path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)  # a killed build's
    os.link(entry, temp, src_dir_fd=fds, follow_symlinks=True)
    _rename_over(temp, path)


def file_chunks(path: str | Path) -> Iterator[bytes]:
    """The bytes of ``path`` in chunks: a copy never holds a whole file."""
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            yield chunk


def write_json(path: Path, data: object, *, first_build: bool = False) -> None:
    try:
        write_atomic(path, json.dumps(data, sort_keys=True).encode())
    except OSError as exc:
        raise write_error(path, exc, first_build=first_build) from None


def place_copy(source: str | Path, target: str | Path) -> None:
    """Give ``target`` the bytes of ``source``: a hard link where the filesystem has them, else
    a copy. Either way the name appears complete, replacing an earlier file of that name; it
    is durable once the caller's SyncBatch syncs (a copy is not fsynced here)."""
    if not _link_over(source, target):
        write_atomic(target, file_chunks(source), durable=False)


def _link_over(
    source: str | Path, target: str | Path, identity: tuple[int, int, int] | None = None
) -> bool:
    """``target`` made a hard link to ``source``, replacing a file of that name at once (a new
    name appears complete; an old one is renamed over); False where that cannot be done (no
    hard links between the two filesystems, links refused, ``source`` gone): then ``target``
    is as it was. ``identity``: the (device, inode, size) of the file ``source`` must still
    be (a regular file), else False."""
    temp = None
    try:
        try:
            os.link(source, target)
        except FileExistsError:
            if os.path.samefile(source, target):
                return _is(target, identity)
            temp = _temporary_name(target)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            os.link(source, temp)
        except FileNotFoundError:
            if not os.path.exists(source):
                return False  # pruned meanwhile
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.link(source, target)
    except OSError:
        return False  # EXDEV, EPERM (protected_hardlinks), EMLINK...: written as bytes
    if temp is None:
        if _is(target, identity):
            return True
        with contextlib.suppress(OSError):
            os.unlink(target)
        return False
    if not _is(temp, identity):
        with contextlib.suppress(OSError):
            os.unlink(temp)
        return False
    os.replace(temp, target)
    return True


def _is(path: str | Path, identity: tuple[int, int, int] | None) -> bool:
    """True when ``path`` is the regular file ``identity`` names (any file, if None): a cache
    entry swapped for another file between its check and the link is not published."""
    if identity is None:
        return True
    try:
        found = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return stat.S_ISREG(found.st_mode) and (found.st_dev, found.st_ino, found.st_size) == identity


def ensure_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from None
    return path


def reason(exc: OSError) -> str:
    """Why a write failed, in words a user acts on."""
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc)


def write_error(path: str | Path, exc: OSError, *, first_build: bool = False) -> BuildError:
    """The error for a write that failed before the new build went live (``first_build``:
    there is no earlier build to speak of)."""
    where = exc.filename or path
    untouched = "" if first_build else ", the previous build is untouched"
    return BuildError(f"cannot write {where}: {reason(exc)}; nothing was published{untouched}")
