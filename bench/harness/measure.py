"""A command in a fresh process: its wall time, CPU-seconds and true peak memory.

``measure(command)`` runs the command under ``harness/own_peak.py``, a small process of its own,
so that the figures are the command's and not the benchmark's: Linux carries ``ru_maxrss`` over
from the process that started a child (the whole benchmark, hundreds of MiB), which made the
peaks of ``os.wait4`` on the benchmark's own children its own size.

- ``seconds``: wall time from fork to exit (interpreter start included, the wrapper's not);
- ``cpu_seconds``: user + system of the command and of every process it waited for;
- ``peak_mib``: the most the command held: the larger of its largest process's own peak and the
  sampled sum of its processes' ``Pss`` (shared pages counted once);
- ``timeline``: ``(seconds, cores it kept busy, cores the machine kept busy)`` every 100 ms.

Each command starts on a flushed disk (``os.sync()`` first, not timed): what the commands before
it wrote (a bound that copies 60 MB and never syncs, for one) is not left for it to wait on.
A build makes its files durable with one ``syncfs`` of the filesystem, which would otherwise
write the earlier command's data too, and be charged for it.

Nor does it start among inodes the harness has just freed. ext4 without a journal (this
benchmark's usual disk) does not hand out an inode freed less than a minute ago (six while
its inode table block is unwritten): each file created then passes over every such inode
of its group, one by one (``recently_deleted()`` in the kernel's fs/ext4/ialloc.c). A command
started right after the harness deleted a build's 7,600 files spent up to 5 CPU-s in the kernel
on that, and which command paid depended on the order of the runs, not on its own work. So the
harness deletes through :func:`delete_tree`, and on such a filesystem ``measure`` first waits
until a minute has passed since the last deletion.

Self-check: ``cd bench && python -m harness.measure`` holds 300 MiB itself and measures a child
that allocates 20 MiB, both ways.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OWN_PEAK = Path(__file__).resolve().with_name("own_peak.py")
FREED_INODES_HELD_S = 61.0  # the kernel's RECENTCY_MIN (60 s), and a second for its rounding
_last_deletion = float("-inf")  # time.monotonic() of the last delete_tree that freed held inodes


def delete_tree(path: Path) -> None:
    """Delete the folder ``path``, if there; when its filesystem holds freed inodes back (see
    the module's docstring), the next :func:`measure` waits for them."""
    global _last_deletion
    if not path.exists():
        return
    holds = holds_freed_inodes(path)
    shutil.rmtree(path, ignore_errors=True)
    if holds:
        os.sync()  # the inode table written: held for a minute, not six
        _last_deletion = time.monotonic()


def holds_freed_inodes(path: Path) -> bool:
    """True when ``path`` is on ext4 without a journal: ``/proc/fs/ext4`` knows its block
    device and ``/proc/fs/jbd2`` has no journal for it."""
    try:
        device = os.stat(path).st_dev
        name = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}").resolve().name
    except OSError:
        return False
    journals = Path("/proc/fs/jbd2")
    return (Path("/proc/fs/ext4") / name).is_dir() and not any(journals.glob(f"{name}-*"))


def wait_for_freed_inodes() -> None:
    """Sleep until a minute has passed since the last deletion that freed held inodes."""
    remaining = _last_deletion + FREED_INODES_HELD_S - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


@dataclass
class Measured:
    seconds: float
    cpu_seconds: float
    peak_mib: float  # max(process_peak_mib, tree_pss_mib)
    process_peak_mib: float  # the largest process of the command's tree, its own peak
    tree_pss_mib: float  # the most the tree held at once (sampled Pss)
    exact: bool  # process_peak_mib from wait4 (above the wrapper's floor), else sampled
    upper_bound: bool  # gone before the first sample: wait4's figure, at most this
    returncode: int
    timeline: list[list[float]] = field(default_factory=list)
    stdout: str = field(default="", repr=False)
    stderr: str = field(default="", repr=False)

    def figures(self) -> dict[str, Any]:
        """The figures worth keeping in results.json (not the output)."""
        return {
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "peak_mib": round(self.peak_mib, 1),
            "process_peak_mib": round(self.process_peak_mib, 1),
            "tree_pss_mib": round(self.tree_pss_mib, 1),
            "exact": self.exact,
            "upper_bound": self.upper_bound,
            "timeline": self.timeline,
        }


def measure(
    command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Measured:
    """Run ``command`` (its output captured) and measure it on its own, on a flushed disk,
    once the inodes the harness freed are free to use again."""
    wait_for_freed_inodes()
    os.sync()
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        done = subprocess.run(
            [sys.executable, "-I", "-S", str(OWN_PEAK), report.name, *command],
            cwd=cwd,
            env=env,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"own_peak failed: {done.stderr.decode(errors='replace')[-300:]}")
        figures = json.loads(Path(report.name).read_text(encoding="utf-8"))
    rusage, floor = figures["rusage_maxrss_kb"], figures["floor_kb"]
    exact = rusage > floor
    process_kb = max(figures["sampled_hwm_kb"], rusage if exact else 0)
    upper_bound = process_kb == 0  # gone before the first sample, below the floor
    if upper_bound:
        process_kb = rusage
    return Measured(
        seconds=figures["seconds"],
        cpu_seconds=figures["cpu_seconds"],
        peak_mib=max(process_kb, figures["tree_pss_kb"]) / 1024,
        process_peak_mib=process_kb / 1024,
        tree_pss_mib=figures["tree_pss_kb"] / 1024,
        exact=exact,
        upper_bound=upper_bound,
        returncode=figures["exit_code"],
        timeline=figures["timeline"],
        stdout=done.stdout.decode(errors="replace"),
        stderr=done.stderr.decode(errors="replace"),
    )


def naive_peak_mib(command: list[str]) -> float:
    """What ``subprocess`` + ``os.wait4`` report for ``command``: its ``ru_maxrss``, inflated
    to this process's own size (the old way, shown by the self-check)."""
    process = subprocess.Popen(command)
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = 0
    return usage.ru_maxrss / 1024


ALLOCATE = "import time; block = bytearray({mib} * 2**20); time.sleep(0.3)"


def self_check(ballast_mib: int = 300, child_mib: int = 20) -> tuple[float, Measured]:
    """Hold ``ballast_mib`` here, then measure a child that allocates ``child_mib``: the naive
    figure and the measured one."""
    ballast = bytearray(ballast_mib * 2**20)  # zero-filled by the allocator: touch it
    for offset in range(0, len(ballast), 4096):
        ballast[offset] = 1
    command = [sys.executable, "-c", ALLOCATE.format(mib=child_mib)]
    naive = naive_peak_mib(command)
    measured = measure(command)
    del ballast
    return naive, measured


def main() -> int:
    ballast, child = 300, 20
    naive, measured = self_check(ballast, child)
    print(f"this process holds {ballast} MiB; its child allocates {child} MiB and sleeps 0.3 s")
    print(f"  subprocess + os.wait4 ru_maxrss: {naive:.0f} MiB (this process's size)")
    print(
        f"  harness.measure: peak {measured.peak_mib:.0f} MiB (own peak "
        f"{measured.process_peak_mib:.0f} MiB, {'exact' if measured.exact else 'sampled'}; "
        f"tree Pss {measured.tree_pss_mib:.0f} MiB), {measured.seconds:.2f} s, "
        f"CPU {measured.cpu_seconds:.2f} s"
    )
    ok = child <= measured.peak_mib < child + 40 and naive >= ballast
    print("PASS" if ok else "FAIL", "- a large parent does not inflate the child's figure")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
