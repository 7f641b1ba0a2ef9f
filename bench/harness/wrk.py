"""Run wrk (pinned to the client CPU) and read its ``--latency`` report."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from harness.procs import CLIENT_CPU, pinned

_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
_SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


@dataclass(frozen=True, slots=True)
class WrkSettings:
    duration_s: int
    warmup_s: int
    connections: int = 32
    threads: int = 1


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    bytes_per_s: float
    requests: int
    non_2xx_3xx: int
    socket_errors: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _millis(value: str) -> float | None:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not match:
        return None
    return float(match.group(1)) * _TIME_UNITS[match.group(2)]


def _bytes(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(B|KB|MB|GB|TB)", value)
    return float(match.group(1)) * _SIZE_UNITS[match.group(2)] if match else 0.0


def _search(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text, re.MULTILINE)
    return match.group(1) if match else None


def parse(output: str) -> WrkResult:
    """Pick the figures out of wrk's text report."""
    rps = _search(r"^Requests/sec:\s+([\d.]+)", output)
    if rps is None:
        raise ValueError(f"wrk printed no Requests/sec:\n{output}")
    p50 = _search(r"^\s+50%\s+(\S+)", output)
    p99 = _search(r"^\s+99%\s+(\S+)", output)
    return WrkResult(
        requests_per_s=float(rps),
        p50_ms=_millis(p50) if p50 else None,
        p99_ms=_millis(p99) if p99 else None,
        bytes_per_s=_bytes(_search(r"^Transfer/sec:\s+(\S+)", output) or "0B"),
        requests=int(_search(r"^\s+(\d+) requests in", output) or 0),
        non_2xx_3xx=int(_search(r"Non-2xx or 3xx responses:\s+(\d+)", output) or 0),
        socket_errors=_search(r"Socket errors:\s+(.+)$", output),
    )


def _command(
    url: str, headers: Mapping[str, str], seconds: int, settings: WrkSettings
) -> list[str]:
    command = [
        "wrk",
        f"-t{settings.threads}",
        f"-c{settings.connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    return pinned(CLIENT_CPU, [*command, url])


def run(url: str, headers: Mapping[str, str], settings: WrkSettings) -> WrkResult:
    """A short warm-up, then the timed run."""
    if settings.warmup_s > 0:
        subprocess.run(
            _command(url, headers, settings.warmup_s, settings),
            capture_output=True,
            timeout=settings.warmup_s + 30,
        )
    done = subprocess.run(
        _command(url, headers, settings.duration_s, settings),
        capture_output=True,
        text=True,
        timeout=settings.duration_s + 30,
    )
    return parse(done.stdout + done.stderr)
