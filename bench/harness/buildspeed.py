"""Cold builds against the compression-only bound, round by round, with the cores' use sampled
every 100 ms; then no-op rebuilds.

Each round runs the bound (harness/bound.py) and a cold ``staticserve build`` (empty output)
back to back, in alternating order, so that both meet the same load of the shared machine; the
ratio of a round compares the two. Each command runs under ``harness.measure``, which samples
its process tree's CPU time (how many cores it keeps busy) and /proc/stat (how many the whole
machine does: the difference is other people's work) every 100 ms, and reads the command's own
peak memory.
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.machine import compression_speed
from harness.measure import delete_tree, measure, wait_for_freed_inodes
from harness.paths import BENCH_DIR, VENV_DIR

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
    peak_rss_mb: float  # its own peak memory, MiB (harness.measure)
    timeline: list[tuple[float, float, float]] = field(default_factory=list)
    # (seconds since start, cores the command kept busy, cores the whole machine kept busy)
    report: dict[str, Any] = field(default_factory=dict)  # staticserve build --json
    machine_speed: tuple[float, float] = (0.0, 0.0)  # compression_speed() just before, after


def run_timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> Timed:
    """Run ``command`` in a fresh process (``harness.measure``): its wall and CPU time, core
    use sampled every 100 ms, and its own peak memory (not this process's)."""
    measured = measure(command, cwd=cwd, env=env)
    if measured.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {measured.stderr.strip()[-300:]}")
    stdout = measured.stdout
    try:
        report = json.loads(stdout) if stdout.strip().startswith("{") else {}
    except json.JSONDecodeError:
        report = {}
    return Timed(
        seconds=round(measured.seconds, 3),
        cpu_seconds=round(measured.cpu_seconds, 3),
        peak_rss_mb=round(measured.peak_mib, 1),
        timeline=[(t, ours, machine) for t, ours, machine in measured.timeline],
        report=report,
    )


def _staticserve(source: Path, output: Path) -> Timed:
    command = [str(VENV_DIR / "bin" / "staticserve"), "build", "--source", str(source.resolve())]
    command += ["--output", str(output.resolve()), "--json"]
    return run_timed(command, source.parent)


def _bound(source: Path, dest: Path, jobs: int) -> Timed:
    command = [sys.executable, "-m", "harness.bound", str(source), str(dest), str(jobs)]
    return run_timed(command, BENCH_DIR)


def _between_probes(run: Callable[[], Timed]) -> Timed:
    """``run()``, with the machine's speed taken just before and just after it."""
    wait_for_freed_inodes()  # so that the first probe is taken right before the run
    before = compression_speed()
    timed = run()
    timed.machine_speed = (before, compression_speed())
    return timed


def machine_speed_ratio(build: dict[str, Any], bound: dict[str, Any]) -> float:
    """How fast the machine was around the build, against around the bound (1: the same)."""
    around = [statistics.fmean(run["machine_speed"]) for run in (build, bound)]
    return round(around[0] / around[1], 3) if all(around) else 0.0


def rounds(source: Path, output: Path, work: Path, count: int) -> dict[str, Any]:
    """``count`` rounds of (bound, cold build), alternating which goes first; then no-op
    rebuilds of the last build's output. Leaves ``output`` built.

    Every run writes a folder of its own, and the earlier ones are deleted only after the
    no-op rebuilds: a run never creates its files among inodes another one has just freed
    (harness/measure.py says what that costs, and whom).
    """
    jobs = os.cpu_count() or 1
    earlier = work / "cold-runs"
    delete_tree(earlier)
    delete_tree(output)
    results: list[dict[str, Any]] = []
    for number in range(count):
        runs: dict[str, Timed] = {}
        for which in ("bound", "build") if number % 2 == 0 else ("build", "bound"):
            if which == "bound":
                dest = earlier / f"bound-{number + 1}"
                runs["bound"] = _between_probes(functools.partial(_bound, source, dest, jobs))
            else:
                out = output if number == count - 1 else earlier / f"build-{number + 1}"
                runs["build"] = _between_probes(functools.partial(_staticserve, source, out))
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
                "machine_speed_ratio": machine_speed_ratio(build, bound),
            }
        )
        print(
            f"    round {number + 1}: build {build['seconds']:.2f} s ({build['cpu_seconds']:.1f} "
            f"CPU-s) vs bound {bound['seconds']:.2f} s ({bound['cpu_seconds']:.1f} CPU-s) = "
            f"{results[-1]['ratio']:.2f}x; load-adjusted {adjusted:.2f}x; machine speed "
            f"{results[-1]['machine_speed_ratio']:.2f}x",
            flush=True,
        )
    noops = [asdict(_staticserve(source, output)) for _ in range(NOOP_RUNS)]
    delete_tree(earlier)
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
    end = timeline[-1][0] if timeline else 0.0
    if end <= 0:
        return ""
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
