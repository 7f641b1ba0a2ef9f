"""bench/harness/measure.py: a command's figures are its own, not those of who started it.

Linux carries ``ru_maxrss`` over from the process that started a child, so a benchmark that
reads its children's ``ru_maxrss`` reports its own size as theirs. These tests hold a large
block in this process (pytest is large already) and check the measured child against it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from harness.measure import measure, self_check

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/smaps_rollup").exists(), reason="reads Linux's /proc"
)

BALLAST_MIB = 200
CHILD_MIB = 20


def test_a_large_parent_does_not_inflate_a_small_childs_peak() -> None:
    naive, measured = self_check(BALLAST_MIB, CHILD_MIB)
    assert naive >= BALLAST_MIB  # the old way measured this process
    assert CHILD_MIB <= measured.peak_mib < CHILD_MIB + 40
    assert measured.exact
    assert measured.returncode == 0


def test_a_small_command_is_measured_below_the_wrappers_own_size() -> None:
    measured = measure(["sleep", "0.2"])
    assert measured.peak_mib < 8
    assert 0.15 <= measured.seconds < 2


def test_a_grandchilds_peak_and_cpu_count_and_its_output_is_returned() -> None:
    grandchild = "x = bytearray(60 * 2**20); y = sum(range(3_000_000)); print('done')"
    script = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grandchild!r}])"
    measured = measure([sys.executable, "-c", script])
    assert measured.stdout.strip() == "done"
    assert 60 <= measured.peak_mib < 150
    assert measured.cpu_seconds >= 0.05  # the grandchild's sum, counted in its parent's


def test_a_failing_command_reports_its_exit_code() -> None:
    assert measure([sys.executable, "-c", "raise SystemExit(3)"]).returncode == 3


def test_a_command_too_short_to_sample_still_gets_a_peak_never_zero() -> None:
    """`true` ends in a millisecond: mostly before the first sample (then wait4's figure is
    shown as an upper bound), sometimes just after it (then the sample counts)."""
    for _ in range(5):
        measured = measure(["true"])
        assert 0 < measured.process_peak_mib <= measured.peak_mib < 20
        assert not (measured.upper_bound and measured.exact)


def test_each_command_starts_on_a_flushed_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """A build makes its files durable with one syncfs of the filesystem: measured right after a
    command that left data unwritten (the bound's copies), it would be charged for that too."""
    import harness.measure

    flushed: list[bool] = []
    monkeypatch.setattr(harness.measure.os, "sync", lambda: flushed.append(True))
    measure(["true"])
    assert flushed == [True]


@pytest.mark.parametrize("holds", [True, False])
def test_a_command_after_a_deletion_waits_while_the_filesystem_holds_the_freed_inodes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, holds: bool
) -> None:
    """ext4 without a journal passes over inodes freed in the last minute, one by one, for
    each file created: a build measured right after the harness deleted 7,600 files paid
    seconds of kernel time for it. Elsewhere there is nothing to wait for."""
    import harness.measure

    slept: list[float] = []
    monkeypatch.setattr(harness.measure, "_last_deletion", float("-inf"))
    monkeypatch.setattr(harness.measure, "holds_freed_inodes", lambda path: holds)
    monkeypatch.setattr(harness.measure.time, "sleep", slept.append)
    folder = tmp_path / "earlier-output"
    (folder / "css").mkdir(parents=True)
    (folder / "css" / "app.css").write_text("body{}")
    harness.measure.delete_tree(folder)
    harness.measure.delete_tree(tmp_path / "never-there")
    assert not folder.exists()
    measure(["true"])
    if holds:
        assert len(slept) == 1
        assert 55 < slept[0] <= harness.measure.FREED_INODES_HELD_S
    else:
        assert slept == []


def test_a_timed_build_keeps_the_report_it_printed(tmp_path: Path) -> None:
    """The cold-build table shows each build's own stage timings, from its --json report."""
    from harness.buildspeed import run_timed

    report = '{"stage_seconds": {"collect": 0.1, "compress": 2.5}}'
    timed = run_timed([sys.executable, "-c", f"print({report!r})"], tmp_path)
    assert timed.report == {"stage_seconds": {"collect": 0.1, "compress": 2.5}}
    assert timed.machine_speed == (0.0, 0.0)  # taken by the rounds, around the run
