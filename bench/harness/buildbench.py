"""Build speed on a real corpus: staticserve build vs collectstatic + WhiteNoise compression."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness import buildspeed
from harness.corpus import BuildRun, staticserve_build
from harness.machine import wait_for_quiet
from harness.measure import delete_tree
from harness.paths import BENCH_DIR, VENV_PYTHON

NPM_PACKAGES = ("bootstrap@5.3.9", "@fortawesome/fontawesome-free@6.7.2", "katex@0.16.22")
CHANGED_FILE = "admin/css/base.css"

# corpus folder -> folder inside node_modules (or the Django admin marker)
_FULL_PARTS = {
    "bootstrap/dist": "bootstrap/dist",
    "bootstrap/js": "bootstrap/js",
    "bootstrap/scss": "bootstrap/scss",
    "fontawesome/css": "@fortawesome/fontawesome-free/css",
    "fontawesome/webfonts": "@fortawesome/fontawesome-free/webfonts",
    "fontawesome/svgs": "@fortawesome/fontawesome-free/svgs",
    "fontawesome/js": "@fortawesome/fontawesome-free/js",
    "fontawesome/scss": "@fortawesome/fontawesome-free/scss",
    "fontawesome/less": "@fortawesome/fontawesome-free/less",
    "katex": "katex/dist",
}
_QUICK_PARTS = {
    "fontawesome/css": "@fortawesome/fontawesome-free/css",
    "fontawesome/webfonts": "@fortawesome/fontawesome-free/webfonts",
    "fontawesome/svgs": "@fortawesome/fontawesome-free/svgs",
}


def _npm_modules(work: Path) -> Path | None:
    """Install the npm packages once into ``work/npm``; None when npm is not available."""
    modules = work / "npm" / "node_modules"
    if all((modules / p.rsplit("@", 1)[0]).exists() for p in NPM_PACKAGES):
        return modules
    if shutil.which("npm") is None:
        return None
    (work / "npm").mkdir(parents=True, exist_ok=True)
    command = ["npm", "install", "--prefix", str(work / "npm"), "--no-save", "--ignore-scripts"]
    done = subprocess.run(
        [*command, "--no-audit", "--no-fund", *NPM_PACKAGES], capture_output=True, timeout=300
    )
    return modules if done.returncode == 0 else None


def _django_admin_static() -> Path:
    import django

    return Path(django.__file__).parent / "contrib" / "admin" / "static" / "admin"


def _copy(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".*"), dirs_exist_ok=True)


def assemble(work: Path, quick: bool) -> tuple[Path, list[str]]:
    """Copy the corpus into ``work/build-src``; return it and the names of what it holds."""
    source = work / "build-src"
    delete_tree(source)
    _copy(_django_admin_static(), source / "admin")
    parts = ["django admin"]
    modules = _npm_modules(work)
    if modules is not None:
        for dest, origin in (_QUICK_PARTS if quick else _FULL_PARTS).items():
            if (modules / origin).exists():
                _copy(modules / origin, source / dest)
                parts.append(dest)
    return source, parts


@dataclass(frozen=True, slots=True)
class OutputSize:
    files: int  # logical files
    identity_bytes: int
    br_bytes: int  # sum of the .br variants
    gzip_bytes: int
    br_client_bytes: int  # what a br-capable client downloads for everything (variant or original)
    gzip_client_bytes: int
    disk_bytes: int  # everything the tool left in the output folder


def _disk_bytes(folder: Path) -> int:
    """Bytes of the distinct files (hard links counted once)."""
    seen: dict[tuple[int, int], int] = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            stat = path.stat()
            seen[(stat.st_dev, stat.st_ino)] = stat.st_size
    return sum(seen.values())


def _sizes(output: Path, hashed_paths: list[str]) -> OutputSize:
    identity = br = gz = br_client = gz_client = 0
    for rel in hashed_paths:
        size, br_size, gz_size = _variant_sizes(output / rel)
        identity += size
        br += br_size or 0
        gz += gz_size or 0
        for_br, for_gzip = _client_bytes(size, br_size, gz_size)
        br_client += for_br
        gz_client += for_gzip
    return OutputSize(
        len(hashed_paths), identity, br, gz, br_client, gz_client, _disk_bytes(output)
    )


def _size_or_none(path: Path) -> int | None:
    return path.stat().st_size if path.exists() else None


def _variant_sizes(path: Path) -> tuple[int, int | None, int | None]:
    """Sizes of ``path`` and of its ``.br`` and ``.gz`` variants (None: no such variant)."""
    return (
        path.stat().st_size,
        _size_or_none(path.with_name(path.name + ".br")),
        _size_or_none(path.with_name(path.name + ".gz")),
    )


def _client_bytes(size: int, br: int | None, gz: int | None) -> tuple[int, int]:
    """What a ``br, gzip`` client and a ``gzip`` client download: the smallest they accept."""
    return min(size, br or size, gz or size), min(size, gz or size)


def _staticserve_paths(output: Path) -> dict[str, str]:
    """Logical path -> hashed file, from staticserve's manifest."""
    assets = json.loads((output / "staticserve.json").read_text())["assets"]
    return {logical: asset["path"] for logical, asset in assets.items()}


