"""Shared machinery of the reliability suite: sites with canaries, real servers, a raw client.

Everything here runs against real processes on 127.0.0.1: ``staticserve build`` as a subprocess,
uvicorn, gunicorn and wsgiref as subprocesses serving :mod:`tests.reliability.served_app`, and a
socket client that sends request targets byte for byte (HTTP client libraries normalise paths).

Figures (paths tried, trials, requests, descriptors, memory) are collected in :data:`FIGURES`
and printed at the end of the run.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from staticserve.manifest import ENCODING_SUFFIXES, MANIFEST_NAME, Manifest

from ..conftest import DECODERS, check_live_build
from ..ports import start_on_free_port, wait_listening

__all__ = ["DECODERS", "check_live_build"]  # shared with the root conftest, used from here too

PROJECT = Path(__file__).resolve().parents[2]
APP_404 = b"app 404\n"

# -- figures for the README's "Reliability" section ------------------------------------------

FIGURES: dict[str, Any] = {}


def record(name: str, value: Any) -> None:
    """Remember a figure; numbers with the same name are added up."""
    if isinstance(value, (int, float)) and isinstance(FIGURES.get(name), (int, float)):
        FIGURES[name] += value
    else:
        FIGURES[name] = value


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for name in sorted(FIGURES):
        terminalreporter.write_line(f"{name}: {FIGURES[name]}")


# -- the environment of subprocesses -----------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    """This environment with the project under test first on the import path."""
    path = os.environ.get("PYTHONPATH", "")
    joined = str(PROJECT) + (os.pathsep + path if path else "")
    return {**os.environ, "PYTHONPATH": joined, **extra}


# -- a raw HTTP/1.1 client ----------------------------------------------------------------------


@dataclass
class RawReply:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    framing_ok: bool = True  # the body length agrees with Content-Length / chunking

    def header(self, name: bytes) -> bytes | None:
        values = [v for n, v in self.headers if n == name]
        return b",".join(values) if values else None

    def decoded(self) -> bytes:
        coding = self.header(b"content-encoding")
        return DECODERS[coding.decode()](self.body) if coding else self.body


class NoResponse(Exception):
    """The server closed the connection without a complete status line."""


def raw_request(
    port: int,
    target: bytes,
    headers: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...] = (),
    *,
    method: bytes = b"GET",
    timeout: float = 10.0,
) -> RawReply:
    """Send one request exactly as given (``Connection: close``) and read the whole reply."""
    head = b"%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n" % (method, target, port)
    head += b"".join(name + b": " + value + b"\r\n" for name, value in headers) + b"\r\n"
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as client:
        try:
            client.sendall(head)
            while True:
                data = client.recv(262144)
                if not data:
                    break
                received += data
        except ConnectionResetError:
            pass  # a server may reset after answering a request it refused; parse what came
    return parse_reply(bytes(received), head_only=method == b"HEAD")


def parse_reply(data: bytes, *, head_only: bool = False) -> RawReply:
    head, separator, rest = data.partition(b"\r\n\r\n")
    if not separator or not head.startswith(b"HTTP/1."):
        raise NoResponse(data[:200])
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.append((name.strip().lower(), value.strip()))
    reply = RawReply(status, headers, rest)
    if head_only or status in (204, 304) or 100 <= status < 200:
        reply.framing_ok = rest == b""
        return reply
    if (reply.header(b"transfer-encoding") or b"").lower() == b"chunked":
        reply.body, reply.framing_ok = _unchunk(rest)
    elif reply.header(b"content-length") is not None:
        length = int(reply.header(b"content-length") or b"0")
        reply.framing_ok = len(rest) == length
    return reply


def _unchunk(data: bytes) -> tuple[bytes, bool]:
    body = bytearray()
    position = 0
    while True:
        end = data.find(b"\r\n", position)
        if end < 0:
            return bytes(body), False
        size = int(data[position:end].split(b";")[0], 16)
        if size == 0:
            return bytes(body), True
        body += data[end + 2 : end + 2 + size]
        position = end + 2 + size + 2


# -- sites: sources with canaries, built with the real CLI --------------------------------------


def make_text(rng: random.Random, size: int, tag: str) -> str:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", tag]
    out: list[str] = []
    total = 0
    while total < size:
        line = f".{rng.choice(words)}-{rng.randrange(10**6)} {{ content: '{rng.choice(words)}' }}\n"
        out.append(line)
        total += len(line)
    return "".join(out)[:size]


@dataclass
class Site:
    """A project folder: ``assets/`` (the source), ``out/`` (the output) and canary files.

    ``canaries`` maps each planted file to its unique token: no response may ever contain one.
    Layout (``base`` is the project folder)::

        base/../canary-above.txt          above the output's parent
        base/canary-next.txt              next to the output folder
        base/outside/canary-linked.txt    outside the source, the target of assets/linked.txt
        base/assets/.canary-dotfile       a dotfile in the source (ignored by the build)
        base/assets/css/canary.css~       an editor backup in the source (ignored)
        base/out/canary-stray.txt         in the output but in no manifest (written after a build)
        base/staticserve.toml             the build configuration (dev mode reads it)
    """

    base: Path
    canaries: dict[Path, str] = field(default_factory=dict)
    version: int = 0

    @property
    def assets(self) -> Path:
        return self.base / "assets"

    @property
    def out(self) -> Path:
        return self.base / "out"

    @property
    def config(self) -> Path:
        return self.base / "staticserve.toml"

    def plant(self, path: Path, label: str) -> None:
        token = f"CANARY-{label}-{uuid.uuid4().hex}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{token}\nsecret data that must never be served\n")
        self.canaries[path] = token

    def tokens(self) -> list[bytes]:
        return [token.encode() for token in self.canaries.values()]

    def write_sources(self, version: int, *, css_files: int = 3, css_size: int = 6000) -> None:
        """(Re)write the sources for ``version``: every file's bytes change with it."""
        self.version = version
        rng = random.Random(version)
        css = self.assets / "css"
        css.mkdir(parents=True, exist_ok=True)
        for old in css.glob("part*.css"):
            old.unlink()
        for i in range(css_files):
            (css / f"part{i}.css").write_text(make_text(rng, css_size, f"v{version}"))
        imports = "".join(f'@import "part{i}.css";\n' for i in range(css_files))
        (css / "app.css").write_text(imports + make_text(rng, css_size, f"app{version}"))
        js = self.assets / "js"
        js.mkdir(parents=True, exist_ok=True)
        (js / "app.js").write_text(
            f"// build {version}\n"
            + "export function greet(n) { return `hi ${n}`; }\n" * (100 + version)
        )
        img = self.assets / "img"
        img.mkdir(parents=True, exist_ok=True)
        (img / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + rng.randbytes(900))
        media = self.assets / "media"
        media.mkdir(parents=True, exist_ok=True)
        (media / "clip.mp4").write_bytes(rng.randbytes(200 * 1024))  # served from disk
        (self.assets / "robots.txt").write_text(f"User-agent: *\n# {version}\n")
        (self.assets / "my file (1).txt").write_text(f"a name that needs quoting {version}\n")


