"""Cold, warm-cache and no-op builds: staticserve, WhiteNoise and the compression-only bound.

    cd bench && python -m harness.cachebench [--rounds N] [--quick]

The scenario of issue 15, a CI build from a clean checkout with a kept cache folder:

- **cold**: an empty output and an empty ``--cache-dir``;
- **warm cache, empty output, one change**: one CSS file changed, a build into an empty output
  with the cache folder the cold build filled;
- **no-op**: the same build again into that output, nothing changed.

Each is run by ``staticserve build``, by Django's ``collectstatic`` with WhiteNoise's
``CompressedManifestStaticFilesStorage`` (``WHITENOISE_KEEP_ONLY_HASHED_FILES``, the same
work staticserve does) and by the bound: for cold, ``harness/bound.py`` (copy, gzip -9 and
brotli -q11, nothing else); for warm, a copy of the finished output (``cp -a``; ``cp -al``
shown beside: hard links, what a cache could do at best); for no-op, a walk of the output
(``find -printf``, one ``stat`` per file). WhiteNoise has no cache: its warm row is its cold
build, into an empty ``STATIC_ROOT``, of the changed files; its no-op is ``collectstatic``
again into the filled ``STATIC_ROOT``.

Every command runs in a fresh process under ``harness.measure`` (wall, CPU-seconds of it and
its children, its own peak memory, cores in use every 100 ms), writing into a folder of a new
name (``.work/scratch/run-*``); the scratch folders are deleted only after the last
measurement (ext4: right after many files are deleted, the filesystem is slow for a while).
The interpreter that runs this module runs the builds (its staticserve, its Django).
"""

from __future__ import annotations

import compileall
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from harness.machine import wait_for_quiet
from harness.measure import delete_tree, measure
from harness.paths import BENCH_DIR

GOAL = 0.05  # warm cache, empty output, one change: at most this share of the cold build
NOOP_GOAL = 0.02  # no-op rebuild: at most this share of the cold build
CHANGED_FILE = "admin/css/base.css"
ROWS = ("cold", "warm_empty_output_one_change", "noop")
COLUMNS = ("staticserve", "whitenoise", "bound")


class Scratch:
    """Folders of fresh names under ``work/scratch``, deleted together at the end."""

    def __init__(self, work: Path) -> None:
        self.root = work / "scratch"
        self.root.mkdir(parents=True, exist_ok=True)
        self.stamp, self.count = f"{os.getpid()}-{time.time_ns() % 10**9}", 0

    def new(self, what: str) -> Path:
        self.count += 1
        return self.root / f"run-{self.stamp}-{self.count:03d}-{what}"

    def delete(self) -> None:
        delete_tree(self.root)


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    busy = wait_for_quiet().busy_cores
    measured = measure(command, cwd=cwd, env=env)
    if measured.returncode != 0:
        lines = measured.stderr.strip().splitlines()
        raise RuntimeError(f"{' '.join(command[:4])} failed: {lines[-1] if lines else '?'}")
    figures = measured.figures() | {"busy_cores_at_start": busy}
    if measured.stdout.lstrip().startswith("{"):
        report = json.loads(measured.stdout)
        figures["stages"] = {k: round(v, 3) for k, v in report.get("stage_seconds", {}).items()}
        figures["compressed"] = report.get("compressed", 0)
        figures["restored"] = report.get("restored", 0)
    return figures


def _staticserve(source: Path, output: Path, cache: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "staticserve", "build", "--source", str(source)]
    command += ["--output", str(output), "--cache-dir", str(cache), "--json"]
    return _run(command, source.parent)


def _whitenoise(source: Path, root: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "django_settings",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")])),
        "BENCH_SOURCE": str(source),
        "BENCH_STATIC_ROOT": str(root),
        "BENCH_KEEP_ONLY_HASHED": "1",
    }
    command = [sys.executable, "-m", "django", "collectstatic", "--noinput", "-v", "0"]
    return _run(command, BENCH_DIR, env)


def _bound_cold(source: Path, dest: Path) -> dict[str, Any]:
    jobs = str(os.cpu_count() or 1)
    return _run([sys.executable, "-m", "harness.bound", str(source), str(dest), jobs], BENCH_DIR)


def _change(source: Path, number: int) -> None:
    path = source / CHANGED_FILE
    path.write_bytes(
        path.read_bytes() + f"\n/* changed for the cache benchmark, {number} */\n".encode()
    )


