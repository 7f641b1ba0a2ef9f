"""A content file appears under its name whole, or not at all: nginx serves the output's files
as they are on disk, by name, and would send a part of one with a year of caching. On Linux it is
made with no name (O_TMPFILE) and named once whole, one directory entry where a temporary and its
rename take two; elsewhere, or where the filesystem refuses, a temporary and a rename."""

from __future__ import annotations

import errno
import importlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from staticserve.errors import BuildError
from staticserve.manifest import MANIFEST_NAME, Manifest
from staticserve.pipeline import BuildReport

from .conftest import compressible, write_tree

Project = Callable[..., BuildReport]
atomic = importlib.import_module("staticserve.pipeline.atomic")

TEMP_SUFFIX = ".staticserve-tmp"
LINUX = sys.platform.startswith("linux") and hasattr(os, "O_TMPFILE")


def watched(target: Path, before: bytes | None) -> Iterator[bytes]:
    """Chunks that check, before each, what ``target`` shows: the old bytes, or no file."""
    for number in range(4):
        shown = target.read_bytes() if target.exists() else None
        assert shown == before, f"{target.name} showed {shown!r} before chunk {number}"
        yield f"chunk {number};".encode()


@pytest.mark.parametrize("before", [None, b"the old bytes"])
@pytest.mark.parametrize("unnamed", [True, False], ids=["unnamed", "renamed"])
def test_a_file_appears_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, before: bytes | None, unnamed: bool
) -> None:
    if unnamed and not LINUX:
        pytest.skip("no O_TMPFILE here")
    monkeypatch.setattr(atomic._unnamed, "usable", unnamed)
    target = tmp_path / "css" / "a.0123456789ab.css"
    if before is not None:
        target.parent.mkdir()
        target.write_bytes(before)
    atomic.write_atomic(target, watched(target, before), durable=False)
    assert target.read_bytes() == b"chunk 0;chunk 1;chunk 2;chunk 3;"
    assert [p.name for p in target.parent.iterdir()] == [target.name]


@pytest.mark.skipif(not LINUX, reason="no O_TMPFILE here")
def test_on_linux_a_new_file_takes_no_temporary_name(tmp_path: Path) -> None:
    target = tmp_path / "a.0123456789ab.css"

    def chunks() -> Iterator[bytes]:
        yield b"a{}"
        assert os.listdir(tmp_path) == []  # nothing named yet: not even a temporary

    atomic.write_atomic(target, chunks(), durable=False)
    assert target.read_bytes() == b"a{}"
    assert atomic._unnamed.usable


