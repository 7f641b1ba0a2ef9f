"""Compression inside the build: skipped waste, failures, interruptions and the cache."""

from __future__ import annotations

import gzip
import importlib
import os
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import brotli
import pytest

from staticserve.errors import BrokenReference, BuildError, ConfigError
from staticserve.manifest import MANIFEST_NAME, Manifest
from staticserve.pipeline import BuildReport
from staticserve.pipeline.compress import MAX_RATIO, compress_variants
from staticserve.pipeline.output_dir import STATE_DIR

from .conftest import compressible, write_tree

Project = Callable[..., BuildReport]
# the module itself (staticserve.build is also the name of a function in staticserve)
compress = importlib.import_module("staticserve.pipeline.compress")


def files_on_disk(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and STATE_DIR not in p.parts
    }


def test_variants_decompress_to_the_input_and_gzip_runs_first() -> None:
    data = compressible(20_000).encode()
    variants = compress_variants(data, ("br", "gzip"))
    assert list(variants) == ["gzip", "br"]
    assert brotli.decompress(variants["br"] or b"") == data
    assert gzip.decompress(variants["gzip"] or b"") == data


def test_brotli_11_is_not_spent_on_bytes_that_gzip_and_a_quick_probe_cannot_shrink(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    real = compress.compress
    monkeypatch.setattr(compress, "compress", lambda d, e: calls.append(e) or real(d, e))
    assert compress_variants(os.urandom(50_000), ("br", "gzip", "zstd")) == {
        "gzip": None,
        "br": None,
        "zstd": None,
    }
    assert calls == []


def test_repeats_further_apart_than_gzips_window_still_get_brotli() -> None:
    block = os.urandom(100_000)
    data = block + os.urandom(40_000) + block  # gzip sees nothing; brotli's window sees the repeat
    variants = compress_variants(data, ("br", "gzip"))
    assert variants["gzip"] is None
    packed = variants["br"]
    assert packed is not None
    assert len(packed) <= MAX_RATIO * len(data)
    assert brotli.decompress(packed) == data


def test_tiny_files_are_compressed_when_it_pays(project: Project, tmp_path: Path) -> None:
    scss = "@import 'functions';\n@import 'variables';\n@import 'mixins';\n@import 'root';\n"
    project({"a.scss": scss, "tiny.css": "a{}"})
    manifest = Manifest.load(tmp_path / "out")
    assert set(manifest.assets["a.scss"].encodings) == {"br", "gzip"}
    assert manifest.assets["tiny.css"].encodings == {}  # brotli's 7 bytes beat nothing here


def test_a_tiny_file_gets_brotli_even_where_gzip_framing_makes_it_grow() -> None:
    data = b".clearfix {\n  @include clearfix();\n}\n"  # 37 bytes: gzip 51, brotli 11 32
    variants = compress_variants(data, ("br", "gzip"))
    assert variants["gzip"] is None
    assert variants["br"] is not None
    assert brotli.decompress(variants["br"]) == data


def test_a_compressor_failure_is_a_clear_error_and_nothing_is_published(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project({"a.css": compressible(), "b.js": compressible(5000, "x();\n")})
    before = files_on_disk(tmp_path / "out")
    real = compress.compress

    def broken(data: bytes, encoding: str) -> bytes | None:
        if b"broken" in data:
            raise MemoryError("out of memory in the encoder")
        return real(data, encoding)

    monkeypatch.setattr(compress, "compress", broken)
    write_tree(tmp_path / "assets", {"a.css": compressible() + "/* broken */", "c.css": compressible(3000, "c{}\n")})  # fmt: skip
    with pytest.raises(BuildError, match=r"^a\.css: br compression failed \(MemoryError: out of memory in the encoder\); nothing was published"):  # fmt: skip
        project()
    monkeypatch.undo()
    assert files_on_disk(tmp_path / "out") == before  # what it wrote early was removed again
    assert not (tmp_path / "out" / STATE_DIR / "journal.json").exists()
    assert project().changed


def test_an_interrupted_build_stops_its_threads_and_removes_what_it_wrote(
    project: Project, tmp_path: Path
) -> None:
    project({"a.css": compressible()})
    before = files_on_disk(tmp_path / "out")
    files = {f"f{i}.css": compressible(20_000, f".c{i} {{ color: red }}\n") for i in range(40)}

    def interrupt(stage: str, done: int, total: int) -> None:
        if stage == "compress" and done >= 2:
            raise KeyboardInterrupt

    write_tree(tmp_path / "assets", files)
    with pytest.raises(KeyboardInterrupt):
        project(progress=interrupt)
    assert files_on_disk(tmp_path / "out") == before
    assert not [t for t in threading.enumerate() if t.name.startswith(("compress", "write"))]


def test_no_worker_threads_outlive_a_build(project: Project) -> None:
    project({f"f{i}.css": compressible(3000, f".c{i}{{}}\n") for i in range(20)})
    assert not [t for t in threading.enumerate() if t.name.startswith(("compress", "write"))]


def test_a_lost_cache_is_rebuilt_once(project: Project, tmp_path: Path) -> None:
    project({"a.css": compressible(), "b.js": compressible(5000, "x();\n")})
    (tmp_path / "out" / STATE_DIR / "cache.json").unlink()
    assert project().compressed == 4
    assert project().compressed == 0


def test_a_deleted_variant_is_written_again(project: Project, tmp_path: Path) -> None:
    project({"a.css": compressible()})
    asset = Manifest.load(tmp_path / "out").assets["a.css"]
    variant = tmp_path / "out" / asset.variant_path("br")
    variant.unlink()
    report = project()
    assert (report.compressed, report.changed) == (1, False)
    assert brotli.decompress(variant.read_bytes()) == (tmp_path / "out" / asset.path).read_bytes()


def test_a_broken_reference_in_strict_mode_stops_early_compression_and_writes_nothing(
    project: Project, tmp_path: Path
) -> None:
    project({"a.css": compressible()})
    before = files_on_disk(tmp_path / "out")
    maps = {f"m{i}.js.map": compressible(50_000, f'{{"v{i}": 3}}\n') for i in range(10)}
    with pytest.raises(BrokenReference):
        project({**maps, "b.css": "b{background:url(missing.png)}"}, strict=True)
    assert files_on_disk(tmp_path / "out") == before
    assert not (tmp_path / "out" / STATE_DIR / "journal.json").exists()
    assert not [t for t in threading.enumerate() if t.name.startswith(("compress", "write"))]


def test_zstd_falls_back_to_the_zstandard_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from backports import zstd

    data = b"body { color: teal; }\n" * 200
    for name in ("compression.zstd", "backports.zstd"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails: as if not installed
    compress._zstd_compressor.cache_clear()
    try:
        packed = compress.CODECS["zstd"](data)
    finally:
        compress._zstd_compressor.cache_clear()
    monkeypatch.undo()
    assert zstd.decompress(packed) == data
    assert len(packed) < len(data) // 10


def test_zstd_without_any_library_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("compression.zstd", "backports.zstd", "zstandard"):
        monkeypatch.setitem(sys.modules, name, None)
    compress._zstd_compressor.cache_clear()
    try:
        with pytest.raises(ConfigError, match="zstd needs"):
            compress.check_available(("br", "zstd"))
    finally:
        compress._zstd_compressor.cache_clear()


# -- the skip list: one table in compress.py, the same list in the README ----------------------

README = Path(__file__).resolve().parents[2] / "README.md"
SKIP_LIST_INTRODUCTION = "Never compressed, by suffix"


def readme_skip_list() -> set[str]:
    """The suffixes the README's Precompression section lists as never compressed."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(SKIP_LIST_INTRODUCTION))
    suffixes: set[str] = set()
    for line in lines[start + 1 :]:
        if not line.startswith("- "):
            break
        suffixes.update(re.findall(r"`(\.[a-z0-9]+)`", line))
    return suffixes


def test_the_readme_lists_exactly_the_suffixes_the_code_skips() -> None:
    listed = readme_skip_list()
    assert listed - compress.INCOMPRESSIBLE_SUFFIXES == set(), "in the README only"
    assert compress.INCOMPRESSIBLE_SUFFIXES - listed == set(), "in compress.py only"


def test_every_format_the_readme_lists_as_compressed_already_gets_no_variant(
    project: Project, tmp_path: Path
) -> None:
    # Compressible bytes, so that only the suffix can stop a variant.
    suffixes = sorted(readme_skip_list())
    video_and_archives = {".avi", ".mpg", ".mpeg", ".wmv", ".flv", ".swf", ".3gp", ".3gpp", ".asf", ".tbz"}  # fmt: skip
    assert video_and_archives <= set(suffixes)
    project({f"media/clip{suffix}": compressible(20_000) for suffix in suffixes})
    manifest = Manifest.load(tmp_path / "out")
    with_variants = {k: dict(a.encodings) for k, a in manifest.assets.items() if a.encodings}
    assert with_variants == {}
    names = {name for a in manifest.assets.values() for name in (a.path, a.logical)}
    assert set(files_on_disk(tmp_path / "out")) == names | {MANIFEST_NAME}  # no .br, no .gz


def test_a_second_interrupt_while_compressions_finish_still_leaves_the_output_tidy(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C waits for the compressions running (brotli cannot be stopped mid-call, which
    takes seconds on large files); a user who presses Ctrl-C again during that wait must not
    find this build's files and journal left in the output."""
    from staticserve.pipeline.schedule import LargestFirst

    project({"a.css": compressible()})
    before = files_on_disk(tmp_path / "out")
    real_shutdown = LargestFirst.shutdown

    def impatient(self: LargestFirst, *, cancel: bool) -> None:
        if cancel:
            real_shutdown(self, cancel=True)  # the threads still stop (no thread outlives the test)
            raise KeyboardInterrupt  # ... but the user pressed Ctrl-C again while it waited
        real_shutdown(self, cancel=cancel)

    def interrupt(stage: str, done: int, total: int) -> None:
        if stage == "compress" and done >= 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(LargestFirst, "shutdown", impatient)
    write_tree(tmp_path / "assets", {f"f{i}.css": compressible(20_000, f".c{i} {{}}\n") for i in range(40)})  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        project(progress=interrupt)
    assert files_on_disk(tmp_path / "out") == before
    assert not (tmp_path / "out" / STATE_DIR / "journal.json").exists()
