"""Starting a server on a free port survives another process taking that port first."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest

from . import ports
from .conftest import stop_process


def http_server(port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ports.wait_listening(process, port)
    except BaseException:
        stop_process(process)
        raise
    return process


def test_a_server_whose_port_was_taken_starts_on_another(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as squatter:  # another program got the port between probe and bind
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        offered = iter([taken])
        free_port = ports.free_port
        monkeypatch.setattr(ports, "free_port", lambda: next(offered, None) or free_port())
        tried: list[int] = []

        def start(port: int) -> tuple[subprocess.Popen[bytes], int]:
            tried.append(port)
            return http_server(port), port

        process, port = ports.start_on_free_port(start)
    try:
        assert tried[0] == taken
        assert port != taken
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
    finally:
        stop_process(process)


def test_a_port_answered_by_another_process_is_not_taken_for_the_server() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        # A server that keeps trying to bind (like gunicorn) while the port answers.
        command = [sys.executable, "-c", "import time; time.sleep(30)"]
        process = subprocess.Popen(command)
        try:
            with pytest.raises(ports.PortLost, match="another process"):
                ports.wait_listening(process, port)
        finally:
            stop_process(process)
