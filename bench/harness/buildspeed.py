"""Cold builds against the compression-only bound, round by round, with the cores' use sampled
every 100 ms; then no-op rebuilds.

Each round runs the bound (harness/bound.py) and a cold ``staticserve build`` (empty output)
back to back, in alternating order, so that both meet the same load of the shared machine; the
ratio of a round compares the two. While a command runs, a thread samples its process tree's
CPU time (how many cores it keeps busy) and /proc/stat (how many the whole machine does: the
difference is other people's work), every 100 ms.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from harness.paths import BENCH_DIR, VENV_DIR

SAMPLE_SECONDS = 0.1
NOOP_RUNS = 5
BOUND_TARGET = 1.15  # issue 15: a cold build within 1.15x the compression-only bound, every round
NOOP_TARGET = 0.02  # issue 15: a no-op rebuild within 2 % of a cold build


def free_core_seconds(
    timeline: list[tuple[float, float, float]] | list[list[float]], cores: int
) -> float:
    """Core-seconds nobody used while the command ran: what it left idle (a serial phase, a
    lone job at the end) that it could have had, other people's load notwithstanding."""
    total, last = 0.0, 0.0
    for t, _, machine in timeline:
        total += max(0.0, cores - machine) * (t - last)
        last = t
    return round(total, 2)


def load_adjusted(timed: dict[str, Any], cores: int) -> float:
    """The wall time the command would take on a quiet machine, from what it did on this one:
    its CPU time plus the core-seconds it left idle, spread over the cores. Other people's
    work slows the wall time down; it does not change this."""
    return (timed["cpu_seconds"] + free_core_seconds(timed["timeline"], cores)) / cores


@dataclass
class Timed:
    seconds: float  # wall time of the command, interpreter start included
    cpu_seconds: float  # user + system of the command and every process it waited for
    peak_rss_mb: float  # the most the process tree held at once (sampled)
    timeline: list[tuple[float, float, float]] = field(default_factory=list)
    # (seconds since start, cores the command kept busy, cores the whole machine kept busy)
    report: dict[str, Any] = field(default_factory=dict)  # staticserve build --json


def _machine_busy() -> tuple[int, int]:
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(v) for v in stat.readline().split()[1:9]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def _tree(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) and resident MB of ``pid`` and its live descendants."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0.0
    cpu = rss = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            cpu += times.user + times.system
            rss += proc.memory_info().rss / 1e6
        except psutil.Error:
            continue
    return cpu, rss


