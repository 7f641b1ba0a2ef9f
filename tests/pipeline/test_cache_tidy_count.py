"""The count a build keeps in the cache folder's last-build.json (the entries' bytes since the
last walk) must never fall below what the folder holds, or a build skips the prune it needs and
the cache grows past ``cache_max_size``: not when the cache could no longer be written partway
through a build, nor when the record itself could not be written, nor when the entries stored
are empty ones (variants not worth keeping, which pruning counts a byte each)."""

from __future__ import annotations

import errno
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from staticserve.pipeline import cache_dir, cache_folder

from .conftest import build_with_cache, compressible, write_tree

NAMES = ["é clé/app ünï.css", "a b/app.0123456789ab.css", "js/ma in.js"]


run = build_with_cache


def entries(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "v2").rglob("*") if p.is_file())


def room(cache: Path) -> int:
    """The room the entries take as pruning counts it (an empty entry: a byte)."""
    return sum(max(p.stat().st_size, 1) for p in entries(cache))


def record(cache: Path) -> dict[str, Any] | None:
    try:
        found = json.loads((cache / "last-build.json").read_text())
    except FileNotFoundError:
        return None
    assert isinstance(found, dict)
    return found


def counts_at_least_what_is_held(cache: Path) -> bool:
    """The next storing build walks the folder (no usable count), or its count covers it all."""
    found = record(cache)
    if found is None or not isinstance(found.get("entries_bytes"), int):
        return True
    return bool(found["entries_bytes"] >= room(cache))


def site(tmp_path: Path, number: int) -> None:
    write_tree(
        tmp_path / "assets",
        {name: compressible(5000 + 100 * number + i) for i, name in enumerate(NAMES)},
    )


def failing_writes(monkeypatch: pytest.MonkeyPatch, *, entries_after: int, record: bool) -> None:
    """The cache's disk full: entries fail after the first ``entries_after`` are stored, and
    writing last-build.json fails when ``record``."""
    real = cache_dir.write_new
    stored = [0]

    def write_new(path: Path, data: bytes) -> tuple[int, int]:
        if path.name == "last-build.json":
            if record:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        else:
            stored[0] += 1
            if stored[0] > entries_after:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(cache_dir, "write_new", write_new)


def test_a_cache_full_partway_through_a_build_is_still_pruned_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site(tmp_path, 0)
    run(tmp_path, "out0")
    cache = tmp_path / "cache"
    limit = room(cache) + 10  # the next build's entries pass it
    site(tmp_path, 1)
    with monkeypatch.context() as patched:
        failing_writes(patched, entries_after=2, record=False)
        report = run(tmp_path, "out1", cache_max_size=limit)
    assert any("cannot be written" in w for w in report.warnings), report.warnings
    assert room(cache) <= limit  # pruned, as a build that stored entries is
    assert counts_at_least_what_is_held(cache)


def test_a_record_that_could_not_be_written_never_undercounts_the_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site(tmp_path, 0)
    run(tmp_path, "out0")
    cache = tmp_path / "cache"
    site(tmp_path, 1)
    with monkeypatch.context() as patched:
        failing_writes(patched, entries_after=10**6, record=True)
        run(tmp_path, "out1")  # stored entries, not walked (far under 1 GiB), no record saved
    assert counts_at_least_what_is_held(cache)


def test_empty_entries_count_as_pruning_counts_them(tmp_path: Path) -> None:
    """Tiny files' variants are not worth keeping: their entries are empty, a byte each to
    pruning. A build storing only such entries must still keep the cache within its limit."""
    tiny = {f"js/tïny {i}.js": f"{i}" for i in range(30)}
    write_tree(tmp_path / "assets", tiny)
    run(tmp_path, "out0", cache_max_size=8)  # no record yet: walked, 8 entries kept
    cache = tmp_path / "cache"
    assert room(cache) <= 8
    write_tree(tmp_path / "assets", {f"js/tïny {i}.js": f"{i}!" for i in range(30)})
    report = run(tmp_path, "out1", cache_max_size=8)
    assert report.compressed
    assert room(cache) <= 8
    assert counts_at_least_what_is_held(cache)


def bounded() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize("planted", ["fifo", "dev-zero", "huge"])
def test_cache_info_never_hangs_nor_reads_a_planted_record(tmp_path: Path, planted: str) -> None:
    """``staticserve cache info`` reads last-build.json as a build does: never through a link,
    never from a pipe (which would block it) or a device (/dev/zero: memory exhausted)."""
    site(tmp_path, 0)
    run(tmp_path, "out0")
    cache = tmp_path / "cache"
    last = cache / "last-build.json"
    last.unlink()
    if planted == "fifo":
        os.mkfifo(last)
    elif planted == "dev-zero":
        last.symlink_to("/dev/zero")
    else:
        last.write_bytes(b"{" + b" " * (cache_folder._RECORD_LIMIT + 1) + b"}")
    done = subprocess.run(
        [sys.executable, "-m", "staticserve", "cache", "info", "--cache-dir", str(cache)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        check=False,
        preexec_fn=bounded,  # a /dev/zero read stops at 1 GiB, not at the machine's memory
    )
    assert done.returncode == 0, done.stderr
    assert "entries" in done.stdout
    assert "last build" not in done.stdout  # none that could be read
