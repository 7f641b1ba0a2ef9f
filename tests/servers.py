"""Real servers in subprocesses on 127.0.0.1: how to start each one, at the site root or mounted.

Each server runs the apps of ``tests/site_asgi.py`` or ``tests/site_wsgi.py`` over the build
folder named by ``STATICSERVE_TEST_BUILD``. A ``Deployment`` says where the site sits (its base
path as a browser sees it) and what the server is sent for a URL of the site, so one table of
requests runs through every server and every way of mounting.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from .ports import free_port

__all__ = ["DEPLOYMENTS", "Deployment", "ServerPool", "running"]

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0  # seconds for a server to answer its first request (2 shared cores)
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
BIND_ATTEMPTS = 3  # another process may take the free port before the server binds it
ASGI_APP = "tests.site_asgi:app"
WSGI_APP = "tests.site_wsgi:app"
ASGI_MOUNT = "/app"  # what --root-path / --url-path-prefix name
WSGI_MOUNT = "/subdir"  # the SCRIPT_NAME the WSGI servers set
FRAMEWORK_MOUNT = "/sub"  # Starlette's Mount / werkzeug's DispatcherMiddleware in the site apps

# (port, mount point or "") -> command line
Command = Callable[[int, str], list[str]]


def _python(*arguments: str) -> list[str]:
    return [sys.executable, "-m", *arguments]


def _uvicorn(port: int, mount: str) -> list[str]:
    command = _python("uvicorn", "--host", "127.0.0.1", "--port", str(port), ASGI_APP)
    command += ["--log-level", "warning", "--no-access-log"]
    return command + (["--root-path", mount] if mount else [])


def _hypercorn(port: int, mount: str) -> list[str]:
    command = _python("hypercorn", "--bind", f"127.0.0.1:{port}", "--log-level", "warning")
    return command + (["--root-path", mount] if mount else []) + [ASGI_APP]


def _granian(port: int, mount: str) -> list[str]:
    command = _python("granian", "--interface", "asgi", "--host", "127.0.0.1")
    command += ["--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"]
    return command + (["--url-path-prefix", mount] if mount else []) + [ASGI_APP]


def _gunicorn(port: int, mount: str) -> list[str]:
    # gunicorn takes its mount point from the SCRIPT_NAME environment variable (see ENVIRONMENT).
    command = _python("gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1")
    return [*command, "--log-level", "warning", WSGI_APP]


def _waitress(port: int, mount: str) -> list[str]:
    command = _python("waitress", f"--listen=127.0.0.1:{port}")
    return command + ([f"--url-prefix={mount}"] if mount else []) + [WSGI_APP]


def _uwsgi(port: int, mount: str) -> list[str]:
    script = str(Path("tests") / "site_wsgi.py")
    command = [_uwsgi_binary(), "--http-socket", f"127.0.0.1:{port}", "--callable", "app"]
    # --need-app: exit when the app fails to import, instead of answering every request 500;
    # --die-on-term: SIGTERM stops uWSGI (by default it reloads); the buffer holds long targets.
    command += ["--need-app", "--die-on-term", "--disable-logging", "--buffer-size", "65535"]
    if mount:
        return [*command, "--mount", f"{mount}={script}", "--manage-script-name"]
    return [*command, "--wsgi-file", script]


def _uwsgi_binary() -> str:
    binary = Path(sysconfig.get_path("scripts")) / "uwsgi"
    if not binary.exists():  # not a skip: the test extra installs it
        raise RuntimeError(f"uWSGI is not installed ({binary}); pip install -e '.[test]'")
    return str(binary)


@dataclass(frozen=True)
class Server:
    name: str
    interface: str  # "asgi" or "wsgi"
    command: Command
    # The server mounts the site at the mount point but expects a proxy in front to strip it
    # from the request (uvicorn >= 0.26 prepends --root-path to the path it is sent).
    proxy_strips_mount: bool = False
    mount_in_environment: bool = False  # SCRIPT_NAME comes from the environment (gunicorn)
    # False: the server closes each connection after a response without saying so (uWSGI's
    # --http-socket sends no "Connection: close"), so the client must not reuse them.
    keeps_connections: bool = True

    @property
    def mount(self) -> str:
        return ASGI_MOUNT if self.interface == "asgi" else WSGI_MOUNT


SERVERS = {
    server.name: server
    for server in (
        Server("uvicorn", "asgi", _uvicorn, proxy_strips_mount=True),
        Server("hypercorn", "asgi", _hypercorn),
        Server("granian", "asgi", _granian),
        Server("gunicorn", "wsgi", _gunicorn, mount_in_environment=True),
        Server("uwsgi", "wsgi", _uwsgi, keeps_connections=False),
        Server("waitress", "wsgi", _waitress),
    )
}


@dataclass(frozen=True)
class Deployment:
    """A server with the site mounted at ``base`` in one of three ways.

    ``root``: the middleware is the server's app. ``framework``: the site is mounted inside
    the root app (Starlette ``Mount`` / werkzeug ``DispatcherMiddleware``). ``server``: the
    server itself mounts the app (``--root-path``, ``--url-path-prefix``, ``SCRIPT_NAME``,
    ``--mount``, ``--url-prefix``).
    """

    server: Server
    how: str  # "root", "framework" or "server"

    @property
    def id(self) -> str:
        return f"{self.server.name}-{self.how}"

    @property
    def base(self) -> str:
        """The site's path as a browser sees it ("" at the root)."""
        return {"root": "", "framework": FRAMEWORK_MOUNT, "server": self.server.mount}[self.how]

    @property
    def process_key(self) -> tuple[str, str]:
        """Deployments with the same key share one server process."""
        return self.server.name, self.server.mount if self.how == "server" else ""

    def wire(self, site_path: bytes) -> bytes:
        """What the server is sent when a browser asks for ``site_path`` (base + path)."""
        if self.how == "server" and self.server.proxy_strips_mount:
            mount = self.base.encode()
            assert site_path.startswith(mount + b"/"), site_path
            return site_path[len(mount) :]
        return site_path