def make_site(base: Path, version: int = 1, *, stray: bool = True, **sources: Any) -> Site:
    """A project with canaries planted around and inside it, built once with the CLI.

    ``stray=False`` leaves out the canary inside the output (for tests that count leftovers).
    """
    site = Site(base)
    site.write_sources(version, **sources)
    site.plant(base.parent / "canary-above.txt", "above")
    site.plant(base / "canary-next.txt", "next")
    site.plant(base / "outside" / "canary-linked.txt", "linked")
    site.plant(site.assets / ".canary-dotfile", "dotfile")
    site.plant(site.assets / "css" / "canary.css~", "backup")
    link = site.assets / "linked.txt"
    if not link.is_symlink():
        link.symlink_to(Path("..") / "outside" / "canary-linked.txt")
    site.config.write_text(
        '[tool.staticserve]\nsources = ["assets"]\noutput = "out"\nprefix = "/static/"\n'
    )
    run_build(site)
    if stray:
        site.plant(site.out / "canary-stray.txt", "stray")
    return site


def build_command(site: Site) -> list[str]:
    return [sys.executable, "-m", "staticserve", "build", "--config", str(site.config), "--quiet"]


def run_build(site: Site, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*build_command(site), *extra],
        cwd=site.base,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"build failed ({result.returncode}): {result.stderr}")
    return result


def served_hashes(out: Path) -> set[str]:
    """sha256 of every identity body the build in ``out`` may serve (current and retained)."""
    manifest = Manifest.load(out)
    return {a.sha256 for a in (*manifest.assets.values(), *manifest.retained.values())}