def _round(source: Path, scratch: Scratch, number: int, whitenoise: bool) -> dict[str, Any]:
    """One round: every cell of the table, each row's columns in turn (reversed every other
    round, so that a slow spell of the machine does not always land on the same column)."""
    cells: dict[str, dict[str, Any]] = {row: {} for row in ROWS}
    cache, out = scratch.new("cache"), scratch.new("staticserve-warm")
    steps: dict[str, list[tuple[str, Any]]] = {
        "cold": [
            ("bound", lambda: _bound_cold(source, scratch.new("bound-cold"))),
            ("staticserve", lambda: _staticserve(source, scratch.new("staticserve-cold"), cache)),
        ],
        "warm_empty_output_one_change": [
            ("staticserve", lambda: _staticserve(source, out, cache)),
            ("bound", lambda: _run(["cp", "-a", str(out), str(scratch.new("cp-a"))], BENCH_DIR)),
            (
                "bound_hardlinks",
                lambda: _run(["cp", "-al", str(out), str(scratch.new("cp-al"))], BENCH_DIR),
            ),
        ],
        "noop": [
            ("staticserve", lambda: _staticserve(source, out, cache)),
            ("bound", lambda: _run(["find", str(out), "-printf", "%p %s %T@\\n"], BENCH_DIR)),
        ],
    }
    wn_root = scratch.new("whitenoise-warm")
    if whitenoise:
        steps["cold"].append(
            ("whitenoise", lambda: _whitenoise(source, scratch.new("whitenoise-cold")))
        )
        steps["warm_empty_output_one_change"].insert(
            1, ("whitenoise", lambda: _whitenoise(source, wn_root))
        )
        steps["noop"].append(("whitenoise", lambda: _whitenoise(source, wn_root)))
    for row in ROWS:
        if row == "warm_empty_output_one_change":
            _change(source, number)
        order = steps[row] if number % 2 == 0 else steps[row][::-1]
        if row == "warm_empty_output_one_change":  # the copies copy staticserve's output
            order = sorted(order, key=lambda step: step[0].startswith("bound"))
        for column, step in order:
            cells[row][column] = step()
    cells["cache_bytes"] = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
    return cells


def _median_cell(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the rounds; the timeline and stages of the median run."""
    middle = sorted(cells, key=lambda c: c["seconds"])[len(cells) // 2]
    merged = dict(middle)
    for key in ("seconds", "cpu_seconds", "peak_mib"):
        merged[key] = round(statistics.median(c[key] for c in cells), 3)
    return merged


def _ratios(cells: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    ours = {row: cells[row]["staticserve"]["seconds"] for row in ROWS}
    ratios: dict[str, dict[str, float]] = {}
    for row in ROWS:
        ratios[row] = {"bound": round(ours[row] / cells[row]["bound"]["seconds"], 3)}
        if "whitenoise" in cells[row]:
            ratios[row]["whitenoise"] = round(ours[row] / cells[row]["whitenoise"]["seconds"], 3)
        if row != "cold":
            ratios[row]["cold"] = round(ours[row] / ours["cold"], 4)
    return ratios


def _compiled(package: str) -> None:
    """``package``'s bytecode written, as ``pip install`` does: a machine that sets
    PYTHONDONTWRITEBYTECODE (or an editable install never imported) would otherwise charge
    every measured command with compiling it."""
    spec = importlib.util.find_spec(package)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(folder, quiet=1)


def run(source: Path, work: Path, rounds: int = 1) -> dict[str, Any]:
    """``rounds`` rounds of the table on ``source`` (whose one file each round changes)."""
    whitenoise = all(importlib.util.find_spec(m) for m in ("django", "whitenoise"))
    for package in ("staticserve", "django", "whitenoise"):
        _compiled(package)
    scratch = Scratch(work)
    try:
        per_round = [_round(source, scratch, number, whitenoise) for number in range(rounds)]
    finally:
        scratch.delete()  # after the last measurement, not between them (ext4)
    cells = {
        row: {col: _median_cell([r[row][col] for r in per_round]) for col in per_round[0][row]}
        for row in ROWS
    }
    ratios = _ratios(cells)
    warm, noop = ratios["warm_empty_output_one_change"]["cold"], ratios["noop"]["cold"]
    for r in per_round[:-1]:  # keep one timeline per cell: the last round's
        for row in ROWS:
            for cell in r[row].values():
                cell.pop("timeline", None)
    return {
        "rounds": rounds,
        "cores": os.cpu_count() or 1,
        "cells": cells,
        "ratios": ratios,
        "per_round": per_round,
        "whitenoise": "keep_only_hashed" if whitenoise else "not installed in this interpreter",
        "goal": GOAL,
        "noop_goal": NOOP_GOAL,
        "ratio": warm,
        "passed": warm <= GOAL,
        "noop_ratio": noop,
        "noop_passed": noop <= NOOP_GOAL,
        "cache_bytes": int(statistics.median(r["cache_bytes"] for r in per_round)),
    }


def main(argv: list[str]) -> int:
    """This table alone, on the build benchmark's corpus, with this interpreter's staticserve."""
    import argparse

    from harness import buildbench, cachetable
    from harness.paths import RESULTS_DIR, WORK_DIR

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="rounds, the median counts")
    parser.add_argument("--quick", action="store_true", help="the smaller corpus")
    parser.add_argument("--render", action="store_true", help="print the last saved table")
    args = parser.parse_args(argv)
    saved = RESULTS_DIR / "cachebench.json"
    if args.render:
        print("\n".join(cachetable.render(json.loads(saved.read_text()))))
        return 0
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    source, parts = buildbench.assemble(WORK_DIR, quick=args.quick)
    print(f"corpus: {sum(1 for p in source.rglob('*') if p.is_file())} files ({', '.join(parts)})")
    result = run(source, WORK_DIR, args.rounds)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(result, indent=1) + "\n")
    print("\n".join(cachetable.render(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
