"""Benchmark staticserve against its peers on this machine; write RESULTS.md and results.json.

    python bench/run.py            # the full run (well under 15 minutes on 2 cores)
    python bench/run.py --quick    # a ~2-minute smoke run

The first run creates bench/.venv with the peers and installs wrk and nginx from Debian.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import bootstrap
from harness.paths import RESULTS_DIR, RESULTS_JSON, RESULTS_MD, WORK_DIR

CAVEATS = [
    "- The machine is shared and its speed drifts by tens of percent over minutes (other virtual "
    "machines on the same host). Every server runs for the whole benchmark; each scenario is timed "
    "in rounds of one second per contender, interleaved (every other round in reverse order), so a "
    "slow spell hits all contenders alike; the best round counts and every round is recorded in "
    "results.json. Ratios within one run are trustworthy; absolute figures move between runs.",
    "- Server and load generator each get one of the two cores (`taskset`), so a server that needs "
    "helper threads (granian's runtime, gunicorn's arbiter) shares its core with them.",
    "- wrk runs are short; ratios taken within one run are more trustworthy than absolute figures "
    "across machines. The bare apps answer every path with the same 2 KB body, except the 500 KB "
    "file's URL, which they answer with its own bytes from memory: ceilings for the server, not "
    "file servers.",
    "- gunicorn's sync worker closes the connection after each response, so wrk reconnects for every "
    "request (tens of thousands of short connections per run): its figures are the noisiest, and "
    "a fall-through 'overhead' below zero there is noise. gthread keeps connections alive.",
    "- A contender that answered wrongly (status, encoding or body length) is listed as WRONG and not "
    "timed (e.g. no 304 support).",
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="~2-minute smoke run: 1 s per wrk run, smaller build corpus",
    )
    parser.add_argument("--duration", type=int, help="seconds per wrk run (default 1)")
    parser.add_argument(
        "--warmup",
        type=int,
        help="seconds of warm-up before a contender's first round (default 0: the check request "
        "before timing has warmed it, and the best round counts)",
    )
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument(
        "--rounds",
        type=int,
        help="interleaved timing rounds per scenario, the best counts (default 4; 1 with --quick)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="run only contenders whose name·server contains this (repeatable)",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        default=[],
        help="time only this serving scenario (repeatable; e.g. --scenario 500k)",
    )
    parser.add_argument(
        "--build-rounds",
        type=int,
        help="rounds of the build benchmark's cold builds against the bound and of the "
        "cold / warm-cache / no-op table (default 3; 1 with --quick)",
    )
    parser.add_argument("--skip-serve", action="store_true", help="skip the serving benchmark")
    parser.add_argument("--skip-build", action="store_true", help="skip the build benchmark")
    parser.add_argument(
        "--skip-startup", action="store_true", help="skip the startup/memory benchmark"
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="only re-render RESULTS.md from results/results.json",
    )
    parser.add_argument(
        "--no-bootstrap", action="store_true", help="use the current interpreter as is"
    )
    return parser.parse_args(argv)


def _settings(args: argparse.Namespace) -> Any:
    from harness.wrk import WrkSettings

    duration = args.duration or 1
    warmup = args.warmup if args.warmup is not None else 0
    if args.rounds is None:
        args.rounds = 1 if args.quick else 4
    return WrkSettings(duration_s=duration, warmup_s=warmup, connections=args.connections)


def run_serving(args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    from harness import corpus, serving
    from harness.contenders import all_contenders
    from harness.scenarios import SCENARIOS

    print("serving benchmark", flush=True)
    scenarios = tuple(s for s in SCENARIOS if not args.scenario or s.key in args.scenario)
    if not scenarios:
        raise SystemExit(f"Error: no scenario named {', '.join(args.scenario)}")
    root, served = corpus.prepare(WORK_DIR)
    chosen = [
        c
        for c in all_contenders()
        if not args.only or any(o.lower() in c.label.lower() for o in args.only)
    ]
    runs = serving.run_all(
        chosen, root, served, settings, WORK_DIR / "runs", args.rounds, scenarios
    )
    files = {
        k: {"url": f.url_path, "size": f.size, "encodings": f.encoded_sizes}
        for k, f in served.items()
    }
    return {"files": files, "contenders": [r.to_json() for r in runs]}


def run_build(args: argparse.Namespace) -> dict[str, Any]:
    from harness import buildbench

    print("build benchmark", flush=True)
    try:
        rounds = args.build_rounds or (1 if args.quick else 3)
        return buildbench.run(WORK_DIR, quick=args.quick, rounds=rounds)
    except Exception as error:  # reported in RESULTS.md rather than losing the serving figures
        return {"error": f"{type(error).__name__}: {error}"}


def run_startup(args: argparse.Namespace) -> dict[str, Any]:
    from harness import startup

    print("startup and memory benchmark", flush=True)
    return startup.run(WORK_DIR, repeats=3 if args.quick else 5)


def write_results(results: dict[str, Any]) -> None:
    from harness import report, targets

    verdicts = targets.evaluate(results)
    results["targets"] = [t.to_json() for t in verdicts]
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(json.dumps(results, indent=1) + "\n")
    RESULTS_MD.write_text(report.render(results, verdicts))
    print(f"wrote {RESULTS_MD} and {RESULTS_JSON}", flush=True)
    for verdict in verdicts:
        print(f"  {'PASS' if verdict.passed else 'FAIL'}  {verdict.text}: {verdict.detail}")


def keep_skipped(results: dict[str, Any], skipped: list[str]) -> None:
    """The sections this run skipped, as the previous results have them (with their date),
    rather than dropping them from RESULTS.md: from results.json, else from RESULTS.md."""
    from harness import kept

    kept.keep(results, skipped, RESULTS_JSON, RESULTS_MD)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not args.no_bootstrap:
        if not args.skip_serve:  # wrk and nginx serve; the build and startup need neither
            bootstrap.ensure_tools()
        bootstrap.ensure_venv()
        if not bootstrap.running_in_venv():
            bootstrap.reexec_in_venv(Path(__file__).resolve(), argv)
    if args.report_only:
        write_results({**json.loads(RESULTS_JSON.read_text()), "caveats": CAVEATS})
        return 0
    from harness import machine

    started = time.monotonic()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    settings = _settings(args)
    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python bench/run.py" + (" " + " ".join(argv) if argv else ""),
        "mode": "quick" if args.quick else "full",
        "machine": machine.describe(),
        "versions": machine.versions(),
        "wrk": {
            "duration_s": settings.duration_s,
            "warmup_s": settings.warmup_s,
            "connections": settings.connections,
            "threads": settings.threads,
            "rounds": args.rounds,
        },
        "caveats": CAVEATS,
    }
    if not args.skip_serve:
        results["serving"] = run_serving(args, settings)
    if not args.skip_build:
        results["build"] = run_build(args)
    if not args.skip_startup:
        results["startup"] = run_startup(args)
    skips = {"serving": args.skip_serve, "build": args.skip_build, "startup": args.skip_startup}
    keep_skipped(results, [section for section, skipped in skips.items() if skipped])
    shutil.rmtree(WORK_DIR / "runs", ignore_errors=True)
    results["elapsed_s"] = time.monotonic() - started
    write_results(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
