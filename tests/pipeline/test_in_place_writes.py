"""A content file no live manifest names is written under its own name, with no temporary and
rename (the rename was a fifth of what a new file costs a warm build); any other name is still
replaced at once, and a write that fails or is interrupted leaves no file behind."""

from __future__ import annotations

import errno
import importlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from staticserve.errors import BuildError
from staticserve.manifest import MANIFEST_NAME, Manifest
from staticserve.pipeline import BuildReport
from staticserve.pipeline.publish import Stager

from .conftest import compressible, write_tree

Project = Callable[..., BuildReport]
atomic = importlib.import_module("staticserve.pipeline.atomic")

TEMP_SUFFIX = ".staticserve-tmp"


def recorded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The file names the build creates, in order (a temporary's, or a file's own)."""
    names: list[str] = []
    real = atomic.write_file

    def write_file(path: str | Path, data: object, **options: bool) -> None:
        names.append(Path(path).name)
        real(path, data, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(atomic, "write_file", write_file)
    return names


def test_a_first_build_writes_its_content_files_in_place_and_its_manifest_by_rename(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = recorded(monkeypatch)
    project({"css/a b.css": compressible(3000), "js/é.js": compressible(2500, "let x = 1;\n")})
    manifest = Manifest.load(tmp_path / "out")
    hashed = {Path(asset.path).name for asset in manifest.assets.values()}
    assert hashed <= set(written)  # under their own names...
    assert not {f".{name}{TEMP_SUFFIX}" for name in hashed} & set(written)  # ...only
    assert f".{MANIFEST_NAME}{TEMP_SUFFIX}" in written  # what a server reads: renamed in
    assert MANIFEST_NAME not in written


def stager_over(tmp_path: Path, project: Project) -> tuple[Stager, Manifest]:
    """A stager of a new build over the live one ``project`` made."""
    project({"a.css": compressible(3000)})
    out = tmp_path / "out"
    live = Manifest.load(out)
    stager = Stager(out, live)
    return stager, live


def test_a_file_the_live_manifest_names_is_replaced_at_once_never_written_in_place(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stager, live = stager_over(tmp_path, project)
    asset = live.assets["a.css"]
    # deleted by hand: a server may be answering its URL (with 404s) as it is written
    (tmp_path / "out" / asset.path).unlink()
    written = recorded(monkeypatch)
    stager.begin([asset.path, "b.0123456789ab.css"])
    stager.put(asset.path, compressible(3000).encode(), asset.sha256)
    stager.put("b.0123456789ab.css", b"b{}", "0" * 64)
    assert written[0] == f".journal.json{TEMP_SUFFIX}"  # (the first put's)
    assert written[1:] == [f".{asset.path}{TEMP_SUFFIX}", "b.0123456789ab.css"]
    assert (tmp_path / "out" / asset.path).read_bytes() == compressible(3000).encode()


def test_a_file_already_there_is_replaced_not_written_through(tmp_path: Path) -> None:
    # a killed build's file may be a hard link to a cache entry, or to a file being sent
    entry = tmp_path / "cache-entry"
    entry.write_bytes(b"the cached bytes")
    target = tmp_path / "out" / "a.0123456789ab.css"
    target.parent.mkdir()
    os.link(entry, target)
    atomic.write_atomic(target, b"new bytes", durable=False, unseen=True)
    assert target.read_bytes() == b"new bytes"
    assert entry.read_bytes() == b"the cached bytes"


def test_a_new_folder_is_made_for_a_file_written_in_place(tmp_path: Path) -> None:
    target = tmp_path / "out" / "deep" / "er" / "a.0123456789ab.css"
    atomic.write_atomic(str(target), b"a{}", durable=False, unseen=True)
    assert target.read_bytes() == b"a{}"


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "full"), KeyboardInterrupt()])
def test_a_write_in_place_that_stops_midway_leaves_no_file(
    tmp_path: Path, failure: BaseException
) -> None:
    target = tmp_path / "a.0123456789ab.css"

    def chunks() -> Iterator[bytes]:
        yield b"the first half, "
        raise failure

    with pytest.raises(type(failure)):
        atomic.write_atomic(target, chunks(), durable=False, unseen=True)
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_while_writing_a_new_file_in_place_publishes_nothing(
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
