"""Start a server subprocess on a free port of 127.0.0.1, with a new port when that one is lost.

A free port is found by binding port 0 and closing the probe; between that and the server's own
bind, another process on the machine may take the port (other suites run at the same time). The
server then fails to listen -- it exits, or (gunicorn) retries while someone else answers on the
port. :func:`wait_listening` tells the cases apart by who owns the listening socket (read from
``/proc``), and :func:`start_on_free_port` starts again on a new port when the port was lost.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["PortLost", "free_port", "start_on_free_port", "wait_listening"]

T = TypeVar("T")
ATTEMPTS = 5
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp (include/net/tcp_states.h)


class PortLost(Exception):
    """The server did not get the port it was given."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_on_free_port(start: Callable[[int], T], attempts: int = ATTEMPTS) -> T:
    """``start(port)`` on a free port; on :class:`PortLost`, again on another, ``attempts``
    times in all. ``start`` stops what it started before raising."""
    lost: list[str] = []
    for _ in range(attempts):
        port = free_port()
        try:
            return start(port)
        except PortLost as exc:
            lost.append(f"{port}: {exc}")
    raise RuntimeError(f"no server started in {attempts} attempts:\n" + "\n".join(lost))


def wait_listening(
    process: subprocess.Popen[bytes], port: int, timeout: float = 30, log: Path | None = None
) -> None:
    """Return once ``process`` (or a child of it) listens on ``port``. Raise :class:`PortLost`
    when the process ends first or another process listens there (stop ``process`` then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        owners = _listeners(port)
        if owners:
            if owners & _tree(process.pid):
                return
            raise PortLost(f"another process (pid {sorted(owners)}) listens on port {port}")
        if process.poll() is not None:
            output = log.read_text(errors="replace")[-2000:] if log else ""
            raise PortLost(f"the server exited ({process.returncode}) before listening\n{output}")
        time.sleep(0.02)
    raise RuntimeError(f"the server did not listen on port {port} within {timeout} s")


def _listeners(port: int) -> set[int]:
    """The processes holding a listening TCP socket on ``port`` (any address)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == _LISTEN and int(fields[1].rpartition(":")[2], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return set()
    owners = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
            if any(os.readlink(f"/proc/{entry}/fd/{fd}") in inodes for fd in fds):
                owners.add(int(entry))
        except OSError:  # gone, or not ours to read
            continue
    return owners


def _tree(pid: int) -> set[int]:
    """``pid`` and its descendants."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rpartition(")")[2].split()[1])
    tree = {pid}
    grew = True
    while grew:
        children = {child for child, parent in parents.items() if parent in tree}
        grew = not children <= tree
        tree |= children
    return tree
