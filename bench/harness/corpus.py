"""The files the serving scenarios ask for: generated deterministically, built with staticserve."""

from __future__ import annotations

import json
import random
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness.paths import VENV_DIR

# logical path -> (files of Django's admin whose text it is made of, size in bytes)
SERVE_FILES: dict[str, tuple[tuple[str, ...], int]] = {
    "css/small.css": (("css/base.css",), 1024),
    "js/medium.js": (("js/inlines.js", "js/SelectFilter2.js", "js/actions.js"), 30 * 1024),
    "js/large.js": (("js/vendor/jquery/jquery.js",), 100 * 1024),
    "img/hero.webp": ((), 500 * 1024),
}


def _admin_static() -> Path:
    import django

    return Path(django.__file__).parent / "contrib" / "admin" / "static" / "admin"


def _real_text(names: tuple[str, ...], size: int) -> bytes:
    """Real CSS/JS from Django's admin, cut at the last line end before ``size``."""
    admin = _admin_static()
    text = b"".join((admin / name).read_bytes() for name in names)
    cut = text[:size]
    return cut[: cut.rfind(b"\n") + 1] if len(text) > size else cut


def _content(names: tuple[str, ...], size: int, rng: random.Random) -> bytes:
    return _real_text(names, size) if names else rng.randbytes(size)


def write_sources(source: Path) -> None:
    """(Re)create the serving corpus; the same bytes on every run and machine."""
    rng = random.Random(20261125)
    shutil.rmtree(source, ignore_errors=True)
    for logical, (names, size) in SERVE_FILES.items():
        path = source / logical
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_content(names, size, rng))


@dataclass(frozen=True, slots=True)
class BuildRun:
    seconds: float  # wall time of the whole command, interpreter start included
    stages: dict[str, float]  # the build's own timing of each stage (from --json)
    cpu_seconds: float = 0.0  # user + system CPU time of the command (all its threads)
    compressed: int = 0  # compressions run (file contents x encodings), from --json
    peak_rss_mb: float = 0.0  # the most resident memory the command held (0: not measured)


def child_cpu_seconds() -> float:
    """User + system CPU time used so far by this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def staticserve_build(source: Path, output: Path) -> BuildRun:
    """Run ``staticserve build`` in a fresh process; its wall time and stage timings."""
    command = [
        str(VENV_DIR / "bin" / "staticserve"),
        "build",
        "--source",
        str(source.resolve()),
        "--output",
        str(output.resolve()),
        "--json",
    ]
    cpu = child_cpu_seconds()
    start = time.perf_counter()
    done = subprocess.run(command, check=True, cwd=source.parent, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    cpu = child_cpu_seconds() - cpu
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        report = {}
    return BuildRun(elapsed, report.get("stage_seconds", {}), cpu, report.get("compressed", 0))


@dataclass(frozen=True, slots=True)
class ServedFile:
    logical: str
    url_path: str  # e.g. /static/css/small.3f2a9c1d7e4b.css
    disk_path: Path
    size: int
    encoded_sizes: dict[str, int]  # encoding -> size of its variant on disk

    def expected_size(self, encoding: str) -> int | None:
        if encoding == "identity":
            return self.size
        return self.encoded_sizes.get(encoding)


def load_served(output: Path, prefix: str = "/static") -> dict[str, ServedFile]:
    """Read the manifest the build wrote: logical path -> where each contender finds the file."""
    manifest = json.loads((output / "staticserve.json").read_text())
    served: dict[str, ServedFile] = {}
    for logical, asset in manifest["assets"].items():
        disk = output / asset["path"]
        suffixes = {"br": ".br", "gzip": ".gz", "zstd": ".zst"}
        encoded = {
            name: (disk.parent / (disk.name + suffix)).stat().st_size
            for name, suffix in suffixes.items()
            if (disk.parent / (disk.name + suffix)).exists()
        }
        served[logical] = ServedFile(
            logical=logical,
            url_path=f"{prefix}/{asset['path']}",
            disk_path=disk,
            size=disk.stat().st_size,
            encoded_sizes=encoded,
        )
    return served


def prepare(work: Path) -> tuple[Path, dict[str, ServedFile]]:
    """Write the sources, build them afresh; return the output folder and the served files."""
    source, output = work / "serve-src", work / "serve-out"
    write_sources(source)
    shutil.rmtree(output, ignore_errors=True)
    staticserve_build(source, output)
    return output, load_served(output)
