"""Serve the corpus with every contender in turn and time each scenario with wrk."""

from __future__ import annotations

import os
import subprocess
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness import wrk
from harness.contenders import (
    OURS,
    Contender,
    probe_import,
    server_command,
    write_nginx_config,
)
from harness.corpus import ServedFile
from harness.machine import Quietness, wait_for_quiet
from harness.paths import BENCH_DIR
from harness.procs import ServerFailed, free_port, running
from harness.scenarios import PING_PATH, SCENARIOS, Check, Scenario, check, memory_file

UNAVAILABLE = "unavailable"
FAILED = "failed"
MEASURED = "measured"


@dataclass(slots=True)
class ScenarioResult:
    scenario: str
    check: Check
    timing: wrk.WrkResult | None = None  # the best round
    rounds: list[float] = field(default_factory=list)  # req/s of every round timed

    @property
    def wrong(self) -> bool:
        return not self.check.ok

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "check": asdict(self.check),
            "timing": self.timing.to_json() if self.timing else None,
            "rounds": [round(rps) for rps in self.rounds],
        }


@dataclass(slots=True)
class ContenderRun:
    contender: Contender
    state: str
    reason: str | None = None
    quietness: Quietness | None = None
    results: dict[str, ScenarioResult] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.contender.key,
            "name": self.contender.name,
            "server": self.contender.server,
            "role": self.contender.role,
            "state": self.state,
            "reason": self.reason,
            "busy_cores_before": self.quietness.busy_cores if self.quietness else None,
            "waited_for_quiet_s": self.quietness.waited_s if self.quietness else None,
            "results": {k: r.to_json() for k, r in self.results.items()},
        }


def _app_env(root: Path, served: dict[str, ServedFile]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GRANIAN_", "GUNICORN_", "UVICORN_", "HYPERCORN_"))
    }
    env.update(BENCH_ROOT=str(root), BENCH_PREFIX="/static", PYTHONDONTWRITEBYTECODE="1")
    large = memory_file(served)  # what the bare apps send from memory for that scenario
    env.update(BENCH_MEMORY_PATH=large.url_path, BENCH_MEMORY_FILE=str(large.disk_path))
    env["PYTHONPATH"] = str(BENCH_DIR)
    return env


def _line(result: ScenarioResult) -> str:
    if result.timing is None:
        return f"WRONG: {result.check.problem}"
    t = result.timing
    rounds = " / ".join(f"{rps:,.0f}" for rps in result.rounds)
    return (
        f"{t.requests_per_s:>10,.0f} req/s  p50 {t.p50_ms or 0:6.2f} ms  p99 {t.p99_ms or 0:6.2f} ms"
        f"  {result.check.status} {result.check.encoding}  (rounds {rounds})"
    )


def _start(
    contender: Contender, env: dict[str, str], root: Path, workdir: Path, stack: ExitStack
) -> tuple[ContenderRun, int]:
    """Start the contender's server inside ``stack``; the run says whether it came up."""
    if contender.module is not None:
        reason = probe_import(contender.module, env)
        if reason is not None:
            state = UNAVAILABLE if "ImportError" in reason or "ModuleNotFound" in reason else FAILED
            return ContenderRun(contender, state, reason=reason), 0
    port = free_port()
    rundir = workdir / contender.key.replace("@", "-")
    rundir.mkdir(parents=True, exist_ok=True)
    if contender.server == "nginx":
        write_nginx_config(root, port, rundir, generated=contender.role == OURS)
    command = server_command(contender, port, rundir)
    try:
        stack.enter_context(
            running(
                command,
                port=port,
                env=env,
                cwd=BENCH_DIR,
                log_path=rundir / "server.log",
                ready_path=PING_PATH,
            )
        )
    except ServerFailed as error:
        return ContenderRun(contender, FAILED, reason=str(error)), 0
    return ContenderRun(contender, MEASURED), port


def run_all(
    contenders: list[Contender],
    root: Path,
    served: dict[str, ServedFile],
    settings: wrk.WrkSettings,
    workdir: Path,
    rounds: int,
    scenarios: tuple[Scenario, ...] = SCENARIOS,
) -> list[ContenderRun]:
    """Every contender's server up at once; each scenario timed in interleaved rounds.

    The machines are shared and their speed drifts by tens of percent over minutes. Timing
    every contender for a second, round after round (in reverse order every other round), puts
    a slow spell on all of them alike; the best round of each counts.
    """
    with ExitStack() as stack:
        env = _app_env(root, served)
        started = [_start(c, env, root, workdir, stack) for c in contenders]
        live = [(run, port) for run, port in started if run.state == MEASURED]
        for run, _ in started:
            if run.state != MEASURED:
                print(f"  {run.contender.label}: {run.state} ({run.reason})", flush=True)
        for run, port in live:
            for scenario in scenarios:
                run.results[scenario.key] = ScenarioResult(
                    scenario.key, check(run.contender, scenario, served, port)
                )
        for scenario in scenarios:
            _time_scenario(scenario.key, live, settings, rounds)
    return [run for run, _ in started]


def _time_scenario(
    key: str, live: list[tuple[ContenderRun, int]], settings: wrk.WrkSettings, rounds: int
) -> None:
    quiet = wait_for_quiet()
    print(f"  {key}  (busy cores before: {quiet.busy_cores})", flush=True)
    for number in range(rounds):
        order = live if number % 2 == 0 else live[::-1]
        this_round = settings if number == 0 else replace(settings, warmup_s=0)
        for run, port in order:
            result = run.results[key]
            if not result.check.ok:
                continue
            run.quietness = run.quietness or quiet
            url = f"http://127.0.0.1:{port}{result.check.path}"
            try:
                timing = wrk.run(url, result.check.request_headers, this_round)
            except (ValueError, subprocess.TimeoutExpired) as error:
                result.check.problem = f"wrk could not measure it: {str(error)[:200]}"
                continue
            result.rounds.append(timing.requests_per_s)
            if result.timing is None or timing.requests_per_s > result.timing.requests_per_s:
                result.timing = timing
    for run, _ in live:
        print(f"    {run.contender.label:44} {_line(run.results[key])}", flush=True)
