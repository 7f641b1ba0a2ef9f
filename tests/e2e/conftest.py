"""Fixtures for the real-browser tests: a copy of the demo, a real uvicorn, Debian's Chromium.

The demo's sources and configuration are copied into ``tmp_path`` and built there, so a test may
edit and rebuild them freely; the repository's files are never written. The server is
``python -m uvicorn --factory demo_app.app:create_app`` in a subprocess on 127.0.0.1, pointed at
the copy through ``STATICSERVE_DEMO_CONFIG``; its access log is the record of which requests
really reached it. Chromium is the system's (``/usr/bin/chromium``, or ``$STATICSERVE_CHROMIUM``),
driven through Playwright's driver: no browser is downloaded.

With ``CI=true`` a missing Chromium or Playwright fails the run; elsewhere it skips, saying why.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from staticserve.manifest import Manifest
from staticserve.pipeline import build, load_config

from ..ports import start_on_free_port, wait_listening

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Playwright

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo_app"
DEMO_SOURCES = ("assets", "theme_overrides", "vendor")
CHROMIUM = os.environ.get("STATICSERVE_CHROMIUM", "/usr/bin/chromium")
# Flags for a closed network and a root user (see the project's CI notes); no GPU, no QUIC.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 20.0
ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require(condition: bool, reason: str) -> None:
    """Skip loudly when ``condition`` is false, except under CI, where the test must run."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI=true but {reason}: the browser tests must run in CI", pytrace=False)
    pytest.skip(f"BROWSER TEST NOT RUN: {reason}")


# -- the demo, copied and built ----------------------------------------------------------------


@dataclass
class DemoCopy:
    """The demo's sources and staticserve.toml under ``root``; builds go to ``root/static_build``."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "staticserve.toml"

    @property
    def output(self) -> Path:
        return load_config(self.config).output_dir

    def build(self) -> Manifest:
        build(load_config(self.config))
        return self.manifest()

    def manifest(self) -> Manifest:
        return Manifest.load(self.output)


@pytest.fixture
def demo_copy(tmp_path: Path) -> DemoCopy:
    root = tmp_path / "demo"
    root.mkdir()
    for name in DEMO_SOURCES:
        shutil.copytree(DEMO / name, root / name)
    shutil.copy2(DEMO / "staticserve.toml", root / "staticserve.toml")
    copy = DemoCopy(root)
    assert copy.output.is_relative_to(root), "the demo's output must be relative to its config"
    return copy


# -- the server ----------------------------------------------------------------------------------


class DemoServer:
    """``uvicorn --factory demo_app.app:create_app`` serving a :class:`DemoCopy`."""

    def __init__(self, demo: DemoCopy, log_path: Path) -> None:
        self.demo = demo
        self.log_path = log_path
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._sentinels = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = dict(os.environ)
        env["STATICSERVE_DEMO_CONFIG"] = str(self.demo.config)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        self.env = env
        self.port = start_on_free_port(self._start)

    def _start(self, port: int) -> int:
        """Start on ``port``; :class:`PortLost` (after stopping) when another process has it."""
        command = [sys.executable, "-m", "uvicorn", "--factory", "demo_app.app:create_app"]
        command += ["--host", "127.0.0.1", "--port", str(port)]
        command += ["--log-level", "info"]  # the access log is what the cache tests count
        command += ["--timeout-graceful-shutdown", "3"]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.demo.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_listening(self.process, port, SERVER_START_TIMEOUT, log=self.log_path)
        except BaseException:
            self.stop()
            raise
        return port

    def stop(self) -> None:
        """Stop the server this fixture started, by its PID: SIGTERM, then SIGKILL."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, target, status) of every request the server has answered, in order.

        A sentinel request is sent and awaited first, so every earlier line is in the log.
        """
        self._sentinels += 1
        sentinel = f"/api/status?sentinel={self._sentinels}"
        with urllib.request.urlopen(self.url + sentinel, timeout=10) as response:
            assert response.status == 200
        deadline = time.monotonic() + 10
        while True:
            lines = [
                m.group("method", "target", "status") for m in ACCESS_LINE.finditer(self.log())
            ]
            if any(target == sentinel for _, target, _ in lines):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"the access log never showed {sentinel}:\n{self.log()}")
            time.sleep(0.02)
        return [
            (method, target, int(status))
            for method, target, status in lines
            if "sentinel=" not in target
        ]


@pytest.fixture
def demo_server(demo_copy: DemoCopy, tmp_path: Path) -> Iterator[DemoServer]:
    """The demo copy, built, served by uvicorn on a free port of 127.0.0.1."""
    demo_copy.build()
    server = DemoServer(demo_copy, tmp_path / "uvicorn.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- the browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")  # not longer: its event loop must not outlive these tests
def playwright_driver() -> Iterator[Playwright]:
    require(
        os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK),
        f"{CHROMIUM} is missing (apt-get install chromium)",
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "the playwright package is missing (pip install -e '.[test]')")
        raise
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(playwright_driver: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    """Headless Chromium with a fresh profile (so an empty HTTP cache) of this test's own."""
    context = playwright_driver.chromium.launch_persistent_context(
        tmp_path / "chromium-profile",
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 800},
    )
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def output_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Path]:
    """Where screenshots go (the test's own tmp_path); printed so a person can look."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    yield folder
    with capsys.disabled():
        for shot in sorted(folder.iterdir()):
            print(f"\n  screenshot: {shot}")
