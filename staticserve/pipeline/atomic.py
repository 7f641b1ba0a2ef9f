"""Write one file so that no reader, and no build killed midway, ever sees a part of it.

The bytes go to a temporary name beside the target, then are renamed over it: the rename is
atomic, so the name holds either the old bytes or the new ones. A file written ``durable`` (the
manifest, the journal) is fsynced before its rename and its folder after it; the content files
are not, one by one: durable.py flushes them all at once before the manifest names them. A
failed write becomes a one-line :class:`~staticserve.errors.BuildError` that says why.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import BuildError
from .durable import fsync_dir, fsync_path

__all__ = [
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

Payload = bytes | Iterable[bytes]
"""What a file is written from: its bytes, or its bytes in chunks (read as they are written)."""


def temporary(target: Path) -> Path:
    """The name ``target`` is written under before the rename: hidden, beside it."""
    return target.with_name(f".{target.name}{_TEMP_SUFFIX}")


def is_temporary(name: str) -> bool:
    """True when a file name (no folder) has the shape of :func:`temporary`'s names."""
    return name.startswith(".") and name.endswith(_TEMP_SUFFIX)


def has_size(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def write_atomic(target: Path, data: Payload, *, durable: bool = True) -> None:
    """Give ``target`` the bytes ``data``, or leave it as it was (the temporary is removed when
    the write fails, or when the chunks stop with an error). ``durable``: on disk, bytes and
    name, when this returns; otherwise whenever the caller's SyncBatch (durable.py) syncs."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = temporary(target)
    try:
        write_file(temp, data)
        if durable:
            fsync_path(temp)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    os.replace(temp, target)
    if durable:
        fsync_dir(target.parent)


def write_file(path: Path, data: Payload) -> None:
    """Create (or truncate) ``path`` with ``data``; not fsynced (write_atomic's ``durable``)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for chunk in (data,) if isinstance(data, bytes) else data:
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def file_chunks(path: Path) -> Iterator[bytes]:
    """The bytes of ``path`` in chunks: a copy never holds a whole file."""
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            yield chunk


def write_json(path: Path, data: object, *, first_build: bool = False) -> None:
    try:
        write_atomic(path, json.dumps(data, sort_keys=True).encode())
    except OSError as exc:
        raise write_error(path, exc, first_build=first_build) from None


def place_copy(source: Path, target: Path) -> None:
    """Give ``target`` the bytes of ``source``: a hard link where the filesystem has them, else
    a copy. Either way the name appears complete, replacing an earlier file of that name; it
    is durable once the caller's SyncBatch syncs (a copy is not fsynced here)."""
    try:
        os.link(source, target)  # a new name appears complete, atomically
        return
    except FileExistsError:
        pass  # an earlier build's copy: replace it below
    except OSError:
        pass  # no hard links here: copied below
    with contextlib.suppress(OSError):
        if os.path.samefile(source, target):
            return
    temp = temporary(target)
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    try:
        os.link(source, temp)
    except OSError:  # no hard links here (another filesystem type): copy
        write_file(temp, file_chunks(source))
    os.replace(temp, target)


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


def write_error(path: Path, exc: OSError, *, first_build: bool = False) -> BuildError:
    """The error for a write that failed before the new build went live (``first_build``:
    there is no earlier build to speak of)."""
    where = exc.filename or path
    untouched = "" if first_build else ", the previous build is untouched"
    return BuildError(f"cannot write {where}: {reason(exc)}; nothing was published{untouched}")
