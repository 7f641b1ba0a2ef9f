"""Make a batch of written files durable at once: one ``syncfs(2)`` of the output's filesystem
instead of one ``fsync(2)`` per file.

The publish stage writes thousands of content-addressed files (temporary name, rename), none of
which any manifest names yet, so none has to be durable on its own: what matters is that all
of them are before the manifest that names them is written. A :class:`SyncBatch` collects the
writes and :meth:`SyncBatch.sync` makes them durable together -- their bytes, their inodes and
the folder entries their renames made -- before publish.py writes the manifest (itself fsynced,
renamed, its folder fsynced).

``syncfs`` (Linux 2.6.39) flushes every dirty page and inode of one filesystem and commits its
journal once, where an fsync per file commits it once per file. It reports a failed write-back
(EIO, ENOSPC on filesystems that allocate late) only since Linux 5.8, and only to a descriptor
opened before the failure or that has not seen it yet: the batch opens the output folder before
the first write of the batch and syncs through that descriptor. Where ``syncfs`` is missing or
silent on errors (other systems, older kernels, a sandbox refusing the call), the batch fsyncs
each file it recorded and then their folders, as every build did before.

The cost is the filesystem's, not only ours: ``syncfs`` also waits for what other processes
left dirty on the same filesystem.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["SyncBatch", "fsync_dir", "fsync_path"]

_SYNCFS_REPORTS_ERRORS = (5, 8)  # Linux commit 735e4ae5ba28: syncfs returns write-back errors


def _load_syncfs() -> Callable[[int], int] | None:
    """libc's ``syncfs``, where it reports write-back errors; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    found = re.match(r"(\d+)\.(\d+)", os.uname().release)
    if found is None or (int(found[1]), int(found[2])) < _SYNCFS_REPORTS_ERRORS:
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function


_syncfs = _load_syncfs()  # looked up at each call: tests replace it


def fsync_path(path: str | Path) -> None:
    """Flush one file's bytes and inode (fsync works through a read-only descriptor)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | Path) -> None:
    """Flush a folder's entries (the renames into it); a no-op where that is not possible."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)


class SyncBatch:
    """Files written without an fsync each, made durable together by :meth:`sync`.

    ``begin()`` before the writes of a batch (it opens the folder that ``sync`` flushes the
    filesystem of), ``add(path)`` after each write; both may be called from any thread.
    ``sync()`` raises the OSError of a failed flush; ``close()`` releases the descriptor.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._fd: int | None = None
        # A list of names as they were written (text, mostly: no Path made or hashed per write;
        # a name added twice is fsynced twice at worst).
        self._paths: list[str | Path] = []

    def begin(self) -> None:
        with self._lock:
            if self._fd is None and _syncfs is not None:
                try:
                    self._fd = os.open(self.root, os.O_RDONLY)
                except OSError:
                    self._fd = None  # sync() falls back to fsyncing each file

    def add(self, path: str | Path) -> None:
        with self._lock:
            self._paths.append(path)

    @property
    def pending(self) -> bool:
        """Files were written since the last sync."""
        with self._lock:
            return bool(self._paths)

    def sync(self) -> None:
        """Make every file added since the last sync durable, with the folder entries naming it."""
        with self._lock:
            paths, self._paths = self._paths, []
            fd, self._fd = self._fd, None
        if not paths:
            if fd is not None:
                os.close(fd)
            return
        if fd is not None:
            try:
                if _flush_filesystem(fd):
                    return
            finally:
                os.close(fd)
        for path in paths:
            fsync_path(path)
        for folder in {os.path.dirname(path) or "." for path in paths}:
            fsync_dir(folder)

    def close(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _flush_filesystem(fd: int) -> bool:
    """``syncfs(fd)``: True once done, False where the call is refused (fsync each file then);
    the OSError of a failed write-back."""
    syncfs = _syncfs
    if syncfs is None:
        return False
    if syncfs(fd) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EPERM, errno.EINVAL):  # a sandbox without the call
        return False
    raise OSError(code, os.strerror(code))