def run_timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> Timed:
    """Run ``command``; its wall and CPU time, sampled core use and peak memory."""
    cores = os.cpu_count() or 1
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err)
        samples: list[tuple[float, float, float]] = []
        peak = [0.0]
        done = threading.Event()

        def sample() -> None:
            last_cpu, (last_busy, last_total), last_t = 0.0, _machine_busy(), 0.0
            while not done.wait(SAMPLE_SECONDS):
                cpu, rss = _tree(proc.pid)
                busy, total = _machine_busy()
                now = time.perf_counter() - start
                if cpu >= last_cpu and now > last_t and total > last_total:
                    machine = (busy - last_busy) / (total - last_total) * cores
                    samples.append((round(now, 2), (cpu - last_cpu) / (now - last_t), machine))
                    last_cpu, last_busy, last_total, last_t = cpu, busy, total, now
                peak[0] = max(peak[0], rss)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        errors = err.read().decode(errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {errors.strip()[-300:]}")
        out.seek(0)
        stdout = out.read().decode(errors="replace")
    try:
        report = json.loads(stdout) if stdout.strip().startswith("{") else {}
    except json.JSONDecodeError:
        report = {}
    peak_mb = max(peak[0], usage.ru_maxrss / 1024)  # ru_maxrss: KiB, the largest process
    cpu_seconds = usage.ru_utime + usage.ru_stime
    return Timed(round(seconds, 3), round(cpu_seconds, 3), round(peak_mb, 1), samples, report)


def _staticserve(source: Path, output: Path) -> Timed:
    command = [str(VENV_DIR / "bin" / "staticserve"), "build", "--source", str(source.resolve())]
    command += ["--output", str(output.resolve()), "--json"]
    return run_timed(command, source.parent)


def _bound(source: Path, dest: Path, jobs: int) -> Timed:
    shutil.rmtree(dest, ignore_errors=True)
    command = [sys.executable, "-m", "harness.bound", str(source), str(dest), str(jobs)]
    try:
        return run_timed(command, BENCH_DIR)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def rounds(source: Path, output: Path, work: Path, count: int) -> dict[str, Any]:
    """``count`` rounds of (bound, cold build), alternating which goes first; then no-op
    rebuilds of the last build's output. Leaves ``output`` built."""
    jobs = os.cpu_count() or 1
    results: list[dict[str, Any]] = []
    for number in range(count):
        runs: dict[str, Timed] = {}
        for which in ("bound", "build") if number % 2 == 0 else ("build", "bound"):
            if which == "bound":
                runs["bound"] = _bound(source, work / "bound-out", jobs)
            else:
                shutil.rmtree(output, ignore_errors=True)
                runs["build"] = _staticserve(source, output)
        build, bound = asdict(runs["build"]), asdict(runs["bound"])
        adjusted = load_adjusted(build, jobs) / load_adjusted(bound, jobs)
        results.append(
            {
                "first": "bound" if number % 2 == 0 else "build",
                "build": build,
                "bound": bound,
                "ratio": round(build["seconds"] / bound["seconds"], 3),
                "cpu_ratio": round(build["cpu_seconds"] / bound["cpu_seconds"], 3),
                "adjusted_ratio": round(adjusted, 3),
            }
        )
        print(
            f"    round {number + 1}: build {build['seconds']:.2f} s ({build['cpu_seconds']:.1f} "
            f"CPU-s) vs bound {bound['seconds']:.2f} s ({bound['cpu_seconds']:.1f} CPU-s) = "
            f"{results[-1]['ratio']:.2f}x; load-adjusted {adjusted:.2f}x",
            flush=True,
        )
    noops = [asdict(_staticserve(source, output)) for _ in range(NOOP_RUNS)]
    full = statistics.median(r["build"]["seconds"] for r in results)
    noop = statistics.median(n["seconds"] for n in noops)
    print(f"    no-op: median {noop:.3f} s = {noop / full:.2%} of a cold build", flush=True)
    return {
        "jobs": jobs,
        "rounds": results,
        "noop": noops,
        "full_median_s": full,
        "noop_median_s": noop,
        "noop_ratio": round(noop / full, 4),
    }


# -- rendering (used by report.py) -----------------------------------------------------------

_BARS = " ▁▂▃▄▅▆▇█"


def sparkline(timeline: list[list[float]], cores: int, *, column: int = 0, width: int = 60) -> str:
    """Cores in use over the run, one character per slice of time (█ = every core)."""
    if not timeline:
        return ""
    end = timeline[-1][0]
    slices: list[list[float]] = [[] for _ in range(width)]
    for sample in timeline:
        slices[min(width - 1, int(sample[0] / end * width))].append(sample[1 + column])
    line = ""
    for values in slices:
        if not values:
            line += line[-1:] or " "
            continue
        level = statistics.fmean(values) / cores
        line += _BARS[max(0, min(8, round(level * 8)))]
    return line


def by_tenth(timeline: list[list[float]]) -> list[float]:
    """Mean cores busy in each tenth of the run (the command's own use)."""
    if not timeline:
        return []
    end = timeline[-1][0]
    tenths: list[list[float]] = [[] for _ in range(10)]
    for t, ours, _ in timeline:
        tenths[min(9, int(t / end * 10))].append(ours)
    return [round(statistics.fmean(v), 2) if v else 0.0 for v in tenths]
