"""Serve the corpus with every contender in turn and time each scenario with wrk."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness import wrk
from harness.contenders import Contender, probe_import, server_command, write_nginx_config
from harness.corpus import ServedFile
from harness.machine import Quietness, wait_for_quiet
from harness.paths import BENCH_DIR
from harness.procs import ServerFailed, free_port, running
from harness.scenarios import PING_PATH, SCENARIOS, Check, Scenario, check

UNAVAILABLE = "unavailable"
FAILED = "failed"
MEASURED = "measured"


@dataclass(slots=True)
class ScenarioResult:
    scenario: str
    check: Check
    timing: wrk.WrkResult | None = None  # the best round
    rounds: list[float] = field(default_factory=list)  # req/s of every round timed

    def merge(self, again: ScenarioResult) -> None:
        """Fold in another round: every round is kept, the fastest one counts."""
        self.rounds += again.rounds
        if again.timing is not None and (
            self.timing is None or again.timing.requests_per_s > self.timing.requests_per_s
        ):
            self.timing, self.check = again.timing, again.check

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
    seconds: float = 0.0
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
            "seconds": round(self.seconds, 1),
            "results": {k: r.to_json() for k, r in self.results.items()},
        }


def _app_env(root: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GRANIAN_", "GUNICORN_", "UVICORN_"))
    }
    env.update(BENCH_ROOT=str(root), BENCH_PREFIX="/static", PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = str(BENCH_DIR)
    return env


def _measure(
    contender: Contender,
    port: int,
    served: dict[str, ServedFile],
    settings: wrk.WrkSettings,
    scenarios: tuple[Scenario, ...],
) -> dict[str, ScenarioResult]:
    results: dict[str, ScenarioResult] = {}
    for scenario in scenarios:
        verdict = check(contender, scenario, served, port)
        result = ScenarioResult(scenario.key, verdict)
        if verdict.ok:
            url = f"http://127.0.0.1:{port}{verdict.path}"
            try:
                result.timing = wrk.run(url, verdict.request_headers, settings)
                result.rounds.append(result.timing.requests_per_s)
            except (ValueError, subprocess.TimeoutExpired) as error:
                verdict.problem = f"wrk could not measure it: {str(error)[:200]}"
        results[scenario.key] = result
        print(f"    {scenario.key:12} {_line(result)}", flush=True)
    return results


def _line(result: ScenarioResult) -> str:
    if result.timing is None:
        return f"WRONG: {result.check.problem}"
    t = result.timing
    return (
        f"{t.requests_per_s:>10,.0f} req/s  p50 {t.p50_ms or 0:6.2f} ms  p99 {t.p99_ms or 0:6.2f} ms"
        f"  {result.check.status} {result.check.encoding}"
    )


def run_contender(
    contender: Contender,
    root: Path,
    served: dict[str, ServedFile],
    settings: wrk.WrkSettings,
    workdir: Path,
    scenarios: tuple[Scenario, ...] = SCENARIOS,
) -> ContenderRun:
    """Start the contender's server, check and time every scenario, stop it."""
    env = _app_env(root)
    if contender.module is not None:
        reason = probe_import(contender.module, env)
        if reason is not None:
            state = UNAVAILABLE if "ImportError" in reason or "ModuleNotFound" in reason else FAILED
            return ContenderRun(contender, state, reason=reason)
    quiet = wait_for_quiet()
    port = free_port()
    rundir = workdir / contender.key.replace("@", "-")
    rundir.mkdir(parents=True, exist_ok=True)
    if contender.server == "nginx":
        write_nginx_config(root, port, rundir)
    started = time.monotonic()
    command = server_command(contender, port, rundir)
    print(f"  {contender.label}  (busy cores before: {quiet.busy_cores})", flush=True)
    try:
        with running(
            command,
            port=port,
            env=env,
            cwd=BENCH_DIR,
            log_path=rundir / "server.log",
            ready_path=PING_PATH,
        ):
            results = _measure(contender, port, served, settings, scenarios)
    except ServerFailed as error:
        return ContenderRun(contender, FAILED, reason=str(error), quietness=quiet)
    return ContenderRun(
        contender, MEASURED, quietness=quiet, seconds=time.monotonic() - started, results=results
    )


Figure = tuple[str, str, str]  # (contender name, server, scenario)


def remeasure(
    runs: list[ContenderRun],
    figures: set[Figure],
    root: Path,
    served: dict[str, ServedFile],
    settings: wrk.WrkSettings,
    workdir: Path,
    rounds: int = 2,
) -> None:
    """Time ``figures`` ``rounds`` more times, contenders interleaved; the best round counts.

    For the close calls: both sides of a comparison get the same number of rounds, so
    best-of-N favours neither while taking out a moment of someone else's load.
    """
    wanted = {(c.contender.name, c.contender.server): c for c in runs if c.state == MEASURED}
    plan: dict[tuple[str, str], list[Scenario]] = {}
    for name, server, key in sorted(figures):
        if (name, server) in wanted:
            plan.setdefault((name, server), []).append(_scenario(key))
    for _ in range(rounds):
        for who, scenarios in plan.items():
            run = wanted[who]
            again = run_contender(run.contender, root, served, settings, workdir, tuple(scenarios))
            for key, result in again.results.items():
                run.results[key].merge(result)


def _scenario(key: str) -> Scenario:
    return next(s for s in SCENARIOS if s.key == key)
