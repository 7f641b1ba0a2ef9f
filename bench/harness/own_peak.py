"""Run a command; write its wall time, CPU time and peak memory, its own, to a JSON file.

    python -I -S own_peak.py REPORT.json COMMAND [ARG...]

Started by ``harness.measure`` (standard library only, no ``site``: this process stays small).
Why a process of its own: Linux carries a process's peak resident size (``ru_maxrss``) over
from the memory it had before ``exec``. A child that a large Python process starts (with
``vfork``, as ``subprocess`` does, or ``fork``) reports at least its parent's size: a
benchmark then measures itself. This small process starts the command with ``fork`` from its
own few MiB, so ``wait4`` gives the command's true peak whenever that is above this process's
size (the ``floor`` reported); below it, the figure is the ``VmHWM`` sampled from /proc.

While the command runs, a thread samples every 50 ms the command's process tree (a scan of
/proc for new descendants every 250 ms): each process's ``VmHWM`` (its own high-water mark), the
tree's summed ``Pss`` (resident memory, pages shared between processes counted once), and every
100 ms its CPU time and the whole machine's (/proc/stat) for a timeline of the cores in use.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

SAMPLE_S = 0.05
TIMELINE_EVERY = 2  # a timeline point every 2 samples (100 ms)
SCAN_EVERY = 5  # look for new descendants every 5 samples (250 ms)
TICKS = os.sysconf("SC_CLK_TCK")


def _field_kb(path: str, name: str) -> int:
    """A ``kB`` field of a /proc file (``VmHWM`` of status, ``Pss`` of smaps_rollup); 0 if gone."""
    try:
        with open(path, encoding="ascii") as lines:
            for line in lines:
                if line.startswith(name):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _stat(pid: int) -> tuple[int, int] | None:
    """Parent pid and CPU ticks (user + system, and of the children it has waited for)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), sum(int(v) for v in fields[11:15])


def _machine() -> tuple[int, int]:
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(v) for v in stat.readline().split()[1:9]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _stat(int(name))
            if stat is not None:
                parents[int(name)] = stat[0]
    tree, grew = {root}, True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    return tree


class Sampler(threading.Thread):
    def __init__(self, root: int, start: float) -> None:
        super().__init__(daemon=True)
        self.root, self.start_time = root, start
        self.done = threading.Event()
        self.hwm_kb = self.tree_pss_kb = 0
        self.seen: set[int] = {root}
        self.timeline: list[list[float]] = []

    def run(self) -> None:
        cores = os.cpu_count() or 1
        tree, count = {self.root}, 0
        last_cpu, (last_busy, last_total), last_t = 0, _machine(), 0.0
        while True:
            if count % SCAN_EVERY == 0:
                tree = _descendants(self.root) | {self.root}
                self.seen |= tree
            pss = 0
            for pid in tree:
                self.hwm_kb = max(self.hwm_kb, _field_kb(f"/proc/{pid}/status", "VmHWM:"))
                pss += _field_kb(f"/proc/{pid}/smaps_rollup", "Pss:")
            self.tree_pss_kb = max(self.tree_pss_kb, pss)
            if count % TIMELINE_EVERY == 0:
                cpu = sum(s[1] for s in map(_stat, tree) if s is not None)
                busy, total = _machine()
                now = time.perf_counter() - self.start_time
                if cpu >= last_cpu and now > last_t + SAMPLE_S and total > last_total:
                    ours = (cpu - last_cpu) / TICKS / (now - last_t)
                    machine = (busy - last_busy) / (total - last_total) * cores
                    self.timeline.append([round(now, 2), round(ours, 2), round(machine, 2)])
                    last_cpu, last_busy, last_total, last_t = cpu, busy, total, now
            count += 1
            if self.done.wait(SAMPLE_S):
                return


def main(argv: list[str]) -> int:
    report, command = argv[0], argv[1:]
    floor_kb = _field_kb("/proc/self/status", "VmHWM:")
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - replaced by the command
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    sampler = Sampler(pid, start)
    sampler.start()
    _, status, usage = os.wait4(pid, 0)  # its own usage and that of what it waited for
    seconds = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    figures = {
        "exit_code": os.waitstatus_to_exitcode(status),
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "rusage_maxrss_kb": usage.ru_maxrss,
        "floor_kb": floor_kb,
        "sampled_hwm_kb": sampler.hwm_kb,
        "tree_pss_kb": sampler.tree_pss_kb,
        "processes": len(sampler.seen),
        "timeline": sampler.timeline,
    }
    with open(report, "w", encoding="utf-8") as out:
        json.dump(figures, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
