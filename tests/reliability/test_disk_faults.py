"""A full disk, an unwritable output and unreadable sources: one clear line, nothing broken.

Every failed build must exit with 1 or 2 and print exactly one line, ``Error: …``, with no
traceback; the files of the previous build must be untouched (byte for byte) and a server must
still serve every hashed URL of the live manifest. The next build, once the fault is gone,
succeeds and leaves nothing behind.

The full disk is real where possible: a small tmpfs mounted under the output's parent (which
needs root). Elsewhere the test falls back, loudly (a warning and a figure), to a simulated one:
the build runs under :mod:`enospc_build`, whose ``os.write`` fails with ENOSPC past a budget.
Unwritable and unreadable files are made with chmod; as root, the build runs without the
capabilities that bypass file permissions (dropped from its bounding set), so chmod binds it too.
"""

from __future__ import annotations

import ctypes
import os
import random
import stat
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from staticserve.manifest import MANIFEST_NAME, Manifest

from .. import paused_build
from .conftest import (
    Server,
    Site,
    assert_serves,
    build_command,
    check_live_build,
    child_env,
    leftovers,
    record,
    run_build,
    snapshot,
)

DISK_SIZE = 2 * 1024 * 1024
PAGE = 4096


# -- dropping the permission-bypassing capabilities of root --------------------------------------

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _drop_capabilities() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def permissions_bind() -> Callable[[], None] | None:
    """The ``preexec_fn`` that makes chmod bind a child process (None: nothing to do)."""
    if os.geteuid() != 0:
        return None
    try:
        subprocess.run(["true"], preexec_fn=_drop_capabilities, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"root cannot drop CAP_DAC_OVERRIDE here ({exc}); chmod cannot stop it")
    return _drop_capabilities