def test_where_the_filesystem_refuses_unnamed_files_a_temporary_is_renamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open
    refused: list[str] = []

    def no_tmpfile(path: str, flags: int, *args: int, **kwargs: int) -> int:
        if flags & getattr(os, "O_TMPFILE", 0) == getattr(os, "O_TMPFILE", -1):
            refused.append(path)
            raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP), path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(atomic._unnamed, "usable", LINUX)
    monkeypatch.setattr(atomic.os, "open", no_tmpfile)
    for name in ("a.0123456789ab.css", "b.0123456789ab.css"):
        atomic.write_atomic(tmp_path / name, b"a{}", durable=False)
        assert (tmp_path / name).read_bytes() == b"a{}"
    assert len(refused) == (1 if LINUX else 0)  # asked once: not again once refused
    assert not atomic._unnamed.usable
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.0123456789ab.css",
        "b.0123456789ab.css",
    ]


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "full"), KeyboardInterrupt()])
@pytest.mark.parametrize("unnamed", [True, False], ids=["unnamed", "renamed"])
def test_a_write_that_stops_midway_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException, unnamed: bool
) -> None:
    if unnamed and not LINUX:
        pytest.skip("no O_TMPFILE here")
    monkeypatch.setattr(atomic._unnamed, "usable", unnamed)

    def chunks() -> Iterator[bytes]:
        yield b"the first half, "
        raise failure

    with pytest.raises(type(failure)):
        atomic.write_atomic(tmp_path / "deep" / "a.0123456789ab.css", chunks(), durable=False)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_build_names_each_content_file_whole_and_renames_its_manifest(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[tuple[str, bool]] = []
    real = atomic.write_file

    def write_file(path: str | Path, data: bytes, **options: bool) -> None:
        written.append((Path(path).name, options.get("unnamed", False)))
        real(path, data, **options)

    monkeypatch.setattr(atomic, "write_file", write_file)
    project({"css/a b.css": compressible(3000), "js/é.js": compressible(2500, "let x = 1;\n")})
    manifest = Manifest.load(tmp_path / "out")
    hashed = {Path(asset.path).name for asset in manifest.assets.values()}
    assert {(name, LINUX and atomic._unnamed.usable) for name in hashed} <= set(written)
    assert (f".{MANIFEST_NAME}{TEMP_SUFFIX}", False) in written  # fsynced, then renamed in


def test_a_full_disk_while_writing_a_content_file_publishes_nothing(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project({"a.css": compressible(3000)})
    out = tmp_path / "out"
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    real = os.write

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    write_tree(tmp_path / "assets", {"a.css": compressible(3000) + "/* 2 */"})
    monkeypatch.setattr(atomic.os, "write", full)
    with pytest.raises(BuildError, match="the disk is full; nothing was published"):
        project()
    monkeypatch.setattr(atomic.os, "write", real)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert project().generation == 2


@pytest.mark.skipif(not LINUX, reason="no O_TMPFILE here")
@pytest.mark.parametrize("refusal", [errno.EPERM, errno.EXDEV, errno.ENOENT])
def test_a_name_refused_once_the_bytes_are_written_still_gets_all_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusal: int
) -> None:
    # The chunks of a source left on disk can be read once: the fallback (a temporary and a
    # rename) must not start them again, empty, and publish an empty file under a hashed name.
    real = os.link

    def refused(*args: object, **kwargs: object) -> None:
        if kwargs.get("src_dir_fd") is not None:
            raise OSError(refusal, os.strerror(refusal))
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(atomic._unnamed, "usable", True)
    monkeypatch.setattr(atomic.os, "link", refused)
    target = tmp_path / "a.0123456789ab.css"
    atomic.write_atomic(target, iter([b"the first half, ", b"the second"]), durable=False)
    assert target.read_bytes() == b"the first half, the second"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    assert not atomic._unnamed.usable


@pytest.mark.skipif(not LINUX or not hasattr(os, "fork"), reason="no O_TMPFILE or fork here")
def test_a_forked_child_names_its_own_file_not_its_parents(tmp_path: Path) -> None:
    # /proc/self/fd opened in the parent is the parent's folder of descriptors: a child that
    # named its file through it would name the parent's file of the same number instead.
    atomic.write_atomic(tmp_path / "first.css", b"parent", durable=False)  # opened here
    with (tmp_path / "the parent's.txt").open("wb") as held:
        held.write(b"the parent's bytes")
        held.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the child)
            code = 1
            try:
                os.close(held.fileno())  # its number free: the child's next file takes it
                atomic.write_atomic(tmp_path / "a.0123456789ab.css", b"a{}", durable=False)
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (tmp_path / "a.0123456789ab.css").read_bytes() == b"a{}"


@pytest.mark.parametrize("refusal", [errno.EOPNOTSUPP, errno.EISDIR])
def test_a_filesystem_without_unnamed_files_is_written_into_a_new_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusal: int
) -> None:
    # The first file of a first build goes to a folder not made yet: the refusal comes only
    # once it is made, and must still fall back to a temporary and a rename.
    real_open = os.open

    def no_tmpfile(path: str, flags: int, *args: int, **kwargs: int) -> int:
        if LINUX and flags & os.O_TMPFILE == os.O_TMPFILE and os.path.isdir(path):
            raise OSError(refusal, os.strerror(refusal), path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(atomic._unnamed, "usable", LINUX)
    monkeypatch.setattr(atomic.os, "open", no_tmpfile)
    target = tmp_path / "css é" / "a b.0123456789ab.css"
    atomic.write_atomic(target, iter([b"a{}"]), durable=False)
    assert target.read_bytes() == b"a{}"
    assert [p.name for p in target.parent.iterdir()] == [target.name]


@pytest.mark.skipif(not LINUX, reason="no O_TMPFILE here")
def test_a_first_build_that_cannot_name_a_file_leaves_an_output_the_next_build_takes(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The folder made for the file is left empty by the failed build: the next one took the
    # output for a folder staticserve did not build, and refused it.
    real = os.link

    def full(*args: object, **kwargs: object) -> None:
        if kwargs.get("src_dir_fd") is not None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(atomic.os, "link", full)
    with pytest.raises(BuildError, match="the disk is full; nothing was published"):
        project({"css é/a b.css": compressible(3000), "js/deep/m.0123456789ab.js": "let a;"})
    monkeypatch.undo()
    assert project().generation == 1
