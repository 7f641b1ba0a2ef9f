"""Two ``staticserve build`` processes into one output folder: the second waits for the first.

Regression (issue 16, item 18): two first builds started 0.3 s apart into an empty folder; the
second said "not empty and holds no staticserve.json" (it saw the first one's files) instead of
waiting for it, or else "another build is writing" without saying which, and exited.
"""

from __future__ import annotations

import select
import signal
import subprocess
import time
from pathlib import Path

from .conftest import Site, build_command, check_live_build, child_env, leftovers

CORPUS = {"css_files": 16, "css_size": 24_000}  # a first build of a few seconds here
JOURNAL = Path(".staticserve") / "journal.json"


def new_site(base: Path) -> Site:
    site = Site(base)
    site.write_sources(1, **CORPUS)
    site.config.write_text('[tool.staticserve]\nsources = ["assets"]\noutput = "out"\n')
    return site


def start_build(site: Site) -> subprocess.Popen[str]:
    command = [arg for arg in build_command(site) if arg != "--quiet"]
    return subprocess.Popen(
        command,
        cwd=site.base,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_path(path: Path, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.001)


def first_line(process: subprocess.Popen[str], timeout: float = 60) -> str:
    assert process.stderr is not None
    ready, _, _ = select.select([process.stderr], [], [], timeout)
    assert ready, "the second build printed nothing"
    return process.stderr.readline()


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=300)
    return process.returncode, stdout, stderr


def test_a_second_first_build_waits_for_the_one_writing_and_names_it(tmp_path: Path) -> None:
    site = new_site(tmp_path / "project")
    first = start_build(site)
    second = None
    try:
        wait_for_path(site.out / JOURNAL, first)  # writing files into the empty folder
        first.send_signal(signal.SIGSTOP)  # held mid-build while the second starts
        second = start_build(site)
        line = first_line(second)
        assert line.startswith(f"waiting for another build (pid {first.pid})"), line
        assert second.poll() is None  # still waiting
    finally:
        first.send_signal(signal.SIGCONT)
        code, out, err = finish(first)
        assert (code, err) == (0, ""), err
        assert out.startswith("Built 22 files")
    code, out, err = finish(second)
    assert (code, err) == (0, ""), err
    assert out.startswith("Up to date: 22 files")
    check_live_build(site.out)
    assert leftovers(site.out) == []


def test_two_first_builds_started_apart_both_succeed(tmp_path: Path) -> None:
    site = new_site(tmp_path / "project")
    builds = [start_build(site)]
    time.sleep(0.3)
    builds.append(start_build(site))
    results = [finish(process) for process in builds]
    assert [code for code, _, _ in results] == [0, 0], results
    summaries = sorted(out.split(" ", 1)[0] for _, out, _ in results)
    assert summaries == ["Built", "Up"], results  # one built, the other found it up to date
    check_live_build(site.out)
    assert leftovers(site.out) == []