def failed_build(site: Site, preexec: Callable[[], None] | None = None) -> str:
    """Run a build that must fail; return its one line of error."""
    result = subprocess.run(
        build_command(site),
        cwd=site.base,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=preexec,
    )
    assert result.returncode in (1, 2), (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# -- a small filesystem for the output ----------------------------------------------------------


class Disk:
    """The output's filesystem: a real tmpfs of ``size`` bytes, or a simulated one."""

    def __init__(self, folder: Path, size: int) -> None:
        self.folder = folder
        folder.mkdir(parents=True)
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        self.real = result.returncode == 0
        self.free: int | None = None  # the simulated free space, when not real
        self.ballast = folder / "ballast"
        self.full_flag = folder.parent / "disk-full"  # the simulated disk's "no space left"
        if not self.real:
            message = (
                f"cannot mount a tmpfs ({result.stderr.strip() or 'mount failed'}): the full-disk "
                "tests SIMULATE ENOSPC with a write hook instead of filling a real filesystem"
            )
            warnings.warn(message, stacklevel=2)
            print(f"\nWARNING: {message}", file=sys.stderr)
        record("disk faults: full disk is", "a real tmpfs" if self.real else "SIMULATED")

    def available(self) -> int:
        info = os.statvfs(self.folder)
        return info.f_bavail * info.f_frsize

    def leave_free(self, free: int) -> None:
        """Fill the filesystem so that only ``free`` bytes (rounded to pages) remain."""
        self.clear()
        if not self.real:
            self.free = free
            return
        size = self.available() - free
        if size > 0:
            fd = os.open(self.ballast, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.posix_fallocate(fd, 0, size)
            finally:
                os.close(fd)

    def clear(self) -> None:
        self.free = None
        self.ballast.unlink(missing_ok=True)
        self.full_flag.unlink(missing_ok=True)

    def fill(self) -> None:
        """Leave no free space from now on, also for a build that is running."""
        if self.real:
            self.leave_free(0)
        else:
            self.full_flag.touch()

    def build_command(self, site: Site) -> tuple[list[str], dict[str, str]]:
        """The command and environment of a build whose output is on this disk."""
        command = build_command(site)
        env = child_env()
        if not self.real:
            command = [sys.executable, "-m", "tests.reliability.enospc_build", *command[3:]]
            env["RELIAB_DISK_FREE"] = str(1 << 62 if self.free is None else self.free)
            env["RELIAB_DISK_FULL_FLAG"] = str(self.full_flag)
        return command, env

    def build(self, site: Site) -> subprocess.CompletedProcess[str]:
        command, env = self.build_command(site)
        return subprocess.run(
            command, cwd=site.base, env=env, capture_output=True, text=True, timeout=300
        )

    def unmount(self) -> None:
        if self.real:
            subprocess.run(["umount", str(self.folder)], check=True)


@pytest.fixture
def disk_site(tmp_path: Path) -> Iterator[tuple[Site, Disk]]:
    """A site whose output folder lives on a small filesystem (see :class:`Disk`)."""
    disk = Disk(tmp_path / "disk", DISK_SIZE)
    site = Site(tmp_path / "project")
    site.write_sources(1)
    site.config.write_text('[tool.staticserve]\nsources = ["assets"]\noutput = "out"\n')
    (disk.folder / "out").mkdir()
    site.out.symlink_to(disk.folder / "out")
    try:
        result = disk.build(site)
        assert result.returncode == 0, result.stderr
        yield site, disk
    finally:
        disk.unmount()


def assert_untouched(site: Site, before: dict[str, str], manifest_bytes: bytes) -> Manifest:
    """The previous build's files are byte for byte what they were, and it is still live."""
    after = snapshot(site.out)
    changed = [name for name, digest in before.items() if after.get(name) != digest]
    assert changed == [], f"files of the previous build changed: {changed[:5]}"
    assert (site.out / MANIFEST_NAME).read_bytes() == manifest_bytes
    return check_live_build(site.out)


def assert_recovers(site: Site, disk: Disk | None = None) -> Manifest:
    result = disk.build(site) if disk else run_build(site, check=False)
    assert result.returncode == 0, result.stderr
    manifest = check_live_build(site.out)
    assert leftovers(site.out) == []
    assert not [p for p in site.out.rglob("*") if p.name.endswith(".staticserve-tmp")]
    assert not (site.out / ".staticserve" / "journal.json").exists()
    return manifest


# -- the full disk ------------------------------------------------------------------------------


def test_a_build_that_fills_the_disk_fails_cleanly(
    disk_site: tuple[Site, Disk], start_server: Callable[..., Server]
) -> None:
    site, disk = disk_site
    before, manifest_bytes = snapshot(site.out), (site.out / MANIFEST_NAME).read_bytes()
    server = start_server("uvicorn", site, reload="0.1")
    site.write_sources(2)
    big = site.assets / "media" / "big.mp4"
    big.write_bytes(random.Random(3).randbytes(DISK_SIZE + 512 * 1024))
    disk.leave_free(1024 * 1024)  # the new file alone is larger than the whole disk
    line = disk.build(site)
    assert line.returncode == 1, line.stderr
    message = line.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert message.startswith("Error: "), message
    assert "disk is full" in message, message
    assert "Traceback" not in line.stderr
    live = assert_untouched(site, before, manifest_bytes)
    assert_serves(server.port, live)
    record("disk faults: full-disk message", message.replace(str(site.base), "…"))
    big.unlink()
    disk.clear()
    assert_serves(server.port, assert_recovers(site, disk))


def where_it_failed(message: str, site: Site) -> str:
    """Which write a full-disk error names: a content file written while compressing, the
    publish step (its content files and manifest, before the switch), a state file (journal,
    cache) or, once the new build is live, finishing it."""
    if "is live, but finishing it failed" in message:
        return "after the switch"
    where = message.removeprefix("Error: cannot write ").partition(": ")[0]
    if Path(where) == site.out:
        return "publish step"
    return "state file" if ".staticserve" in Path(where).parts else "content file"


def full_disk_trials(site: Site, disk: Disk, server: Server, frees: list[int]) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    for free in frees:
        site.write_sources(site.version + 1)
        before, manifest_bytes = snapshot(site.out), (site.out / MANIFEST_NAME).read_bytes()
        disk.leave_free(free)
        result = disk.build(site)
        disk.clear()
        if result.returncode == 0:
            outcome = "built"
            assert result.stderr == ""
            live = check_live_build(site.out)
        else:
            assert result.returncode == 1, result.stderr
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, result.stderr
            assert "disk is full" in lines[0], result.stderr
            outcome = "failed: " + where_it_failed(lines[0], site)
            if outcome == "failed: after the switch":
                live = check_live_build(site.out)
            else:  # "nothing was published": the previous manifest is still the live one.
                assert "nothing was published" in lines[0], lines[0]
                live = assert_untouched(site, before, manifest_bytes)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        assert_serves(server.port, live)
        assert_serves(server.port, assert_recovers(site, disk))
    return outcomes


def needed_space(site: Site, disk: Disk) -> int:
    """The least free space (in pages) with which the next version builds, by bisection."""
    low, high = 0, disk.available() // PAGE
    while high - low > 1:
        middle = (low + high) // 2
        site.write_sources(site.version + 1)
        disk.leave_free(middle * PAGE)
        succeeded = disk.build(site).returncode == 0
        disk.clear()
        assert_recovers(site, disk)
        low, high = (low, middle) if succeeded else (middle, high)
    return high * PAGE


@pytest.mark.slow
def test_the_disk_filling_up_at_many_moments_of_the_build(
    disk_site: tuple[Site, Disk], start_server: Callable[..., Server]
) -> None:
    """Free space just under what the build needs (its last writes fail) and at random below
    it (content files fail): every failure is clean, wherever it lands."""
    site, disk = disk_site
    server = start_server("uvicorn", site, reload="0.1")
    needed = needed_space(site, disk)
    frees = [needed - k * PAGE for k in range(1, 17)]
    frees += random.Random(4).sample(range(0, needed, PAGE), 12)
    outcomes = full_disk_trials(site, disk, server, [max(f, 0) for f in frees])
    record("disk faults: full-disk builds tried", len(frees))
    record("disk faults: full-disk outcomes", outcomes)
    failed = sum(v for k, v in outcomes.items() if k.startswith("failed"))
    assert failed >= len(frees) // 2, outcomes
    assert outcomes.get("failed: content file", 0) >= 1, outcomes


# What the build says when the disk fills up at a moment of publishing, and which build is live.
FULL_AT = {
    # The publish step has journaled its plan, every content file is in place: the manifest
    # is the next write, and it fails; the previous build stays live.
    "publishing": ("nothing was published, the previous build is untouched", 0),
    # The new manifest is live: what fails is finishing it (copies, pruning, the cache).
    "switched": ("is live, but finishing it failed", 1),
}


@pytest.mark.parametrize("moment", list(FULL_AT))
def test_the_disk_filling_up_during_publishing(
    disk_site: tuple[Site, Disk], start_server: Callable[..., Server], moment: str
) -> None:
    """The build is frozen at ``moment`` (:mod:`tests.paused_build`), the disk is filled, the
    build goes on and fails: one clear line, and a complete build stays live and served."""
    site, disk = disk_site
    server = start_server("uvicorn", site, reload="0.1")
    before, manifest_bytes = snapshot(site.out), (site.out / MANIFEST_NAME).read_bytes()
    site.write_sources(2)
    aimed = paused_build.standing(site.out)
    marker = site.base / "paused"
    command, env = disk.build_command(site)
    process = paused_build.start(moment, command[3:], cwd=site.base, env=env, marker=marker)
    try:
        assert paused_build.wait_paused(process, marker) == moment
        now = paused_build.standing(site.out)
        assert paused_build.stands_at(moment, now, aimed), now.describe()
        disk.fill()
    except BaseException:
        paused_build.kill(process)
        raise
    returncode, stderr = paused_build.resume(process)
    assert returncode == 1, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    assert "the disk is full" in lines[0], stderr
    said, switches = FULL_AT[moment]
    assert said in lines[0], stderr
    record(f"disk faults: full while {moment}", lines[0].replace(str(site.base), "…"))
    if switches:
        live = check_live_build(site.out)
        assert live.generation == aimed.generation + 1
    else:
        live = assert_untouched(site, before, manifest_bytes)
    assert_serves(server.port, live)
    disk.clear()
    assert_serves(server.port, assert_recovers(site, disk))


# -- permissions --------------------------------------------------------------------------------


def chmod_tree(root: Path, *, writable: bool) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
        os.chmod(path, (mode | stat.S_IWUSR) if writable else (mode & ~bits))


@pytest.fixture
def built_site(tmp_path: Path) -> Site:
    from .conftest import make_site

    return make_site(tmp_path / "project", stray=False)


def test_an_unwritable_output_fails_cleanly(
    built_site: Site, start_server: Callable[..., Server]
) -> None:
    site = built_site
    preexec = permissions_bind()
    server = start_server("uvicorn", site, reload="0.1")
    before, manifest_bytes = snapshot(site.out), (site.out / MANIFEST_NAME).read_bytes()
    site.write_sources(2)
    chmod_tree(site.out, writable=False)
    try:
        line = failed_build(site, preexec)
    finally:
        chmod_tree(site.out, writable=True)
    assert "permission denied" in line.lower(), line
    assert "nothing was published, the previous build is untouched" in line, line
    record("disk faults: unwritable-output message", line.replace(str(site.base), "…"))
    assert snapshot(site.out) == before
    assert_serves(server.port, assert_untouched(site, before, manifest_bytes))
    assert_serves(server.port, assert_recovers(site))


def test_an_output_on_a_read_only_filesystem_fails_cleanly(
    disk_site: tuple[Site, Disk], start_server: Callable[..., Server]
) -> None:
    site, disk = disk_site
    if not disk.real:
        pytest.skip("needs a mounted filesystem to remount read-only")
    server = start_server("uvicorn", site, reload="0.1")
    before, manifest_bytes = snapshot(site.out), (site.out / MANIFEST_NAME).read_bytes()
    site.write_sources(2)
    subprocess.run(["mount", "-o", "remount,ro", str(disk.folder)], check=True)
    try:
        line = failed_build(site)
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(disk.folder)], check=True)
    assert "the file system is read-only" in line, line
    assert "nothing was published, the previous build is untouched" in line, line
    record("disk faults: read-only-filesystem message", line.replace(str(site.base), "…"))
    assert snapshot(site.out) == before
    assert_serves(server.port, assert_untouched(site, before, manifest_bytes))
    assert_serves(server.port, assert_recovers(site, disk))


