"""Startup time and resident memory with a 10,000-file manifest, each probe in a fresh process."""

from __future__ import annotations

import json
import random
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any

from harness.corpus import staticserve_build
from harness.paths import BENCH_DIR, VENV_PYTHON

FILE_COUNT = 10_000
PROBE = Path(__file__).with_name("startup_probe.py")
KINDS = ("staticserve-asgi", "staticserve-wsgi", "servestatic-asgi", "whitenoise", "blacknoise")
_EXTENSIONS = (".css", ".js", ".svg", ".json")


def _write_files(source: Path, count: int) -> None:
    rng = random.Random(10_000)
    shutil.rmtree(source, ignore_errors=True)
    for index in range(count):
        folder = source / f"pkg{index % 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        ext = _EXTENSIONS[index % len(_EXTENSIONS)]
        body = f"/* file {index} */\n" + "".join(
            f".c{rng.randrange(10**6)}{{margin:{rng.randint(0, 64)}px}}\n"
            for _ in range(rng.randint(2, 40))
        )
        (folder / f"file{index:05d}{ext}").write_text(body)


def _built(output: Path, count: int) -> bool:
    manifest = output / "staticserve.json"
    return manifest.exists() and len(json.loads(manifest.read_text())["assets"]) == count


def prepare(work: Path, count: int = FILE_COUNT) -> tuple[Path, float | None]:
    """Generate and build the files once (kept between runs); the build's time if it ran."""
    source, output = work / "startup-src", work / "startup-out"
    if _built(output, count):
        return output, None
    _write_files(source, count)
    shutil.rmtree(output, ignore_errors=True)
    return output, staticserve_build(source, output).seconds


def _probe(kind: str, root: Path) -> dict[str, Any]:
    done = subprocess.run(
        [str(VENV_PYTHON), str(PROBE), kind, str(root)],
        capture_output=True,
        text=True,
        cwd=BENCH_DIR,
        timeout=300,
    )
    if done.returncode != 0 or not done.stdout.strip():
        tail = done.stderr.strip().splitlines()
        return {"error": tail[-1] if tail else f"exit code {done.returncode}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _median(samples: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(s[key] for s in samples))


def measure(kind: str, root: Path, repeats: int, empty_rss_kib: float) -> dict[str, Any]:
    samples = [_probe(kind, root) for _ in range(repeats)]
    errors = [s["error"] for s in samples if "error" in s]
    if errors:
        return {"error": errors[0]}
    rss = _median(samples, "rss_kib")
    return {
        "repeats": repeats,
        "import_ms": round(_median(samples, "import_s") * 1000, 1),
        "construct_ms": round(_median(samples, "construct_s") * 1000, 1),
        "rss_mb": round(rss * 1024 / 1e6, 1),
        "rss_growth_mb": round((rss - empty_rss_kib) * 1024 / 1e6, 1),
        "rss_growth_construct_mb": round(
            (rss - _median(samples, "rss_imported_kib")) * 1024 / 1e6, 1
        ),
    }


def run(work: Path, repeats: int) -> dict[str, Any]:
    root, build_s = prepare(work)
    empty = statistics.median(_probe("empty", root)["rss_kib"] for _ in range(repeats))
    results: dict[str, Any] = {
        "files": FILE_COUNT,
        "build_s": round(build_s, 2) if build_s is not None else None,
        "empty_rss_mb": round(empty * 1024 / 1e6, 1),
        "kinds": {},
    }
    for kind in KINDS:
        times = repeats if kind.startswith("staticserve") else min(repeats, 3)
        results["kinds"][kind] = measure(kind, root, times, empty)
        print(f"  {kind:18} {results['kinds'][kind]}", flush=True)
    return results
