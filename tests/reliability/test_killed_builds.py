"""``staticserve build`` killed with SIGKILL at aimed moments leaves the live build servable.

Each trial changes every source and starts the build as a subprocess that freezes itself at a
named moment of its writes (:mod:`tests.paused_build`): while compressing, while a content file
is half-placed (under its temporary name), once publishing has journaled its plan, with the new
manifest complete but not yet renamed over the live one, and right after that switch; ``twice``
kills one build while compressing and the next while publishing, before any completes. The test
reads the frozen output to assert the build stands where it was aimed, then sends SIGKILL.

After each kill, every file the live manifest names exists with the sha256 it promises, a
uvicorn serving the output answers every hashed URL of the live build with those bytes, and the
next build succeeds, goes live and leaves no temporary file, journal or unaccounted file behind.
"""

from __future__ import annotations

import contextlib
import json
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

from .. import paused_build
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
AIMS = (*paused_build.MOMENTS, "twice")
# How far into each moment a trial may aim (the N-th pass through it), within what this corpus
# surely offers: ~20 compression jobs, ~60 content files and ~20 unhashed copies per build.
PASSES = {
    "compressing": 3,
    "writing-content": 20,
    "publishing": 1,
    "manifest-written": 1,
    "switched": 5,
}


@dataclass
class Bench:
    site: Site
    server: Server
    version: int = 1


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    base = tmp_path_factory.mktemp("killed")
    site = make_site(base / "project", stray=False, **CORPUS)
    server = Server("uvicorn", site, "production", base / "uvicorn.log", reload="0.1")
    try:
        yield Bench(site, server)
    finally:
        server.stop()
    assert "Traceback" not in server.log_text(), server.log_text()[-3000:]


def kill_build(bench: Bench, moment: str, rng: random.Random) -> str:
    """Start a build, freeze it at ``moment``, check it stands there, kill it; return the
    moment as observed."""
    site = bench.site
    before = paused_build.standing(site.out)
    aim = f"{moment}:{rng.randint(1, PASSES[moment])}"
    marker = site.base / "paused"
    args = build_command(site)[3:]
    process = paused_build.start(aim, args, cwd=site.base, env=child_env(), marker=marker)
    try:
        assert paused_build.wait_paused(process, marker) == moment
        now = paused_build.standing(site.out)
        assert paused_build.stands_at(moment, now, before), f"{aim}: {now.describe()}"
    finally:
        paused_build.kill(process)
    return moment


def trial(bench: Bench, aim: str, rng: random.Random) -> list[str]:
    site = bench.site
    before = Manifest.load(site.out)
    bench.version += 1
    site.write_sources(bench.version, **CORPUS)
    outcomes = []
    for moment in ["compressing", "publishing"] if aim == "twice" else [aim]:
        outcomes.append(kill_build(bench, moment, rng))
        live = check_live_build(site.out)
        switches = outcomes.count("switched")
        assert live.generation == before.generation + switches, outcomes
        assert_serves(bench.server.port, live)
    result = run_build(site)
    assert result.stderr == ""
    final = check_live_build(site.out)
    assert final.generation >= before.generation + 1
    assert leftovers(site.out) == []
    assert not [p for p in site.out.rglob("*") if p.name.endswith(".staticserve-tmp")]
    assert not (site.out / paused_build.JOURNAL).exists()
    assert_serves(bench.server.port, final)
    return outcomes


def run_trials(bench: Bench, count: int, seed: int) -> None:
    rng = random.Random(seed)
    seen: dict[str, int] = {}
    for number in range(count):
        aim = AIMS[number % len(AIMS)]
        for moment in trial(bench, aim, rng):
            seen[moment] = seen.get(moment, 0) + 1
    record("killed builds: trials", count)
    for moment, kills in sorted(seen.items()):
        record(f"killed builds: killed while {moment}", kills)
    # Every moment of the build's writes was hit, each kill asserted where it landed.
    assert set(seen) == set(paused_build.MOMENTS), seen


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
JOURNAL = paused_build.JOURNAL


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> bool:
    """Poll ``condition`` every half millisecond while the build runs."""
    while process.poll() is None:
        if condition():
            return True
        time.sleep(0.0005)
    return False


BIG_SIZE = 24 * 1024 * 1024  # copied a mebibyte at a time: written over tens of milliseconds


def big_file_sizes(out: Path) -> list[int]:
    """The sizes the big file shows under its hashed name (none: not there yet)."""
    sizes = []
    for path in out.glob("media/big.*.mp4"):
        with contextlib.suppress(FileNotFoundError):
            sizes.append(path.stat().st_size)
    return sizes


def big_file_in_place(out: Path) -> bool:
    return bool(big_file_sizes(out))


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
    "a big file in place": big_file_in_place,
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


def test_a_file_appears_under_its_name_only_whole(tmp_path: Path) -> None:
    """nginx serves the output's files by name, as they are on disk: a part of one would be
    sent, and cached for a year. The big file, copied a mebibyte at a time, is watched through
    a whole first build: it is never seen cut short."""
    site = Site(tmp_path / "project")
    site.write_sources(1, **CORPUS)
    (site.assets / "media" / "big.mp4").write_bytes(random.Random(7).randbytes(BIG_SIZE))
    site.config.write_text('[tool.staticserve]\nsources = ["assets"]\noutput = "out"\n')
    process = subprocess.Popen(
        build_command(site), cwd=site.base, env=child_env(), stderr=subprocess.PIPE
    )
    seen: set[int] = set()
    try:
        wait_until(lambda: bool(seen.update(big_file_sizes(site.out))), process)
    finally:
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr.decode(errors="replace")
    seen.update(big_file_sizes(site.out))
    assert seen == {BIG_SIZE}


@pytest.mark.parametrize("aim", FIRST_BUILD_AIMS)
def test_a_killed_first_build_is_finished_by_the_next_build(tmp_path: Path, aim: str) -> None:
    """Regression: a first build killed before its manifest left files (and a journal listing
    exactly them) in an output with no staticserve.json, which every later build refused as
    "not empty and holds no staticserve.json"."""
    site = Site(tmp_path / "project")
    site.write_sources(1, **CORPUS)
    (site.assets / "media" / "big.mp4").write_bytes(random.Random(7).randbytes(BIG_SIZE))
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