def _django_paths(static_root: Path) -> dict[str, str]:
    """Logical path -> hashed file, from Django's manifest."""
    paths: dict[str, str] = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    return paths


def same_content_sizes(ours: Path, theirs: Path) -> dict[str, int]:
    """Compressed sizes over the files both tools left with identical bytes.

    Totals alone mix two things: how well each tool compresses, and what it wrote before
    compressing (staticserve also rewrites JS module imports to hashed names, so those files
    are a few bytes longer). Here only the first is compared, file by file.
    """
    their_paths = _django_paths(theirs)
    totals = dict.fromkeys(
        (
            "files",
            "differing_files",
            "ours_br_client",
            "theirs_br_client",
            "ours_gzip_client",
            "theirs_gzip_client",
        ),
        0,
    )
    for logical, mine in _staticserve_paths(ours).items():
        if logical not in their_paths:
            continue
        a, b = ours / mine, theirs / their_paths[logical]
        if a.read_bytes() != b.read_bytes():
            totals["differing_files"] += 1
            continue
        totals["files"] += 1
        our_br, our_gz = _client_bytes(*_variant_sizes(a))
        their_br, their_gz = _client_bytes(*_variant_sizes(b))
        totals["ours_br_client"] += our_br
        totals["theirs_br_client"] += their_br
        totals["ours_gzip_client"] += our_gz
        totals["theirs_gzip_client"] += their_gz
    return totals


def staticserve_sizes(output: Path) -> OutputSize:
    return _sizes(output, list(_staticserve_paths(output).values()))


def django_sizes(static_root: Path) -> OutputSize:
    return _sizes(static_root, list(_django_paths(static_root).values()))


def collectstatic(source: Path, static_root: Path, *, keep_only_hashed: bool) -> BuildRun:
    """``manage.py collectstatic`` in a fresh process; its wall and CPU time in seconds."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "django_settings",
        "PYTHONPATH": str(BENCH_DIR),
        "BENCH_SOURCE": str(source),
        "BENCH_STATIC_ROOT": str(static_root),
        "BENCH_KEEP_ONLY_HASHED": "1" if keep_only_hashed else "0",
    }
    command = [str(VENV_PYTHON), "-m", "django", "collectstatic", "--noinput", "-v", "0"]
    try:
        timed = buildspeed.run_timed(command, BENCH_DIR, env)
    except RuntimeError as error:
        raise RuntimeError(f"collectstatic failed: {str(error).splitlines()[-1]}") from None
    return BuildRun(timed.seconds, {}, timed.cpu_seconds, 0, timed.peak_rss_mb)


def _change_one_file(source: Path) -> None:
    path = source / CHANGED_FILE
    path.write_bytes(path.read_bytes() + b"\n/* changed by the benchmark */\n")


def _count(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def _quiet() -> float:
    """Wait (up to 20 s) for other people's work to calm down; the busy cores we start with."""
    return wait_for_quiet().busy_cores


