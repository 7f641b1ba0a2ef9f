"""When the files a build writes reach the disk (pipeline/durable.py, publish.py).

A power cut cannot be made in a test; what can be checked is the order of the writes and of
the flushes that make them durable: every content file written before one flush of the
filesystem, the manifest written (and fsynced) after it; the plain names flushed before the
journal goes; an fsync per file only where the filesystem flush is not available; a failed
flush publishing nothing.
"""

from __future__ import annotations

import ctypes
import errno
import importlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from staticserve.errors import BuildError
from staticserve.manifest import MANIFEST_NAME, Manifest
from staticserve.pipeline import BuildConfig, BuildReport, Source, build
from staticserve.pipeline.output_dir import STATE_DIR
from staticserve.pipeline.retention import files_on_disk

from ..conftest import check_live_build
from .conftest import compressible, write_tree

Project = Callable[..., BuildReport]
atomic = importlib.import_module("staticserve.pipeline.atomic")
durable = importlib.import_module("staticserve.pipeline.durable")
JOURNAL = Path(STATE_DIR) / "journal.json"
MANIFEST_TEMP = atomic.temporary(Path(MANIFEST_NAME)).name


def sources(count: int) -> dict[str, str | bytes]:
    """``count`` stylesheets (compressed: written while compressing) and as many images
    (never compressed: written by the publish step itself), each with bytes of its own."""
    files: dict[str, str | bytes] = {}
    for n in range(count):
        files[f"css/s{n}.css"] = compressible(1500) + f"/* {n} */"
        files[f"img/i{n}.png"] = b"\x89PNG" + os.urandom(700)
    return files


class Events:
    """What the build did, in order: ``("write", name)`` for each file written (under its
    temporary name), ``("syncfs", manifest generation, journal there)`` for each flush of the
    filesystem, and how many fsyncs there were."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.order: list[tuple[object, ...]] = []
        self.fsyncs = 0

    def writes(self) -> list[str]:
        return [str(event[1]) for event in self.order if event[0] == "write"]

    def position(self, event: tuple[object, ...]) -> int:
        return self.order.index(event)


def recorded(
    monkeypatch: pytest.MonkeyPatch, out: Path, *, syncfs: Callable[[int], int] | None
) -> Events:
    """Record the build's writes and flushes, with ``syncfs`` as the filesystem flush (None:
    not available)."""
    events = Events(out)
    write_file, fsync = atomic.write_file, os.fsync

    def write(path: str | Path, data: object, **options: bool) -> None:
        write_file(path, data, **options)  # type: ignore[arg-type]
        events.order.append(("write", Path(path).relative_to(out).as_posix()))

    def counted_fsync(fd: int) -> None:
        events.fsyncs += 1
        fsync(fd)

    def flush(fd: int) -> int:
        generation = Manifest.load(out).generation if (out / MANIFEST_NAME).exists() else 0
        events.order.append(("syncfs", generation, (out / JOURNAL).exists()))
        return syncfs(fd) if syncfs is not None else 0

    monkeypatch.setattr(atomic, "write_file", write)
    monkeypatch.setattr(os, "fsync", counted_fsync)
    monkeypatch.setattr(durable, "_syncfs", flush if syncfs is not None else None)
    return events


def real_syncfs() -> Callable[[int], int]:
    if durable._syncfs is None:
        pytest.skip("no syncfs that reports errors here (Linux 5.8 and later)")
    function: Callable[[int], int] = durable._syncfs
    return function


def is_content(name: str) -> bool:
    return name != MANIFEST_TEMP and not name.startswith(f"{STATE_DIR}/")


def test_every_content_file_is_flushed_at_once_before_the_manifest_is_written(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    project(sources(3))
    write_tree(tmp_path / "assets", sources(12))  # new bytes for every file, and more files
    events = recorded(monkeypatch, out, syncfs=real_syncfs())
    report = project()
    monkeypatch.undo()
    assert report.generation == 2
    content = [name for name in events.writes() if is_content(name)]
    assert len(content) >= 12 * 2 + 12  # each stylesheet, its variants, each image
    before_switch = events.position(("syncfs", 1, True))  # generation 1 still live
    manifest_written = events.position(("write", MANIFEST_TEMP))
    for name in content:
        assert events.position(("write", name)) < before_switch, name
    assert before_switch < manifest_written
    # The plain names (links, made after the switch) flushed before the journal goes.
    assert events.position(("syncfs", 2, True)) > manifest_written
    check_live_build(out)


def test_the_number_of_fsyncs_does_not_grow_with_the_number_of_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An fsync per file was most of a cold build's system time: only the journal, the
    manifest, the state files and their folders are fsynced one by one now."""
    counts = []
    for count in (2, 30):
        root = tmp_path / str(count)
        write_tree(root / "assets", sources(count))
        events = recorded(monkeypatch, root / "out", syncfs=real_syncfs())
        build(BuildConfig(base_dir=root, output=Path("out"), sources=(Source(Path("assets")),)))
        monkeypatch.undo()
        assert len([n for n in events.writes() if is_content(n)]) >= count * 3
        counts.append(events.fsyncs)
    assert counts[0] == counts[1], counts


