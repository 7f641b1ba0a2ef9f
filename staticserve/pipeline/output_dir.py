"""Claim the output folder for one build: refuse a folder unsafe to build into or holding files
that are not staticserve's, then hold an exclusive lock on it while the build writes.

staticserve keeps its own state inside the output, in :data:`STATE_DIR`: this lock, the journal
(journal.py), the compression cache (cache.py) and the record of the sources (unchanged.py).
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import BuildError, ConfigError
from ..manifest import MANIFEST_NAME
from .atomic import temporary, write_error

__all__ = [
    "LOCK_WAIT_SECONDS",
    "STATE_DIR",
    "build_lock",
    "check_output_contents",
    "check_output_dir",
    "no_notice",
]

STATE_DIR = ".staticserve"  # inside the output: lock, journal, compression cache, sources' record
_LOCK = "lock"
LOCK_WAIT_SECONDS = 600.0  # a build waits this long for another one writing to its output
_LOCK_POLL_SECONDS = 0.1
# Why a folder cannot be written to: it may still be up to date (build_lock).
_READ_ONLY = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def check_output_dir(output: Path, sources: list[Path], files: Iterable[Path] = ()) -> None:
    """Refuse outputs that could destroy or recursively collect user files: the output may
    neither overlap a source folder nor hold a source file listed one by one (``files``)."""
    out = output.resolve()
    home = Path.home().resolve()
    if out == Path(out.anchor) or out == home:
        raise ConfigError(
            f"output {output}: refusing to build into {out} (choose a dedicated folder)"
        )
    for source in sources:
        src = source.resolve()
        if out == src or out.is_relative_to(src) or src.is_relative_to(out):
            raise ConfigError(
                f"output {output} overlaps source {source}: the output must be a separate folder "
                "that neither contains nor sits inside a source"
            )
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output {output} exists and is not a folder")
    # Each folder resolved once (a file not on disk is named by a relative label: skipped).
    folders = {file.parent: file for file in files if file.is_absolute()}
    for folder, file in folders.items():
        if folder.resolve().is_relative_to(out):
            raise ConfigError(
                f"output {output} holds the source file {file}: the output must be a separate "
                "folder that holds no source"
            )


def check_output_contents(output: Path, journaled: set[str] | None) -> None:
    """Refuse a folder that holds files staticserve did not write.

    A folder with a manifest is one staticserve built. One without must be empty (but for
    :data:`STATE_DIR`) -- unless ``journaled``, the names the journal of an unfinished build
    records (None: no journal), accounts for every entry: then it is a first build that died
    before its manifest, which the next build finishes (publish.py prunes what it left).
    """
    if not output.is_dir() or (output / MANIFEST_NAME).exists():
        return
    stray = _first_unaccounted(output, journaled or set())
    if stray is None:
        return
    if journaled is None:
        raise ConfigError(
            f"output {output} is not empty and holds no {MANIFEST_NAME}: staticserve only "
            "builds into an empty folder or one it built before"
        )
    raise ConfigError(
        f"output {output} holds no {MANIFEST_NAME}, and {stray.relative_to(output)} is not from "
        "the unfinished build its journal records: staticserve only builds into an empty "
        "folder or one it built before"
    )


def _first_unaccounted(output: Path, journaled: set[str]) -> Path | None:
    """An entry of ``output`` that is neither a journaled file, its temporary, nor a folder on
    the way to one (the state folder aside); None when there is none."""
    entries = sorted(output.rglob("*")) if journaled else sorted(output.iterdir())
    files = {output / name for name in journaled | {MANIFEST_NAME}}
    files |= {temporary(path) for path in files}
    folders = {parent for path in files for parent in path.parents}
    for entry in entries:
        if entry.relative_to(output).parts[0] == STATE_DIR:
            continue
        if entry not in (folders if entry.is_dir() and not entry.is_symlink() else files):
            return entry
    return None


def no_notice(message: str) -> None:
    """The default ``notice``: say nothing."""


@contextlib.contextmanager
def build_lock(output: Path, notice: Callable[[str], None] = no_notice) -> Iterator[None]:
    """Hold an exclusive lock on the output folder for the whole build.

    A build that finds the lock held waits for it (saying so once through ``notice``, with the
    holder's pid) for up to :data:`LOCK_WAIT_SECONDS`. Taking the lock writes nothing: a build
    with nothing to change leaves every file as it was.

    An output this process cannot write (a read-only filesystem, no write permission) may still
    be up to date, which needs no write: then the build holds a shared lock on the lock file
    that is there (or none, when there is none: nobody can write there either), and a write it
    turns out to need fails with the error of that write. A first build fails at once.
    """
    handle, exclusive = _open_lock(output)
    if handle is None:
        yield
        return
    with handle:
        _acquire(handle, output, notice, exclusive=exclusive)
        yield


def _open_lock(output: Path) -> tuple[BinaryIO | None, bool]:
    """The open lock file, and whether it may be locked exclusively (the output is writable)."""
    lock = output / STATE_DIR / _LOCK
    built = (output / MANIFEST_NAME).exists()
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        return open(lock, "a+b"), True  # closed by build_lock
    except OSError as exc:
        if exc.errno not in _READ_ONLY or not built:
            raise write_error(lock, exc, first_build=not built) from None
    try:
        return open(lock, "rb"), False  # closed by build_lock
    except OSError:
        return None, False


def _acquire(
    handle: BinaryIO, output: Path, notice: Callable[[str], None], *, exclusive: bool
) -> None:
    import fcntl

    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    deadline = None
    while True:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = _holder(handle)
        if deadline is None:
            deadline = time.monotonic() + LOCK_WAIT_SECONDS
            notice(f"waiting for {holder} to finish writing to {output} …")
        elif time.monotonic() > deadline:
            raise BuildError(
                f"{holder} is still writing to {output} after {LOCK_WAIT_SECONDS:.0f} s of "
                "waiting; build again once it has finished (or stop it)"
            )
        time.sleep(_LOCK_POLL_SECONDS)


def _holder(handle: BinaryIO) -> str:
    """``another build (pid N)``: the process holding a lock on ``handle``'s file, as Linux's
    /proc/locks lists it (``1: FLOCK ADVISORY WRITE <pid> <major>:<minor>:<inode> 0 EOF``,
    major and minor in hex); just ``another build`` where that cannot be read."""
    try:
        info = os.fstat(handle.fileno())
        with open("/proc/locks", encoding="ascii") as locks:
            lines = locks.read().splitlines()
    except OSError:
        return "another build"
    file = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    for line in lines:
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[5] == file and fields[4].isdigit():
            return f"another build (pid {fields[4]})"
    return "another build"
