"""The catalog: a build is indexed at startup and each URL prepared on its first request."""

from __future__ import annotations

from pathlib import Path

import pytest

from staticserve.catalog import Catalog, ServeOptions
from staticserve.core.response import FileSlice

from .conftest import CSS, JS, Build, write_build


def catalog(build: Build, **options: object) -> Catalog:
    return Catalog(build.root, ServeOptions(**options))  # type: ignore[arg-type]


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    original = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        reads.append(self.name)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    return reads


def test_loading_a_build_reads_no_file_but_the_manifest(
    static_build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = count_reads(monkeypatch)
    catalog(static_build)
    assert reads == []


def test_a_file_is_read_once_for_its_logical_and_hashed_urls(
    static_build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = count_reads(monkeypatch)
    found = catalog(static_build)
    logical = found.find(b"/static/css/app.css")
    hashed = found.find(static_build.hashed("css/app.css").encode())
    assert logical is not None
    assert hashed is not None
    assert logical.identity.body == CSS
    assert hashed.identity.body is logical.identity.body  # the same bytes, held once
    assert len(reads) == 3  # identity, br, gzip
    assert found.find(b"/static/css/app.css") is logical  # prepared once
    assert len(reads) == 3


def test_unknown_paths_prepare_nothing(static_build: Build) -> None:
    found = catalog(static_build)
    assert found.find(b"/static/css/missing.css") is None
    assert found.find(b"/static/staticserve.json") is None


def test_the_memory_budget_holds_when_files_are_prepared_lazily(tmp_path: Path) -> None:
    build = write_build(tmp_path / "out", {"css/app.css": (CSS, ()), "js/app.js": (JS, ())})
    found = catalog(build, memory_total=len(CSS) + 10)
    css = found.find(b"/static/css/app.css")
    js = found.find(b"/static/js/app.js")
    assert css is not None
    assert js is not None
    assert css.identity.body == CSS  # fits the budget
    assert isinstance(js.identity.body, FileSlice)  # the budget is spent: served from disk


def test_a_reload_keeps_the_bytes_of_unchanged_files_without_reading_them_again(
    fresh_static_build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = catalog(fresh_static_build, reload_interval=0)
    before = found.find(b"/static/js/app.js")
    assert before is not None
    write_build(fresh_static_build.root, {"js/app.js": (JS, ("br", "gzip", "zstd"))}, generation=2)
    reads = count_reads(monkeypatch)
    assert found.reload() is True
    after = found.find(b"/static/js/app.js")
    assert after is not None
    assert after is not before
    assert after.identity.body is before.identity.body
    assert reads == []