def leftovers(out: Path) -> list[str]:
    """Files in ``out`` that the live build does not account for (state folder aside)."""
    manifest = Manifest.load(out)
    expected = manifest.files() | {MANIFEST_NAME}
    for asset in manifest.assets.values():
        expected.add(asset.logical)
        expected.update(asset.logical + ENCODING_SUFFIXES[e] for e in asset.encodings)
    on_disk = {
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if (p.is_file() or p.is_symlink()) and ".staticserve" not in p.parts
    }
    return sorted(on_disk - expected)


# -- servers ------------------------------------------------------------------------------------

SERVERS = ("uvicorn", "gunicorn", "wsgiref")
ADAPTER = {"uvicorn": "asgi", "gunicorn": "wsgi", "wsgiref": "wsgi"}


class Server:
    """A server subprocess on 127.0.0.1 serving :mod:`served_app`; stopped by its own PID."""

    def __init__(self, kind: str, site: Site, mode: str, log: Path, **options: str) -> None:
        self.kind = kind
        self.log = log
        self.env = child_env(
            RELIAB_ROOT=str(site.out),
            RELIAB_MODE=mode,
            RELIAB_CONFIG=str(site.config),
            RELIAB_RELOAD=options.get("reload", "1"),
            RELIAB_MEMORY_TOTAL=options.get("memory_total", ""),
        )
        self.options = options
        self.port = start_on_free_port(self._start)
        self.worker_pid = int(raw_request(self.port, b"/__pid").body)

    def _command(self, port: int) -> list[str]:
        module = "tests.reliability.served_app"
        if self.kind == "uvicorn":
            command = [sys.executable, "-m", "uvicorn", f"{module}:asgi_app", "--host", "127.0.0.1"]
            command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
            return [*command, "--lifespan", "off", "--http", "h11"]
        if self.kind == "gunicorn":
            command = [sys.executable, "-m", "gunicorn", f"{module}:wsgi_app", "--workers", "1"]
            command += ["--worker-class", "gthread", "--threads", self.options.get("threads", "8")]
            return [*command, "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
        return [sys.executable, "-m", module, str(port)]

    def _start(self, port: int) -> int:
        """Start on ``port``; :class:`PortLost` (after stopping) when another process has it."""
        self._log_file = open(self.log, "wb")  # noqa: SIM115 -- closed in stop()
        self.process = subprocess.Popen(
            self._command(port),
            cwd=PROJECT,
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_listening(self.process, port, log=self.log)
            self._wait_ready(port)
        except BaseException:
            self.stop()
            raise
        return port

    def _wait_ready(self, port: int) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                if raw_request(port, b"/__health", timeout=2).status == 200:
                    return
            except (OSError, NoResponse):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind} did not start:\n{self.log.read_text()}")
            time.sleep(0.05)

    def log_text(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log_file.close()


MODES = ["production", "dev"]  # dev: StaticServe(..., dev=True, config=...), no build


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``start_server(kind, site, mode, **options)``; every server is stopped afterwards."""
    started: list[Server] = []

    def start(kind: str, site: Site, mode: str = "production", **options: str) -> Server:
        server = Server(kind, site, mode, tmp_path / f"{kind}-{len(started)}.log", **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def assert_serves(port: int, manifest: Manifest, timeout: float = 10.0) -> int:
    """A server on ``port`` answers every hashed URL of ``manifest`` with the promised bytes.

    Waits up to ``timeout`` for each (a newly published build is picked up within the reload
    interval). Returns the number of URLs checked.
    """
    from urllib.parse import quote

    records = [*manifest.assets.values(), *manifest.retained.values()]

    def serves(path: str, sha256: str) -> bool:
        reply = raw_request(port, b"/static/" + quote(path).encode())
        return reply.status == 200 and hashlib.sha256(reply.body).hexdigest() == sha256

    for asset in records:
        assert wait_for(lambda a=asset: serves(a.path, a.sha256), timeout=timeout), asset.path
    return len(records)


def snapshot(out: Path) -> dict[str, str]:
    """sha256 of every file in ``out`` outside the state folder."""
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".staticserve" not in p.parts
    }


# -- /proc readings -----------------------------------------------------------------------------


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of a process (and its threads), in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()
