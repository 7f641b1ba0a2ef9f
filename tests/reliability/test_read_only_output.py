"""``staticserve build`` over an output it cannot write: fine when there is nothing to write.

Regression (issue 16, item 19): a build over a read-only output folder holding an identical
earlier build exited 1 (it could not take its lock), where the README promises exit 0 "up to
date"; and a first build into a read-only folder spoke of "the previous build" when there was
none.

How the folder is made read-only, since the tests run as root and root ignores permission bits:

- ``read-only filesystem``: a real tmpfs mounted under ``tmp_path`` and remounted ``ro`` (root
  may mount here; where it may not, this case is skipped);
- ``unwritable folder``: chmod removes the write bits, and the build runs without the
  capabilities that let root ignore them (dropped from its bounding set before exec, the way
  test_disk_faults.py does; as another user, chmod alone binds).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from staticserve.manifest import MANIFEST_NAME

from .conftest import Site, build_command, check_live_build, child_env, run_build, snapshot
from .test_disk_faults import chmod_tree, permissions_bind

WAYS = ("read-only filesystem", "unwritable folder")


class ReadOnly:
    """``folder`` (the output's real home), made read-only on request, one of :data:`WAYS`."""

    def __init__(self, folder: Path, way: str) -> None:
        self.folder, self.way = folder, way
        folder.mkdir(parents=True)
        self.mounted = False
        self.preexec: Callable[[], None] | None = None
        if way == "read-only filesystem":
            result = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(folder)],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
            self.mounted = True
        else:
            self.preexec = permissions_bind()

    def make_read_only(self) -> None:
        if self.mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(self.folder)], check=True)
        else:
            chmod_tree(self.folder, writable=False)

    def undo(self) -> None:
        if self.mounted:
            subprocess.run(["mount", "-o", "remount,rw", str(self.folder)], check=False)
            subprocess.run(["umount", str(self.folder)], check=True)
        else:
            chmod_tree(self.folder, writable=True)


@pytest.fixture(params=WAYS)
def read_only(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReadOnly]:
    folder = ReadOnly(tmp_path / "disk", request.param)
    try:
        yield folder
    finally:
        folder.undo()


def site_on(disk: ReadOnly, base: Path) -> Site:
    """A project whose output ``out`` is a link to an empty folder on ``disk``."""
    site = Site(base)
    site.write_sources(1)
    site.config.write_text('[tool.staticserve]\nsources = ["assets"]\noutput = "out"\n')
    (disk.folder / "out").mkdir()
    site.out.symlink_to(disk.folder / "out")
    return site


def build(site: Site, disk: ReadOnly) -> subprocess.CompletedProcess[str]:
    command = [arg for arg in build_command(site) if arg != "--quiet"]
    return subprocess.run(
        command,
        cwd=site.base,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=disk.preexec,
    )


@pytest.mark.parametrize("state", ["kept", "lost"])
def test_an_up_to_date_build_over_a_read_only_output_succeeds(
    read_only: ReadOnly, tmp_path: Path, state: str
) -> None:
    """``lost``: the output was copied without its state folder (lock, compression cache)."""
    site = site_on(read_only, tmp_path / "project")
    run_build(site)
    if state == "lost":
        shutil.rmtree(site.out / ".staticserve")
    before = snapshot(site.out)
    read_only.make_read_only()
    result = build(site, read_only)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert result.stdout.startswith("Up to date: ")
    if state == "lost":  # its variants were compressed again to be compared, not saved
        assert "the compression cache was not saved" in result.stdout
    assert snapshot(site.out) == before
    check_live_build(site.out)


def test_a_first_build_into_a_read_only_folder_fails_in_one_line_naming_no_previous_build(
    read_only: ReadOnly, tmp_path: Path
) -> None:
    site = site_on(read_only, tmp_path / "project")
    read_only.make_read_only()
    result = build(site, read_only)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    reason = "read-only" if read_only.mounted else "permission denied"
    assert reason in lines[0], lines[0]
    assert "previous build" not in lines[0]
    assert "nothing was published" in lines[0]
    assert not (site.out / MANIFEST_NAME).exists()
