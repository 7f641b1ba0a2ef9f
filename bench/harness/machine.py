"""The machine: what it is, how busy it is, and which versions of everything ran."""

from __future__ import annotations

import functools
import os
import platform
import random
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from typing import Any

PACKAGES = (
    "staticserve",
    "whitenoise",
    "servestatic",
    "blacknoise",
    "starlette",
    "uvicorn",
    "httptools",
    "uvloop",
    "granian",
    "gunicorn",
    "django",
    "brotli",
)
DISTRIBUTIONS = {"staticserve": "staticserve-assets"}  # shown name -> distribution on PyPI
QUIET_CORES = 0.5
"""More than this many cores busy with other people's work means the machine is noisy."""


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat", encoding="utf-8") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def busy_cores(seconds: float = 1.0) -> float:
    """How many cores were busy over ``seconds`` (0 .. nproc), from /proc/stat."""
    busy0, total0 = _cpu_times()
    time.sleep(seconds)
    busy1, total1 = _cpu_times()
    elapsed = total1 - total0
    if elapsed <= 0:
        return 0.0
    return (busy1 - busy0) / elapsed * (os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class Quietness:
    busy_cores: float
    waited_s: float

    @property
    def noisy(self) -> bool:
        return self.busy_cores > QUIET_CORES


def wait_for_quiet(max_wait: float = 20.0) -> Quietness:
    """Sample the CPU; while others keep more than half a core busy, wait (up to ``max_wait``)."""
    start = time.monotonic()
    busy = busy_cores()
    while busy > QUIET_CORES and time.monotonic() - start < max_wait:
        time.sleep(2.0)
        busy = busy_cores()
    return Quietness(busy_cores=round(busy, 2), waited_s=round(time.monotonic() - start - 1.0, 1))


_PROBE_BYTES = 200_000


@functools.cache
def _probe_text() -> bytes:
    """Text-like bytes (words of a fixed vocabulary), the same on every run and machine."""
    rng = random.Random(20261203)
    vocabulary = [
        "".join(rng.choices("etaoinshrdlucmfw", k=rng.randint(2, 9))) for _ in range(3000)
    ]
    return " ".join(rng.choices(vocabulary, k=_PROBE_BYTES // 4)).encode()[:_PROBE_BYTES]


def compression_speed() -> float:
    """How fast the machine brotli-11s right now, on every core at once (MB/s; about 0.3 s).

    The same work gets up to a quarter slower when other tenants of the host are busy, even
    with no steal time to show for it (the cores are shared below the virtual machine). Taken
    before and after each run, it tells a round whose two runs met the same machine from one
    whose machine changed speed between them.
    """
    import brotli

    return max(_compression_speed(brotli.compress) for _ in range(2))  # the first warms up


def _compression_speed(compress: Any) -> float:
    text = _probe_text()
    cores = os.cpu_count() or 1
    threads = [
        threading.Thread(target=compress, args=(text,), kwargs={"quality": 11})
        for _ in range(cores)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return round(cores * len(text) / (time.perf_counter() - start) / 1e6, 3)


def _command_version(command: list[str], pattern: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    match = re.search(pattern, done.stdout + done.stderr)
    return match.group(1) if match else "unknown"


def versions() -> dict[str, str]:
    found: dict[str, str] = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(DISTRIBUTIONS.get(name, name))
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    found["nginx"] = _command_version(["nginx", "-v"], r"nginx/(\S+)")
    found["wrk"] = _command_version(["wrk", "-v"], r"wrk (\S+)")
    found["libnginx-mod-http-brotli-static"] = _command_version(
        ["dpkg-query", "-W", "-f=${Version}", "libnginx-mod-http-brotli-static"], r"(\S+)"
    )
    return found


def describe() -> dict[str, object]:
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "load_average_before": [round(v, 2) for v in load_average()],
        "busy_cores_before": round(busy_cores(), 2),
    }
