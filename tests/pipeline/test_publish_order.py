"""The order of the publishing writes, and which earlier builds' files a rebuild removes.

Pinned where mutation testing found them unguarded: the manifest written before the content
files of a build that has nothing to compress (so no file was written while compressing), and
an unchanged rebuild that skips the pruning the retention rule asks for.
"""

from __future__ import annotations

import errno
import importlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from staticserve.errors import BuildError
from staticserve.manifest import MANIFEST_NAME, Manifest
from staticserve.pipeline import BuildReport

from ..conftest import check_live_build
from .conftest import compressible, write_tree

Project = Callable[..., BuildReport]
atomic = importlib.import_module("staticserve.pipeline.atomic")

# Formats the build never compresses: publishing writes every file itself, after compression.
INCOMPRESSIBLE = {"img/logo.png": b"\x89PNG" + os.urandom(600), "fonts/a.woff2": os.urandom(900)}


def recorded_writes(monkeypatch: pytest.MonkeyPatch, fail_on: str | None = None) -> list[str]:
    """The names atomic writes go to, in order (as written: a temporary name, or a new content
    file's own); a write whose name contains ``fail_on`` fails as on a full disk."""
    names: list[str] = []
    real = atomic.write_file

    def write_file(name: str | Path, data: object, **options: bool) -> None:
        path = Path(name)
        names.append(path.name)
        if fail_on is not None and fail_on in path.name:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data, **options)

    monkeypatch.setattr(atomic, "write_file", write_file)
    return names


def test_with_nothing_to_compress_the_content_files_are_written_before_the_manifest(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = recorded_writes(monkeypatch)
    project(INCOMPRESSIBLE)
    manifest = Manifest.load(tmp_path / "out")
    assert all(asset.encodings == {} for asset in manifest.assets.values())
    position = {name: i for i, name in enumerate(writes)}
    manifest_at = position[atomic.temporary(Path(MANIFEST_NAME)).name]
    for asset in manifest.assets.values():
        # Written unnamed and named once whole (Linux), else under its temporary name.
        names = (Path(asset.path).name, atomic.temporary(Path(asset.path)).name)
        written = [position[name] for name in names if name in position]
        assert len(written) == 1, asset.path
        assert written[0] < manifest_at, asset.path


def test_a_failed_content_write_with_nothing_to_compress_leaves_the_previous_build_live(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(INCOMPRESSIBLE)
    out = tmp_path / "out"
    before = (out / MANIFEST_NAME).read_bytes()
    write_tree(tmp_path / "assets", {"img/logo.png": b"\x89PNG" + os.urandom(600)})
    recorded_writes(monkeypatch, fail_on="logo.")
    with pytest.raises(BuildError, match="the disk is full; nothing was published"):
        project()
    monkeypatch.undo()
    assert (out / MANIFEST_NAME).read_bytes() == before  # still the live build
    check_live_build(out)  # and every file it names is there, with its bytes
    assert project().changed  # once the disk has room, the build goes through


# -- retention: which earlier builds' files a rebuild keeps ------------------------------------
#
# retention.py: a build of generation G keeps, besides its own files, those current in a build
# of generation > G - keep. A rebuild without changes publishes nothing -- unless a file the
# live manifest retains is due (its generation <= G + 1 - keep): then it publishes generation
# G + 1, which prunes it. So with keep = 2, after builds 1, 2, 3 (each with other bytes):
# build 3 has removed what only build 1 used and retains build 2's files; the unchanged
# rebuild then makes generation 4 and removes them; the next unchanged rebuild changes nothing.


def test_an_unchanged_rebuild_prunes_the_files_retention_lets_go(
    project: Project, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    paths = []
    for n in (1, 2, 3):
        project({"app.css": compressible() + f"/* build {n} */"}, keep=2)
        paths.append(Manifest.load(out).assets["app.css"].path)
    first, second, third = paths
    assert not (out / first).exists()  # only build 1 used it: gone with build 3
    assert (out / second).exists()
    assert set(Manifest.load(out).retained) == {second}

    report = project(keep=2)  # no change to any source
    assert report.changed
    assert report.generation == 4
    assert report.pruned == 3  # build 2's file and its two variants
    for gone in (second, second + ".br", second + ".gz"):
        assert not (out / gone).exists(), gone
    manifest = check_live_build(out)
    assert manifest.retained == {}
    assert manifest.assets["app.css"].path == third

    again = project(keep=2)
    assert (again.changed, again.generation, again.pruned) == (False, 4, 0)


def test_a_rebuild_with_a_smaller_keep_prunes_at_once(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "out"
    paths = []
    for n in (1, 2, 3):
        project({"app.css": compressible() + f"/* build {n} */"}, keep=3)
        paths.append(Manifest.load(out).assets["app.css"].path)
    assert all((out / path).exists() for path in paths)
    report = project(keep=1)
    assert report.changed
    assert [(out / path).exists() for path in paths] == [False, False, True]
    assert check_live_build(out).retained == {}
