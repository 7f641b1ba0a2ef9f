"""``staticserve build`` killed with SIGKILL at aimed moments leaves the live build servable.

Each trial changes every source, starts the build as a subprocess and kills it:

- ``compress``: at a random instant of the compression stage (located by a calibration build's
  own stage timings, and confirmed afterwards: no journal means publishing had not begun);
- ``publish``: a random instant after the publish journal appears;
- ``temp file``: as soon as a content file is being written under its temporary name;
- ``manifest``: as soon as the new manifest is being written under its temporary name;
- ``twice``: killed during compression, then again during publishing, before a build completes.

After each kill, every file the live manifest names exists with the sha256 it promises, a
uvicorn serving the output answers every hashed URL of the live build with those bytes, and the
next build succeeds, goes live and leaves no temporary file, journal or unaccounted file behind.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from staticserve.manifest import MANIFEST_NAME, Manifest

from .conftest import (
    Server,
    Site,
    assert_serves,
    build_command,
    check_live_build,
    child_env,
    leftovers,
    make_site,
    record,
    run_build,
)

CORPUS = {"css_files": 16, "css_size": 24_000}
JOURNAL = Path(".staticserve") / "journal.json"
AIMS = ("compress", "publish", "temp file", "manifest", "twice")


@dataclass
class Bench:
    site: Site
    server: Server
    startup: float  # seconds from spawning the build to the start of compression
    compress: float
    publish: float
    version: int = 1


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    base = tmp_path_factory.mktemp("killed")
    site = make_site(base / "project", stray=False, **CORPUS)
    # Calibrate: where the stages of a full build of this corpus fall, seen from outside.
    site.write_sources(1000, **CORPUS)
    started = time.monotonic()
    result = run_build(site, "--json")
    total = time.monotonic() - started
    stages = json.loads(result.stdout)["stage_seconds"]
    run_stages = sum(stages.values())
    startup = total - run_stages + stages["collect"] + stages["fingerprint"]
    server = Server("uvicorn", site, "production", base / "uvicorn.log", reload="0.1")
    try:
        yield Bench(site, server, startup, stages["compress"], stages["publish"], 1000)
    finally:
        server.stop()
    assert "Traceback" not in server.log_text(), server.log_text()[-3000:]


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> bool:
    """Poll ``condition`` every half millisecond while the build runs."""
    while process.poll() is None:
        if condition():
            return True
        time.sleep(0.0005)
    return False


def temp_file_exists(out: Path) -> bool:
    for folder in ("css", "js", "media"):
        try:
            names = os.listdir(out / folder)
        except FileNotFoundError:
            continue
        if any(name.endswith(".staticserve-tmp") for name in names):
            return True
    return False


def kill_build(bench: Bench, aim: str, rng: random.Random) -> str:
    """Start a build, kill it as ``aim`` says; return where it was when it died."""
    out = bench.site.out
    live_generation = Manifest.load(out).generation
    process = subprocess.Popen(
        [*build_command(bench.site)], cwd=bench.site.base, env=child_env(), stderr=subprocess.PIPE
    )
    try:
        if aim == "compress":  # the journal is written as compression starts writing files
            if wait_until(lambda: (out / JOURNAL).exists(), process):
                time.sleep(rng.uniform(0, 0.8) * bench.compress)
        elif aim == "publish":  # every journaled file written: compression is over
            if wait_until(lambda: all_written(out), process):
                time.sleep(rng.uniform(0, bench.publish))
        elif aim == "temp file":
            wait_until(lambda: temp_file_exists(out), process)
        elif aim == "manifest":
            wait_until(lambda: (out / ".staticserve.json.staticserve-tmp").exists(), process)
        process.send_signal(signal.SIGKILL)
    finally:
        _, stderr = process.communicate(timeout=120)
    if process.returncode == 0:
        return "finished first"
    assert process.returncode == -signal.SIGKILL, stderr.decode(errors="replace")
    return where_it_died(out, live_generation)


def all_written(out: Path) -> bool:
    try:
        names = json.loads((out / JOURNAL).read_text())
    except (OSError, ValueError):  # not there yet, or being replaced
        return False
    return all((out / name).exists() for name in names)


def where_it_died(out: Path, live_generation: int) -> str:
    """Read off the output what the build was doing when it was killed.

    A new manifest live: publishing, after the switch. Else files the journal names but the
    disk lacks: still compressing and writing; none: publishing, before the switch.
    """
    if Manifest.load(out).generation != live_generation:
        return "publishing, after the switch"
    if not (out / JOURNAL).exists():
        return "before compressing"
    return "publishing, before the switch" if all_written(out) else "compressing"


def check_servable(bench: Bench, manifest: Manifest) -> int:
    return assert_serves(bench.server.port, manifest)


def trial(bench: Bench, aim: str, rng: random.Random) -> list[str]:
    site = bench.site
    before = Manifest.load(site.out)
    bench.version += 1
    site.write_sources(bench.version, **CORPUS)
    outcomes = []
    for step in ["compress", "publish"] if aim == "twice" else [aim]:
        outcomes.append(kill_build(bench, step, rng))
        live = check_live_build(site.out)
        # Each killed build may have switched the manifest before it died (a rerun of a build
        # that died before deleting its journal publishes again, as a new generation).
        assert before.generation <= live.generation <= before.generation + len(outcomes)
        check_servable(bench, live)
    result = run_build(site)
    assert result.stderr == ""
    final = check_live_build(site.out)
    assert final.generation >= before.generation + 1
    assert leftovers(site.out) == []
    assert not [p for p in site.out.rglob("*") if p.name.endswith(".staticserve-tmp")]
    assert not (site.out / JOURNAL).exists()
    check_servable(bench, final)
    return outcomes


def run_trials(bench: Bench, count: int, seed: int) -> None:
    rng = random.Random(seed)
    seen: dict[str, int] = {}
    for number in range(count):
        aim = AIMS[number % len(AIMS)]
        for outcome in trial(bench, aim, rng):
            key = f"{aim} -> {outcome}"
            seen[key] = seen.get(key, 0) + 1
    record("killed builds: trials", count)
    for key, value in sorted(seen.items()):
        record(f"killed builds: {key}", value)
    # The aims hit what they aim at: builds died while compressing and while publishing.
    compressing = sum(v for k, v in seen.items() if k.endswith("-> compressing"))
    publishing = sum(v for k, v in seen.items() if "-> publishing" in k)
    assert compressing >= count // len(AIMS), seen
    assert publishing >= count // len(AIMS), seen


class Killed(BaseException):
    """Stands for SIGKILL at one exact line: nothing after it runs."""


def test_a_build_killed_after_the_switch_but_before_pruning_leaks_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the files the new manifest dropped were named by no manifest or journal, so
    no later build removed them."""
    import importlib

    from staticserve.pipeline import build, load_config

    publish_stage = importlib.import_module("staticserve.pipeline.publish")

    site = make_site(tmp_path / "project", stray=False)
    for version in (2, 3):  # generation 3 still retains generation 1's files (keep = 3)
        site.write_sources(version)
        run_build(site)
    site.write_sources(4)

    def die(*args: object) -> int:
        raise Killed

    monkeypatch.setattr(publish_stage, "_prune", die)
    with pytest.raises(Killed):
        build(load_config(site.config))
    monkeypatch.undo()
    assert Manifest.load(site.out).generation == 4  # the switch happened, pruning did not
    assert leftovers(site.out) != []  # generation 1's files, no longer named by any manifest
    run_build(site)
    assert leftovers(site.out) == []
    check_live_build(site.out)


