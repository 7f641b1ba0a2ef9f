"""A warm-cache build (every variant in ``--cache-dir``, or all but a few files' variants) takes
the cached variants in the thread that asks for them, with no compressing thread for them, and
writes in that thread too: writing threads would only pass the interpreter lock to it. What is
missing or damaged still goes to the compressing threads, and the output is the same either
way."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from staticserve.manifest import Manifest
from staticserve.pipeline import BuildConfig, BuildReport, Source, build

from .conftest import build_with_cache, compressible, write_tree

variants = importlib.import_module("staticserve.pipeline.variants")

FILES = {
    "css/app.css": compressible(6000),
    "css/thème et café.css": compressible(3000, ".theme { margin: 0 auto; }\n"),
    "js/app.0123456789ab.js": compressible(5000, "export const answer = () => 42;\n"),
    "js/tiny.js": "x",  # not worth compressing: the cache remembers that too
}


@pytest.fixture
def site(tmp_path: Path) -> Callable[[str], BuildReport]:
    write_tree(tmp_path / "assets", FILES)

    def run(output: str) -> BuildReport:
        return build_with_cache(tmp_path, output)

    return run


def threads_started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads the build starts from now on."""
    names: list[str] = []
    start = threading.Thread.start

    def recorded(self: threading.Thread, *args: Any, **kwargs: Any) -> None:
        names.append(self.name)
        start(self, *args, **kwargs)

    monkeypatch.setattr(threading.Thread, "start", recorded)
    return names


def writing_pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the writing thread pools the build makes from now on (a pool starts its
    threads only as work waits for them, so the threads started tell less)."""
    sizes: list[int] = []
    pool = variants.ThreadPoolExecutor

    def recorded(workers: int, **options: Any) -> ThreadPoolExecutor:
        sizes.append(workers)
        return pool(workers, **options)

    monkeypatch.setattr(variants, "ThreadPoolExecutor", recorded)
    return sizes


def published(output: Path) -> dict[str, bytes]:
    return {
        p.relative_to(output).as_posix(): p.read_bytes()
        for p in sorted(output.rglob("*"))
        if p.is_file() and ".staticserve" not in p.parts and p.name != "staticserve.json"
    }


def test_a_warm_build_starts_no_compressing_nor_writing_thread(
    tmp_path: Path, site: Callable[[str], BuildReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    site("out1")
    started, sizes = threads_started(monkeypatch), writing_pools(monkeypatch)
    report = site("out2")
    assert (report.compressed, report.restored) == (0, 8)
    assert not [name for name in started if name.startswith(("compress", "write"))], started
    assert sizes == []
    assert published(tmp_path / "out2") == published(tmp_path / "out1")
    assert Manifest.load(tmp_path / "out2").assets == Manifest.load(tmp_path / "out1").assets


def test_a_damaged_entry_sends_that_file_to_the_compressing_threads(
    tmp_path: Path, site: Callable[[str], BuildReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    site("out1")
    expected = published(tmp_path / "out1")
    entries = sorted(
        p for p in (tmp_path / "cache/v2").rglob("*") if p.is_file() and p.stat().st_size
    )
    for entry in entries[:1]:  # one variant's entry cut: its file is compressed again
        data = entry.read_bytes()
        entry.unlink()  # not written through: the outputs linked to it keep their bytes
        entry.write_bytes(data[:-1])
    started = threads_started(monkeypatch)
    report = site("out2")
    assert report.compressed >= 1
    assert [name for name in started if name.startswith("compress")], started
    assert published(tmp_path / "out2") == expected


def test_a_file_changed_since_the_cache_was_filled_is_compressed_by_a_thread(
    tmp_path: Path, site: Callable[[str], BuildReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    site("out1")
    (tmp_path / "assets/css/app.css").write_text(compressible(6100), encoding="utf-8")
    started, sizes = threads_started(monkeypatch), writing_pools(monkeypatch)
    report = site("out2")
    assert (report.compressed, report.restored) == (2, 6)
    assert [name for name in started if name.startswith("compress")], started
    assert not [name for name in started if name.startswith("write")], started
    assert sizes == []  # a few files compressed: still a warm build, written where it waits
    assert published(tmp_path / "out2")["css/app.css"] == compressible(6100).encode()


def test_a_build_that_compresses_many_files_writes_on_several_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(
        tmp_path / "assets", {f"css/part {n}.css": compressible(2000 + n) for n in range(20)}
    )
    sizes = writing_pools(monkeypatch)
    config = BuildConfig(base_dir=tmp_path, sources=(Source(Path("assets")),), output=Path("out"))
    report = build(config)
    assert report.compressed == 40
    assert sizes == [4]