@pytest.mark.parametrize("refused", ["missing", "ENOSYS"])
def test_without_syncfs_each_file_is_fsynced_before_the_manifest_is_written(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refused: str
) -> None:
    out = tmp_path / "out"
    fsynced: list[str] = []
    fsync = os.fsync

    def naming_fsync(fd: int) -> None:
        fsync(fd)
        fsynced.append(os.readlink(f"/proc/self/fd/{fd}"))

    def no_syncfs(fd: int) -> int:
        ctypes.set_errno(errno.ENOSYS)  # a sandbox that refuses the call
        return -1

    write_tree(tmp_path / "assets", sources(5))
    monkeypatch.setattr(durable, "_syncfs", None if refused == "missing" else no_syncfs)
    monkeypatch.setattr(os, "fsync", naming_fsync)
    project()
    monkeypatch.undo()
    manifest = check_live_build(out)
    root = str(out.resolve())
    manifest_at = fsynced.index(f"{root}/{MANIFEST_TEMP}")
    for name in manifest.files():
        assert f"{root}/{name}" in fsynced[:manifest_at], name
    for folder in {f"{root}/{name}".rpartition("/")[0] for name in manifest.files()}:
        assert folder in fsynced[:manifest_at], folder
    for name in files_on_disk(manifest) - manifest.files():  # the plain names, after the switch
        assert f"{root}/{name}" in fsynced[manifest_at:], name


def test_a_failed_flush_publishes_nothing(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write-back that fails (EIO, or ENOSPC on a filesystem that allocates late) surfaces at
    the flush: the manifest is not written, the previous build stays live and whole."""
    out = tmp_path / "out"
    project(sources(3))
    before = (out / MANIFEST_NAME).read_bytes()

    def failing(fd: int) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    write_tree(tmp_path / "assets", sources(4))
    monkeypatch.setattr(durable, "_syncfs", failing)
    with pytest.raises(BuildError) as error:
        project()
    monkeypatch.undo()
    assert "nothing was published, the previous build is untouched" in str(error.value)
    assert (out / MANIFEST_NAME).read_bytes() == before
    assert check_live_build(out).generation == 1
    assert project().generation == 2  # the next build goes through


def test_a_repair_of_the_live_build_is_flushed_before_its_journal_goes(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    project(sources(2))
    manifest = Manifest.load(out)
    hashed = out / manifest.assets["img/i0.png"].path
    data = hashed.read_bytes()
    hashed.unlink()
    events = recorded(monkeypatch, out, syncfs=real_syncfs())
    report = project()
    monkeypatch.undo()
    assert (report.changed, report.written) == (False, 1)
    assert hashed.read_bytes() == data
    name = hashed.relative_to(out).as_posix()
    # Written unnamed and named once whole (Linux), else under its temporary name.
    written = [n for n in events.writes() if n in (name, atomic.temporary(Path(name)).as_posix())]
    assert len(written) == 1, events.writes()
    assert events.position(("write", written[0])) < events.position(("syncfs", 1, True))
    assert not (out / JOURNAL).exists()
