"""The compression cache folder (``--cache-dir``): a CI build from a clean checkout.

Scenario of the issue: a build into an EMPTY output folder with a warm cache folder and one
changed file, against a cold build (empty output, empty cache) of the same files. Each build
runs in a fresh process; its wall time, CPU time (user + system, all threads) and peak
resident memory are its own (``os.wait4``), not summed over other children.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.machine import wait_for_quiet

GOAL = 0.05  # the warm build may take at most this share of the cold one
CHANGED_FILE = "admin/css/base.css"


@dataclass(frozen=True, slots=True)
class Measured:
    seconds: float  # wall time of the command, interpreter start included
    cpu_seconds: float  # user + system time of that process
    peak_rss_mb: float  # its peak resident memory
    compressed: int  # compressions run (the build's --json report)
    restored: int  # variants taken from the cache folder
    busy_cores_at_start: float  # other people's load when it started


def measured_build(source: Path, output: Path, cache: Path) -> Measured:
    """``staticserve build --cache-dir`` in a fresh process, measured on its own."""
    busy = wait_for_quiet().busy_cores
    command = [sys.executable, "-m", "staticserve", "build", "--source", str(source)]
    command += ["--output", str(output), "--cache-dir", str(cache), "--json"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=source.parent, stdout=out, stderr=err)
        # Reaped here, with its own resource usage (RUSAGE_CHILDREN would sum every child).
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        lines = stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError(
            f"staticserve build failed: {lines[-1] if lines else process.returncode}"
        )
    report = json.loads(stdout)
    return Measured(
        seconds=elapsed,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux: KiB
        compressed=report["compressed"],
        restored=report.get("restored", 0),
        busy_cores_at_start=busy,
    )


def _change(source: Path) -> None:
    path = source / CHANGED_FILE
    path.write_bytes(path.read_bytes() + b"\n/* changed for the cache benchmark */\n")


def run(source: Path, work: Path) -> dict[str, Any]:
    """Cold build (empty cache and output), then one file changed and a build into an emptied
    output with the warm cache; a build into an emptied output with nothing changed besides."""
    cache, output = work / "cache-bench-cache", work / "cache-bench-out"
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(output, ignore_errors=True)
    runs = {"cold": measured_build(source, output, cache)}
    _change(source)
    shutil.rmtree(output)
    runs["warm_empty_output_one_change"] = measured_build(source, output, cache)
    shutil.rmtree(output)
    runs["warm_empty_output_no_change"] = measured_build(source, output, cache)
    cold, warm = runs["cold"].seconds, runs["warm_empty_output_one_change"].seconds
    cache_bytes = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
    return {
        "runs": {name: asdict(m) for name, m in runs.items()},
        "ratio": warm / cold,
        "goal": GOAL,
        "passed": warm / cold <= GOAL,
        "cache_bytes": cache_bytes,
    }


def main() -> int:
    """``cd bench && python -m harness.cachebench [--quick]``: this scenario alone, on the build
    benchmark's corpus, with the current interpreter's staticserve."""
    from harness import buildbench
    from harness.paths import WORK_DIR

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    source, parts = buildbench.assemble(WORK_DIR, quick="--quick" in sys.argv)
    print(f"corpus: {sum(1 for p in source.rglob('*') if p.is_file())} files ({', '.join(parts)})")
    result = run(source, WORK_DIR)
    for name, figures in result["runs"].items():
        print(
            f"  {name}: {figures['seconds']:.2f} s, CPU {figures['cpu_seconds']:.2f} s, "
            f"peak {figures['peak_rss_mb']:.0f} MB, compressed {figures['compressed']}, "
            f"restored {figures['restored']}, others' busy cores {figures['busy_cores_at_start']:.2f}"
        )
    verdict = "PASS" if result["passed"] else "FAIL"
    print(
        f"{verdict}  warm cache, empty output, one change: {result['ratio']:.1%} of the cold build (goal <= {GOAL:.0%})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