def _staticserve_runs(source: Path, output: Path, work: Path, rounds: int) -> dict[str, Any]:
    """Cold builds against the compression-only bound (buildspeed.py), no-op and one-file-
    changed builds: wall and CPU times, stage timings, load."""
    busy = {"full": _quiet()}
    speed = buildspeed.rounds(source, output, work, rounds)
    last = speed["rounds"][-1]["build"]
    runs = {
        "full": BuildRun(
            speed["full_median_s"],
            last["report"].get("stage_seconds", {}),
            last["cpu_seconds"],
            last["report"].get("compressed", 0),
            last["peak_rss_mb"],
        )
    }
    busy["noop"] = _quiet()
    noop = sorted(speed["noop"], key=lambda n: n["seconds"])[len(speed["noop"]) // 2]
    runs["noop"] = BuildRun(
        noop["seconds"],
        noop["report"].get("stage_seconds", {}),
        noop["cpu_seconds"],
        0,
        noop["peak_rss_mb"],
    )
    _change_one_file(source)
    busy["one_changed"] = _quiet()
    runs["one_changed"] = staticserve_build(source, output)
    result = _tool_result(runs, busy, staticserve_sizes(output), None)
    result["stage_seconds"] = {
        k: {s: round(v, 3) for s, v in r.stages.items()} for k, r in runs.items()
    }
    result["compressed"] = {k: r.compressed for k, r in runs.items()}
    result["speed"] = speed
    return result


def _cache_runs(work: Path, quick: bool, rounds: int) -> dict[str, Any]:
    """The cache folder's scenario (harness/cachebench.py) on a fresh copy of the corpus."""
    from harness import cachebench

    source, _ = assemble(work, quick)
    try:
        result = cachebench.run(source, work, rounds)
    except RuntimeError as error:
        return {"error": str(error)}
    for row, cells in result["cells"].items():
        seconds = {column: round(cell["seconds"], 2) for column, cell in cells.items()}
        print(f"  {row}: {seconds}", flush=True)
    return result


def _django_runs(
    source: Path, root: Path, *, keep_only_hashed: bool, rebuilds: bool
) -> tuple[dict[str, BuildRun], dict[str, float]]:
    delete_tree(root)
    busy = {"full": _quiet()}
    runs = {"full": collectstatic(source, root, keep_only_hashed=keep_only_hashed)}
    if rebuilds:  # collectstatic has no incremental mode: a no-op shows what every rebuild costs
        busy["noop"] = _quiet()
        runs["noop"] = collectstatic(source, root, keep_only_hashed=keep_only_hashed)
    return runs, busy


def _tool_result(
    runs: dict[str, BuildRun] | None,
    busy: dict[str, float] | None,
    sizes: OutputSize | None,
    error: str | None,
) -> dict[str, Any]:
    return {
        "seconds": {k: round(r.seconds, 3) for k, r in (runs or {}).items()},
        "cpu_seconds": {k: round(r.cpu_seconds, 3) for k, r in (runs or {}).items()},
        "peak_rss_mb": {k: r.peak_rss_mb for k, r in (runs or {}).items() if r.peak_rss_mb},
        "busy_cores_at_start": busy or {},
        "sizes": asdict(sizes) if sizes else None,
        "error": error,
    }


def run(work: Path, quick: bool, rounds: int = 3) -> dict[str, Any]:
    """Every build measured on a fresh copy of the corpus, staticserve first."""
    source, parts = assemble(work, quick)
    files, total = _count(source)
    print(f"  corpus: {files} files, {total / 1e6:.1f} MB ({', '.join(parts)})", flush=True)
    results: dict[str, Any] = {"corpus": {"files": files, "bytes": total, "parts": parts}}
    output = work / "build-out-staticserve"
    results["staticserve"] = _staticserve_runs(source, output, work, rounds)
    print(f"  staticserve build: {results['staticserve']['seconds']}", flush=True)
    results["staticserve_cache"] = _cache_runs(work, quick, rounds)
    variants = [("whitenoise", False, not quick)]
    if not quick:
        variants.append(("whitenoise_keep_only_hashed", True, False))
    for key, keep_only_hashed, rebuilds in variants:
        source, _ = assemble(work, quick)
        root = work / f"build-out-{key}"
        try:
            runs, busy = _django_runs(
                source, root, keep_only_hashed=keep_only_hashed, rebuilds=rebuilds
            )
            results[key] = _tool_result(runs, busy, django_sizes(root), None)
            results[key]["same_content"] = same_content_sizes(output, root)
        except RuntimeError as error:
            results[key] = _tool_result(None, None, None, str(error))
        print(
            f"  collectstatic ({key}): {results[key]['seconds'] or results[key]['error']}",
            flush=True,
        )
    return results
