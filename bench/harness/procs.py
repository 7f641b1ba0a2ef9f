"""Start a server as a subprocess on a free 127.0.0.1 port, wait until it answers, stop it by PID."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

HOST = "127.0.0.1"
SERVER_CPU = "1"
CLIENT_CPU = "0"


def pinned(cpu: str, command: Sequence[str]) -> list[str]:
    """``command`` run on one CPU with taskset (unpinned on a single-core machine)."""
    if (os.cpu_count() or 1) < 2:
        return list(command)
    return ["taskset", "-c", cpu, *command]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class ServerFailed(RuntimeError):
    """The server exited or never answered; the message carries the end of its log."""


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 6) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])


def _answers(port: int, path: str) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=1.0)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status < 500
    except OSError:
        return False
    finally:
        connection.close()


def wait_ready(server: Server, path: str, timeout: float = 20.0) -> None:
    """Poll ``path`` until the server answers, or raise ServerFailed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerFailed(f"exited with code {server.process.returncode}: {server.log_tail()}")
        if _answers(server.port, path):
            return
        time.sleep(0.05)
    raise ServerFailed(f"did not answer within {timeout:.0f} s: {server.log_tail()}")


def _children(pid: int) -> list[int]:
    """PIDs of the processes our server started (read from /proc, so no extra dependency)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found.append(int(entry.name))
    return found


def stop(server: Server, timeout: float = 8.0) -> None:
    """SIGTERM the server's own PID, SIGKILL it after ``timeout``; then any child it left."""
    children = _children(server.pid)
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(5)
    for child in children:
        with suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


@contextmanager
def running(
    command: Sequence[str],
    *,
    port: int,
    env: dict[str, str],
    cwd: Path,
    log_path: Path,
    ready_path: str,
) -> Iterator[Server]:
    """Run ``command`` (already pinned) until the block ends; the server's output goes to a log."""
    log: IO[bytes] = log_path.open("wb")
    process = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Server(process=process, port=port, log_path=log_path)
    try:
        wait_ready(server, ready_path)
        yield server
    finally:
        stop(server)
        log.close()
