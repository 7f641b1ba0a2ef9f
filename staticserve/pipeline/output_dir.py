"""Claim the output folder for one build: refuse a folder unsafe to build into or holding files
that are not staticserve's, then hold an exclusive lock on it while the build writes.

staticserve keeps its own state inside the output, in :data:`STATE_DIR`: this lock, the journal
(journal.py) and the compression cache (cache.py).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import BuildError, ConfigError
from ..manifest import MANIFEST_NAME
from .atomic import ensure_dir, temporary, write_error

__all__ = [
    "LOCK_WAIT_SECONDS",
    "STATE_DIR",
    "build_lock",
    "check_output_contents",
    "check_output_dir",
    "no_notice",
]

STATE_DIR = ".staticserve"  # inside the output: lock, journal and compression cache
_LOCK = "lock"
LOCK_WAIT_SECONDS = 600.0  # a build waits this long for another one writing to its output
_LOCK_POLL_SECONDS = 0.1


def check_output_dir(output: Path, sources: list[Path]) -> None:
    """Refuse outputs that could destroy or recursively collect user files."""
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
    holder's pid, which the holder keeps in the lock file) for up to :data:`LOCK_WAIT_SECONDS`.
    """
    state = ensure_dir(output / STATE_DIR)
    try:
        handle = open(state / _LOCK, "a+b")  # noqa: SIM115 -- closed by the with below
    except OSError as exc:
        raise write_error(state / _LOCK, exc) from None
    with handle:
        _acquire(handle, output, notice)
        try:
            _record_holder(handle, f"{os.getpid()}\n".encode())
            yield
        finally:
            _record_holder(handle, b"")


def _acquire(handle: BinaryIO, output: Path, notice: Callable[[str], None]) -> None:
    import fcntl

    deadline = None
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
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
    """``another build (pid N)``, from the pid the lock's holder wrote into the lock file."""
    try:
        handle.seek(0)
        pid = int(handle.read(32))
    except (OSError, ValueError):
        return "another build"
    return f"another build (pid {pid})"


def _record_holder(handle: BinaryIO, data: bytes) -> None:
    """Leave ``data`` (our pid, or nothing on the way out) in the lock file, for waiters."""
    with contextlib.suppress(OSError):  # only ever a courtesy to a waiting build
        handle.truncate(0)
        handle.write(data)
        handle.flush()