@pytest.mark.parametrize("what", ["file", "folder"])
def test_an_unreadable_source_fails_cleanly(
    built_site: Site, start_server: Callable[..., Server], what: str
) -> None:
    site = built_site
    preexec = permissions_bind()
    server = start_server("uvicorn", site, reload="0.1")
    before, manifest_bytes = snapshot(site.out), (site.out / MANIFEST_NAME).read_bytes()
    site.write_sources(2)
    target = site.assets / "css" / "app.css" if what == "file" else site.assets / "css"
    os.chmod(target, 0)
    try:
        line = failed_build(site, preexec)
    finally:
        os.chmod(target, 0o755 if what == "folder" else 0o644)
    assert "css" in line, line
    assert "permission denied" in line.lower(), line
    record(f"disk faults: unreadable-source-{what} message", line.replace(str(site.base), "…"))
    assert snapshot(site.out) == before
    assert_serves(server.port, assert_untouched(site, before, manifest_bytes))
    assert_serves(server.port, assert_recovers(site))


def test_a_failure_after_the_switch_says_the_new_build_is_live(
    built_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: once the new manifest is live, a full disk while copying the unhashed names
    (on a filesystem without hard links) was reported as "nothing was published"."""
    import errno
    import importlib

    from staticserve.errors import BuildError
    from staticserve.pipeline import build, load_config

    site = built_site
    # Every file the publish stage writes goes through this module, the unhashed copies too.
    atomic = importlib.import_module("staticserve.pipeline.atomic")
    old_manifest = (site.out / MANIFEST_NAME).read_bytes()
    write_file = atomic.write_file

    def no_hard_links(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "no hard links on this filesystem")

    def full_after_the_switch(path: str | Path, data: bytes, **options: bool) -> None:
        if (site.out / MANIFEST_NAME).read_bytes() != old_manifest:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        write_file(path, data, **options)

    site.write_sources(2)
    monkeypatch.setattr(atomic.os, "link", no_hard_links)
    monkeypatch.setattr(atomic, "write_file", full_after_the_switch)
    with pytest.raises(BuildError) as error:
        build(load_config(site.config))
    monkeypatch.undo()
    message = str(error.value)
    assert "build 2 is live" in message, message
    assert "the disk is full" in message, message
    assert "nothing was published" not in message
    assert check_live_build(site.out).generation == 2
    manifest = assert_recovers(site)
    for logical, asset in manifest.assets.items():
        assert (site.out / logical).read_bytes() == (site.out / asset.path).read_bytes()