def test_builds_killed_at_aimed_moments(bench: Bench) -> None:
    run_trials(bench, len(AIMS), seed=1)


@pytest.mark.slow
def test_many_builds_killed_at_aimed_moments(bench: Bench) -> None:
    run_trials(bench, 25, seed=2)


# -- a first build killed: no live manifest yet, only the journal says the files are ours -------

HASHED = re.compile(r"\.[0-9a-f]{12}\.")


def journaled_hashed_files(out: Path) -> list[Path]:
    """The hashed files (and variants) a build's journal says it may write."""
    try:
        names = json.loads((out / JOURNAL).read_text())
    except (OSError, ValueError):  # not there yet, or being replaced
        return []
    return [out / name for name in names if HASHED.search(name)]


def some_files_written(out: Path) -> bool:
    return any(path.exists() for path in journaled_hashed_files(out))


def all_files_written(out: Path) -> bool:
    files = journaled_hashed_files(out)
    manifest_temp = (out / ".staticserve.json.staticserve-tmp").exists()
    return manifest_temp or (bool(files) and all(path.exists() for path in files))


# What each aim waits for in the output of a first build (it has no manifest yet).
FIRST_BUILD_AIMS: dict[str, Callable[[Path], bool]] = {
    "journal written": some_files_written,
    "temp files present": temp_file_exists,
    "before the manifest": all_files_written,
}


def kill_first_build(site: Site, aim: str) -> bool:
    """Start a first build into an empty ``out``; freeze it (SIGSTOP) as soon as the output shows
    ``aim``, then kill it. True when the frozen output still showed ``aim`` and no manifest."""
    shutil.rmtree(site.out, ignore_errors=True)
    shows = FIRST_BUILD_AIMS[aim]
    process = subprocess.Popen(
        build_command(site), cwd=site.base, env=child_env(), stderr=subprocess.PIPE
    )
    try:
        if wait_until(lambda: shows(site.out) or (site.out / MANIFEST_NAME).exists(), process):
            process.send_signal(signal.SIGSTOP)  # frozen: the output now shows where it is
        landed = shows(site.out) and not (site.out / MANIFEST_NAME).exists()
        process.send_signal(signal.SIGKILL)
    finally:
        _, stderr = process.communicate(timeout=120)
    assert process.returncode in (0, -signal.SIGKILL), stderr.decode(errors="replace")
    return landed and process.returncode == -signal.SIGKILL


@pytest.mark.parametrize("aim", FIRST_BUILD_AIMS)
def test_a_killed_first_build_is_finished_by_the_next_build(tmp_path: Path, aim: str) -> None:
    """Regression: a first build killed before its manifest left files (and a journal listing
    exactly them) in an output with no staticserve.json, which every later build refused as
    "not empty and holds no staticserve.json"."""
    site = Site(tmp_path / "project")
    site.write_sources(1, **CORPUS)
    site.config.write_text('[tool.staticserve]\nsources = ["assets"]\noutput = "out"\n')
    # The phases are short (a temporary file lives for one write): aim again if a kill overshot.
    assert any(kill_first_build(site, aim) for _attempt in range(5)), f"never stopped at {aim}"
    assert not (site.out / MANIFEST_NAME).exists()
    assert (site.out / JOURNAL).exists()
    assert [p for p in site.out.rglob("*") if p.is_file() and ".staticserve" not in p.parts]

    result = run_build(site, check=False)
    assert (result.returncode, result.stderr) == (0, "")
    check_live_build(site.out)
    assert leftovers(site.out) == []
    assert not [p for p in site.out.rglob("*") if p.name.endswith(".staticserve-tmp")]
    assert not (site.out / JOURNAL).exists()