DEPLOYMENTS = [
    Deployment(server, how)
    for server in SERVERS.values()
    for how in ("root", "framework", "server")
]


@dataclass
class Running:
    """A server process that answers on ``port``."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def running(server: Server, mount: str, build_root: Path, log: Path) -> Iterator[Running]:
    """Start ``server`` (mounted at ``mount`` or at the root) and stop it by its PID afterwards.

    A port is picked free, but another process may bind it before the server does: then the
    server exits early and it is started again on another port, at most ``BIND_ATTEMPTS`` times.
    Any other failure to start raises with the server's output.
    """
    environment = dict(os.environ)
    environment["STATICSERVE_TEST_BUILD"] = str(build_root)
    # The subprocesses import this checkout's staticserve and the site apps from tests/.
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO), environment.get("PYTHONPATH")])
    )
    environment.pop("SCRIPT_NAME", None)
    if server.mount_in_environment and mount:
        environment["SCRIPT_NAME"] = mount
    probe = (mount if mount and not server.proxy_strips_mount else "") + "/api/data"
    for attempt in range(1, BIND_ATTEMPTS + 1):
        port = free_port()
        with open(log, "wb") as output:
            process = subprocess.Popen(
                server.command(port, mount),
                cwd=REPO,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its workers form a group we can stop with it
            )
        started = False
        try:
            started = _ready(process, f"http://127.0.0.1:{port}{probe}")
        finally:
            if not started:  # exited, silent for too long, or the run was interrupted
                _stop(process)
        if started:
            break
        text = log.read_text(errors="replace")
        if "in use" not in text or attempt == BIND_ATTEMPTS:
            raise RuntimeError(f"{server.name} did not start:\n{text[-3000:]}")
    try:
        yield Running(process, port)
    finally:
        _stop(process)


def _ready(process: subprocess.Popen[bytes], probe_url: str) -> bool:
    """True once ``probe_url`` answers 200; False when the process exits or stays silent
    for ``START_TIMEOUT`` seconds."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(probe_url, timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM; SIGKILL to the process and the workers it started if it lingers."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_GRACE)
    except subprocess.TimeoutExpired:
        # Not reaped yet, so its group is still the one started above (start_new_session).
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_GRACE)


class ServerPool:
    """At most one server process at a time, started when first asked for.

    Tests are grouped by deployment, so asking for another process stops the previous one:
    two cores never carry more than one server of this module.
    """

    def __init__(self, build_root: Path, logs: Path) -> None:
        self._build_root = build_root
        self._logs = logs
        self._key: tuple[str, str] | None = None
        self._current: Running | None = None
        self._stack = ExitStack()

    def get(self, deployment: Deployment) -> Running:
        if self._key != deployment.process_key or self._current is None:
            self.close()
            name, mount = deployment.process_key
            log = self._logs / f"{name}{mount.replace('/', '-')}.log"
            self._current = self._stack.enter_context(
                running(SERVERS[name], mount, self._build_root, log)
            )
            self._key = deployment.process_key
        return self._current

    def close(self) -> None:
        self._current, self._key = None, None
        self._stack.close()
