"""The persistent compression cache (``--cache-dir``): a build from a clean checkout into an empty
output takes its variants from the cache folder, never bytes that a corrupt entry or another
codec version made, and the cache never fails a build."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import brotli
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from staticserve.cli import main
from staticserve.errors import ConfigError
from staticserve.manifest import Manifest
from staticserve.pipeline import (
    BuildConfig,
    BuildReport,
    Source,
    build,
    cache_dir,
    cache_folder,
    load_config,
)
from staticserve.pipeline.cache_dir import CompressionCache, _check, cache_info, prune

from .conftest import compressible, settle, write_tree

REPO = Path(__file__).resolve().parents[2]

FILES = {
    "css/app.css": compressible(6000),
    "css/theme.css": compressible(3000, ".theme { margin: 0 auto; padding: 1em; }\n"),
    "js/app.js": compressible(5000, "export const answer = () => 42; // the answer\n"),
    "js/tiny.js": "x",  # no variant worth keeping: the cache remembers that too
    "img/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(300),  # never compressed
}
COMPRESSIBLE = 3  # files of FILES with variants


@pytest.fixture
def site(tmp_path: Path) -> Callable[..., BuildReport]:
    """``site(output, **settings)``: builds assets/ into a fresh output folder with the cache
    folder ``cache/`` (each call may name another output, as a clean checkout would have)."""
    write_tree(tmp_path / "assets", FILES)

    def run(output: str, **settings: Any) -> BuildReport:
        settings.setdefault("cache_dir", Path("cache"))
        options = {k: settings.pop(k) for k in ("clear", "dry_run") if k in settings}
        config = BuildConfig(
            base_dir=tmp_path, sources=(Source(Path("assets")),), output=Path(output), **settings
        )
        return build(config, **options)

    return run


def variants(output: Path) -> dict[str, bytes]:
    """Every published variant of ``output``, by hashed name."""
    manifest = Manifest.load(output)
    return {
        asset.variant_path(encoding): (output / asset.variant_path(encoding)).read_bytes()
        for asset in manifest.assets.values()
        for encoding in asset.encodings
    }


def entries(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "v2").rglob("*") if p.is_file())


def check_variants_are_right(output: Path) -> None:
    """Each variant decodes to its file's bytes (nothing a broken entry held was published)."""
    decoders = {".br": brotli.decompress, ".gz": gzip.decompress}
    for name, packed in variants(output).items():
        stem, _, suffix = name.rpartition(".")
        assert decoders["." + suffix](packed) == (output / stem).read_bytes(), name


def test_a_build_into_an_empty_output_takes_every_variant_from_the_cache(
    tmp_path: Path, site: Callable[..., BuildReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = site("out1")
    assert (first.compressed, first.restored) == (2 * COMPRESSIBLE + 2, 0)

    # A clean checkout: another, empty output; and a brotli that cannot compress, so that a
    # single br compression would fail the build.
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("brotli ran")

    monkeypatch.setattr(brotli, "compress", refuse)
    monkeypatch.setattr(brotli, "Compressor", refuse)
    second = site("out2")
    assert (second.compressed, second.restored) == (0, 2 * COMPRESSIBLE + 2)
    assert variants(tmp_path / "out2") == variants(tmp_path / "out1")
    assert len(variants(tmp_path / "out2")) == 2 * COMPRESSIBLE


def test_one_changed_file_is_the_only_one_compressed(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    site("out1")
    (tmp_path / "assets/css/theme.css").write_text(compressible(3100), encoding="utf-8")
    report = site("out2")
    assert report.compressed == 2  # br and gzip of the changed file
    assert report.restored == 2 * COMPRESSIBLE  # the others, and tiny.js's two "not worth it"
    check_variants_are_right(tmp_path / "out2")


def test_without_a_cache_folder_nothing_is_restored(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    site("out1", cache_dir=None)
    report = site("out2", cache_dir=None)
    assert (report.restored, report.cache_dir) == (0, None)
    assert report.compressed == 2 * COMPRESSIBLE + 2
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]),  # one bit of the bytes flipped
        lambda raw: raw[: len(raw) // 2],  # truncated
        lambda raw: b"" if raw else b"x",  # emptied (or, empty, given a byte)
        lambda raw: raw + b"\0",  # a byte more
    ],
    ids=["flipped bit", "truncated", "empty", "longer"],
)
def test_a_corrupt_entry_is_ignored_and_replaced(
    tmp_path: Path, site: Callable[..., BuildReport], damage: Callable[[bytes], bytes]
) -> None:
    site("out1")
    cache = tmp_path / "cache"
    for entry in entries(cache):
        raw = entry.read_bytes()
        entry.unlink()  # a new file: out1's variants are hard links to the entries
        entry.write_bytes(damage(raw) if raw else b"x")  # an empty one (not worth it): a byte
    report = site("out2")
    assert (report.compressed, report.restored) == (2 * COMPRESSIBLE + 2, 0)
    assert variants(tmp_path / "out2") == variants(tmp_path / "out1")
    check_variants_are_right(tmp_path / "out2")
    assert json.loads((cache / "last-build.json").read_text())["rejected"] == 2 * COMPRESSIBLE + 2
    # Replaced: the next clean build takes everything from the cache again.
    again = site("out3")
    assert (again.compressed, again.restored) == (0, 2 * COMPRESSIBLE + 2)


def test_an_entry_moved_under_another_name_is_not_believed(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    """The digest covers the entry's name: bytes valid for one key are refused for another."""
    site("out1")
    found = entries(tmp_path / "cache")
    contents = [p.read_bytes() for p in found]
    for path, raw in zip(found, contents[1:] + contents[:1], strict=True):
        path.unlink()
        path.write_bytes(raw)
    report = site("out2")
    assert report.restored == 0
    check_variants_are_right(tmp_path / "out2")


@given(data=st.binary(min_size=0, max_size=300), cut=st.integers(0, 400), flip=st.integers(0, 400))
def test_any_damaged_entry_fails_its_check(data: bytes, cut: int, flip: int) -> None:
    """An entry is found only with exactly the bytes stored under its name: cut, flipped or
    moved to another key, it is rejected (and made again), never handed to the output."""
    key, other = "ab" * 32, "cd" * 32
    with tempfile.TemporaryDirectory() as folder:
        cache = CompressionCache(Path(folder), read=True, write=True, probe=False, warn=print)
        stored = cache._store(key, data or None)
        assert cache._lookup(key) == (True, stored)  # Linked to the entry, or None: not worth it
        entry = next(Path(folder, "v2", "ab").glob(f"{key}.*"))
        assert entry.name == f"{key}.{_check(key, data)}"
        damaged = [data[:cut]] if cut < len(data) else []
        if flip < len(data):
            damaged.append(data[:flip] + bytes([data[flip] ^ 0x01]) + data[flip + 1 :])
        for raw in damaged:
            entry.write_bytes(raw)
            fresh = CompressionCache(Path(folder), read=True, write=True, probe=False, warn=print)
            assert fresh._lookup(key) == (False, None)
            assert not entry.exists()  # removed: found under its name, it is refused again
        entry.write_bytes(data)
        moved = entry.with_name(f"{other}.{entry.name[65:]}")
        entry.rename(Path(folder, "v2", "cd").mkdir() or Path(folder, "v2", "cd", moved.name))
        fresh = CompressionCache(Path(folder), read=True, write=True, probe=False, warn=print)
        assert fresh._lookup(other) == (False, None)
        assert fresh._lookup(key) == (False, None)


@pytest.mark.parametrize(
    ("module", "attribute", "changed"),
    [(brotli, "__version__", "br"), (zlib, "ZLIB_RUNTIME_VERSION", "gzip")],
    ids=["brotli", "zlib"],
)
def test_another_codec_version_never_reuses_the_old_bytes(
    site: Callable[..., BuildReport],
    monkeypatch: pytest.MonkeyPatch,
    module: Any,
    attribute: str,
    changed: str,
) -> None:
    site("out1")
    monkeypatch.setattr(module, attribute, getattr(module, attribute) + ".upgraded")
    report = site("out2")
    if changed == "br":  # br's entries miss; gzip's are found
        assert (report.compressed, report.restored) == (COMPRESSIBLE + 1, COMPRESSIBLE + 1)
    else:  # zlib decides gzip, and whether brotli is worth trying (compress.recipe): all miss
        assert (report.compressed, report.restored) == (2 * COMPRESSIBLE + 2, 0)


def test_another_level_or_encoding_set_is_another_entry(
    site: Callable[..., BuildReport],
) -> None:
    site("out1")
    only_br = site("out2", encodings=("br",))  # without gzip, brotli is never spared: new keys
    assert (only_br.compressed, only_br.restored) == (COMPRESSIBLE + 1, 0)
    again = site("out3", encodings=("br",))
    assert (again.compressed, again.restored) == (0, COMPRESSIBLE + 1)


def test_clear_compresses_everything_again_and_stores_it(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    site("out1")
    before = {p: p.stat().st_mtime_ns for p in entries(tmp_path / "cache")}
    report = site("out1", clear=True)
    assert (report.compressed, report.restored) == (2 * COMPRESSIBLE + 2, 0)
    assert all(p.stat().st_mtime_ns > ns for p, ns in before.items())


def test_a_dry_run_reads_the_cache_and_writes_nothing_to_it(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    site("out0", dry_run=True)
    assert not (tmp_path / "cache").exists()
    site("out1")
    cache = tmp_path / "cache"
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()}
    report = site("out2", dry_run=True)
    assert (report.compressed, report.restored) == (0, 2 * COMPRESSIBLE + 2)
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()} == before


def test_pruning_keeps_the_recently_used_entries(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    cache = tmp_path / "cache"
    site("out1")  # the entries of FILES
    first = set(entries(cache))
    (tmp_path / "assets").rename(tmp_path / "assets-a")
    write_tree(tmp_path / "assets", {n: d + "/* b */" if isinstance(d, str) else d for n, d in FILES.items()})  # fmt: skip
    site("out2")  # the entries of other contents, stored later
    second = set(entries(cache)) - first
    assert second
    # FILES built again: their entries are now the most recently used.
    (tmp_path / "assets").rename(tmp_path / "assets-b")
    (tmp_path / "assets-a").rename(tmp_path / "assets")
    assert site("out3").restored == 2 * COMPRESSIBLE + 2
    keep = sum(p.stat().st_size for p in first)
    result = prune(cache, keep + 2)  # the two empty entries (tiny.js) count a byte each
    assert (result.kept, result.kept_bytes) == (len(first), keep)
    assert (result.removed, set(entries(cache))) == (len(second), first)


def test_a_build_prunes_the_cache_past_its_limit(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    site("out1", cache_max_size=0)
    assert entries(tmp_path / "cache") == []
    assert site("out2", cache_max_size=10**9).compressed == 2 * COMPRESSIBLE + 2


def walks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The limits of each walk (prune) of the cache that builds make from now on."""
    limits: list[int] = []
    real = cache_dir.prune

    def recorded(root: Path, max_size: int) -> Any:
        limits.append(max_size)
        return real(root, max_size)

    monkeypatch.setattr(cache_dir, "prune", recorded)
    return limits


def change(tmp_path: Path, number: int) -> None:
    """One file of the site given new bytes: the next build stores its variants."""
    (tmp_path / "assets/css/app.css").write_text(compressible(6000 + number), encoding="utf-8")


def test_a_build_walks_the_cache_only_when_it_may_be_half_full(
    tmp_path: Path, site: Callable[..., BuildReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pruning stats every entry; the record a build leaves (the bytes of the entries, counted
    at the last walk and added to since) spares that walk while the cache is well under its
    limit, and still prunes it once it may not be."""
    limits = walks(monkeypatch)
    site("out1")  # no record yet: walked
    assert limits == [1024**3]  # the default limit
    cache = tmp_path / "cache"
    record = json.loads((cache / "last-build.json").read_text())
    # Each entry as pruning counts it (an empty one: a byte), at most a byte more.
    assert record["entries_bytes"] == sum(p.stat().st_size + 1 for p in entries(cache))
    assert record["builds_since_walk"] == 0
    change(tmp_path, 1)
    site("out2")  # stored two variants, far under half of 1 GiB: not walked
    assert len(limits) == 1
    record = json.loads((cache / "last-build.json").read_text())
    held = [p.stat().st_size for p in entries(cache)]
    assert sum(max(size, 1) for size in held) <= record["entries_bytes"] <= sum(held) + len(held)
    assert record["builds_since_walk"] == 1
    site("out3")  # stored nothing: nothing to prune, the count carried on
    assert len(limits) == 1
    assert json.loads((cache / "last-build.json").read_text())["builds_since_walk"] == 1
    change(tmp_path, 2)
    total = sum(p.stat().st_size for p in entries(cache))
    site("out4", cache_max_size=2 * total)  # may now pass half of the limit: walked, pruned
    assert limits[1:] == [2 * total]
    assert sum(p.stat().st_size for p in entries(cache)) <= 2 * total


def test_a_walk_comes_every_twenty_builds_or_when_the_record_is_not_to_be_trusted(
    tmp_path: Path, site: Callable[..., BuildReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two builds at once may each miss what the other stored in the count: a walk every
    ``_WALK_EVERY`` storing builds sets it right. A record missing, damaged, foreign or too
    large to be ours means a walk too."""
    limits = walks(monkeypatch)
    site("out0")
    cache = tmp_path / "cache"
    for number in range(1, cache_dir._WALK_EVERY + 2):
        change(tmp_path, number)
        site(f"out{number}")
    assert len(limits) == 2  # the first build's; then twenty that store, unwalked, and a walk
    last = cache / "last-build.json"
    for damaged in (
        b"{not json",
        b"[1, 2]",
        b'{"entries_bytes": -5, "builds_since_walk": 0}',
        b'{"entries_bytes": "12", "builds_since_walk": 0}',
        b'{"entries_bytes": 12}',
        b" " * (cache_folder._RECORD_LIMIT + 1),
    ):
        last.unlink()
        last.write_bytes(damaged)
        change(tmp_path, len(limits) + 100)
        walked = len(limits)
        site(f"out-damaged-{walked}")
        assert len(limits) == walked + 1, damaged
    last.unlink()
    last.symlink_to("/dev/zero")  # never read through a link (nor from a device)
    change(tmp_path, 999)
    walked = len(limits)
    site("out-linked")
    assert len(limits) == walked + 1
    assert json.loads(last.read_text())["builds_since_walk"] == 0  # written anew


def test_a_cache_folder_that_cannot_be_written_is_a_warning(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    report = site("out1", cache_dir=Path("a-file/cache"))
    assert [w for w in report.warnings if "compression cache cannot be written" in w]
    assert report.compressed == 2 * COMPRESSIBLE + 2
    check_variants_are_right(tmp_path / "out1")


def test_an_entry_that_cannot_be_read_is_a_warning(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    site("out1")
    for entry in entries(tmp_path / "cache"):
        entry.unlink()
        entry.mkdir()  # reading it fails (IsADirectoryError), as an unreadable file would
    report = site("out2")
    assert [w for w in report.warnings if "compression cache cannot be read" in w]
    check_variants_are_right(tmp_path / "out2")


@pytest.mark.parametrize(
    ("cache_dir", "overlaps"),
    [
        ("out/.cache", "the output folder"),
        ("out", "the output folder"),
        ("assets/.cache", "source"),
        (".", "the output folder"),
    ],
    ids=["inside the output", "the output", "inside a source", "around both"],
)
def test_a_cache_folder_overlapping_the_output_or_a_source_is_refused(
    tmp_path: Path, cache_dir: str, overlaps: str
) -> None:
    write_tree(tmp_path / "assets", FILES)
    with pytest.raises(ConfigError, match=f"cache_dir .* overlaps {overlaps} "):
        build(
            BuildConfig(base_dir=tmp_path, sources=(Source(Path("assets")),), output=Path("out")),
            cache_dir=cache_dir,
        )
    assert not (tmp_path / "out").exists()


# -- where the setting comes from: flag or keyword > STATICSERVE_CACHE_DIR > the config file -----


def write_pyproject(root: Path, table: str) -> Path:
    write_tree(root, {"pyproject.toml": "[tool.staticserve]\n" + table, "assets/a.css": compressible()})  # fmt: skip
    return root / "pyproject.toml"


def test_the_config_file_names_a_cache_folder_relative_to_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STATICSERVE_CACHE_DIR", raising=False)
    write_pyproject(tmp_path / "project", 'cache_dir = ".cache/staticserve"\n')
    monkeypatch.chdir(tmp_path)
    config = load_config("project/pyproject.toml")
    assert config.cache_path == tmp_path.resolve() / "project/.cache/staticserve"


def test_the_environment_replaces_the_file_and_a_keyword_replaces_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_pyproject(tmp_path, 'sources = ["assets"]\ncache_dir = "from-file"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STATICSERVE_CACHE_DIR", "from-env")
    assert load_config().cache_path == tmp_path / "from-env"  # relative to the working folder
    assert build(cache_dir="from-keyword").cache_dir == tmp_path.resolve() / "from-keyword"
    assert build().cache_dir == tmp_path / "from-env"
    monkeypatch.setenv("STATICSERVE_CACHE_DIR", "")  # empty: as if unset
    assert build().cache_dir == tmp_path.resolve() / "from-file"
    # A BuildConfig made in code holds what it is given: the environment is read with the file.
    assert BuildConfig(base_dir=tmp_path).cache_path is None


def test_the_flag_replaces_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_pyproject(tmp_path, 'sources = ["assets"]\noutput = "out"\ncache_dir = "from-file"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STATICSERVE_CACHE_DIR", "from-env")
    result = CliRunner().invoke(main, ["build", "--cache-dir", "from-flag", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["cache_dir"] == str(tmp_path / "from-flag")
    assert entries(tmp_path / "from-flag")
    assert not (tmp_path / "from-env").exists()
    assert not (tmp_path / "from-file").exists()


# -- `staticserve cache info` and `staticserve cache prune` ---------------------------------------


def test_cache_info_shows_entries_size_and_the_last_build(
    tmp_path: Path, site: Callable[..., BuildReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    site("out1")
    site("out2")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STATICSERVE_CACHE_DIR", raising=False)
    result = CliRunner().invoke(main, ["cache", "info", "--cache-dir", "cache"])
    assert result.exit_code == 0, result.output
    count = 2 * COMPRESSIBLE + 2
    assert result.stdout.splitlines()[0].startswith(f"Cache cache: {count} entries, ")
    assert f"restored {count}, missed 0, stored 0, rejected 0" in result.stdout
    as_json = CliRunner().invoke(main, ["cache", "info", "--cache-dir", "cache", "--json"])
    info = json.loads(as_json.stdout)
    assert (info["entries"], info["bytes"]) == (count, sum(p.stat().st_size for p in entries(tmp_path / "cache")))  # fmt: skip
    assert info == cache_info(tmp_path / "cache").to_json()


def test_cache_info_of_a_folder_not_made_yet_shows_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STATICSERVE_CACHE_DIR", "nowhere-yet")
    result = CliRunner().invoke(main, ["cache", "info"])
    assert (result.exit_code, result.stdout) == (0, "Cache nowhere-yet: 0 entries, 0 B\n")


def test_cache_prune_removes_entries_past_max_size(
    tmp_path: Path, site: Callable[..., BuildReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    site("out1")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    kept = runner.invoke(main, ["cache", "prune", "--cache-dir", "cache"])
    assert kept.exit_code == 0
    assert kept.stdout.startswith("Pruned 0 entries (0 B) from cache; kept 8 ")
    emptied = runner.invoke(main, ["cache", "prune", "--cache-dir", "cache", "--max-size", "0"])
    assert emptied.exit_code == 0
    assert emptied.stdout.startswith("Pruned 8 entries (")
    assert entries(tmp_path / "cache") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cache", "info"], "Error: no cache folder: pass --cache-dir DIR, set STATICSERVE_CACHE_DIR, or set cache_dir in [tool.staticserve]"),
        (["cache", "prune", "--cache-dir", "c", "--max-size", "1G"], "Error: cache_max_size: must be a whole number of bytes, got '1G'"),
        (["cache", "info", "--cache-dir", "a-file"], "Error: cache_dir a-file: not a folder"),
    ],
    ids=["no folder", "bad size", "a file"],
)  # fmt: skip
def test_cache_command_mistakes_are_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    (tmp_path / "a-file").write_text("x")
    monkeypatch.delenv("STATICSERVE_CACHE_DIR", raising=False)
    result = subprocess.run(
        [sys.executable, "-m", "staticserve", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert (result.returncode, result.stderr.strip()) == (2, message.replace("a-file", str(tmp_path / "a-file")) if "a-file" in message else message)  # fmt: skip


# -- two builds sharing the cache folder at once -------------------------------------------------


def test_a_killed_builds_temporary_scans_file_is_pruned_once_stale(tmp_path: Path) -> None:
    """The scans file (and last-build.json) are written beside the entry folders, under a
    temporary name first: one a killed build left there, counted by nothing, goes at the next
    prune once it is old enough to be nobody's, like those in the entry folders."""
    cache = tmp_path / "cache"
    (cache / "v2").mkdir(parents=True)
    stale, fresh = cache / ".tmp-stale", cache / ".tmp-fresh"
    stale.write_bytes(b"x" * 1000)
    fresh.write_bytes(b"x" * 1000)
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    prune(cache, 10**9)
    assert not stale.exists()
    assert fresh.exists()  # a build may be writing it now


_BUILD = """
import json, sys
from pathlib import Path
from staticserve.pipeline import BuildConfig, Source, build
report = build(BuildConfig(base_dir=Path(sys.argv[1]), sources=(Source(Path("assets")),),
                           output=Path(sys.argv[2]), cache_dir=Path("cache")))
print(json.dumps({"compressed": report.compressed, "restored": report.restored}))
"""


def test_two_builds_at_once_share_the_cache_folder(tmp_path: Path) -> None:
    many = {f"css/part{i}.css": compressible(20000, f".rule-{i} {{ margin: {i}px; }}\n") for i in range(40)}  # fmt: skip
    write_tree(tmp_path / "assets", many)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    builds = [
        subprocess.Popen(
            [sys.executable, "-c", _BUILD, str(tmp_path), output],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for output in ("out1", "out2")
    ]
    for process in builds:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        figures = json.loads(out)
        assert figures["compressed"] + figures["restored"] == 80
    assert variants(tmp_path / "out1") == variants(tmp_path / "out2")
    check_variants_are_right(tmp_path / "out1")
    cache = tmp_path / "cache"
    assert len(entries(cache)) == 80  # one per content and encoding, none left half-written
    assert not list((cache / "v2").rglob(".tmp-*"))
    report = build(
        BuildConfig(
            base_dir=tmp_path, sources=(Source(Path("assets")),), output=Path("out3"), cache_dir=Path("cache")
        )
    )  # fmt: skip
    assert (report.compressed, report.restored) == (0, 80)


def test_a_symlink_or_pipe_planted_as_an_entry_is_never_read(tmp_path: Path) -> None:
    """An entry replaced by a symlink to /dev/zero (endless bytes) or by a named pipe (blocks a
    reader forever): the build is not stuck nor killed by it, and replaces both entries.
    Run in a child with a memory limit and a bound, so that a regression fails instead of
    hanging or eating the machine's memory."""
    write_tree(tmp_path / "assets", FILES)
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "from staticserve.pipeline import BuildConfig, Source, build\n"
        "report = build(BuildConfig(base_dir=Path(sys.argv[1]), sources=(Source(Path('assets')),),"
        " output=Path(sys.argv[2]), cache_dir=Path('cache')))\n"
        "print(report.restored, report.compressed)\n"
    )
    child = [sys.executable, "-c", script, str(tmp_path)]
    first = subprocess.run([*child, "out1"], capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    zero, pipe, *_ = entries(tmp_path / "cache")
    zero.unlink()
    zero.symlink_to("/dev/zero")
    pipe.unlink()
    os.mkfifo(pipe)
    try:
        second = subprocess.run([*child, "out2"], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("the build blocked on a pipe planted in the cache folder")
    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == [str(2 * COMPRESSIBLE + 2 - 2), "2"]
    check_variants_are_right(tmp_path / "out2")
    assert not zero.is_symlink()  # both replaced by real entries
    assert zero.is_file()
    assert pipe.is_file()


def test_a_build_that_finds_nothing_changed_still_reports_its_cache_folder(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    """The no-op shortcut (nothing read) reports the cache folder as any build does, so the
    summary keeps its `restored` count and --json its cache_dir."""
    settle()  # sources old enough to be trusted: the second build reads nothing
    site("out1")
    again = site("out1")
    assert again.sources_read == 0
    assert again.cache_dir == tmp_path / "cache"
    assert again.to_json()["cache_dir"] == str(tmp_path / "cache")


def test_pruning_never_follows_a_linked_entries_folder_out_of_the_cache(tmp_path: Path) -> None:
    # A cache folder whose v1/ was replaced by a link to elsewhere: prune must not delete
    # files there that merely look like entries (64 hex names in two-character folders).
    elsewhere = tmp_path / "elsewhere" / "ab"
    elsewhere.mkdir(parents=True)
    victim = elsewhere / ("ab" + "0" * 62)
    victim.write_bytes(b"someone else's file")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "v1").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    result = prune(cache, 0)
    assert victim.read_bytes() == b"someone else's file"
    assert (result.removed, cache_info(cache).entries) == (0, 0)


# -- entries linked into the output, not copied ---------------------------------------------------


def test_an_output_variant_is_the_cache_entry_itself_not_a_copy(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    """Both on one filesystem, each variant the cache holds is a hard link to its entry: a
    build from a clean checkout writes no compressed byte again, and neither does a cold one
    (the entry it stores is the file it publishes)."""
    site("out1")
    site("out2")
    by_inode = {p.stat().st_ino: p for p in entries(tmp_path / "cache")}
    for out in ("out1", "out2"):
        published = variants(tmp_path / out)
        assert len(published) == 2 * COMPRESSIBLE
        for name in published:
            assert (tmp_path / out / name).stat().st_ino in by_inode, (out, name)
    check_variants_are_right(tmp_path / "out2")


def test_using_an_entry_never_changes_a_published_file_s_modification_time(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    """A used entry is marked by its access time: its modification time, which nginx or a CDN
    sends as Last-Modified (and derives its ETag from) for every output linked to it, stays.
    (Marked when its last mark is an hour old or more: least recently used, to the hour.)"""
    site("out1")
    out1 = tmp_path / "out1"
    before = {name: (out1 / name).stat().st_mtime_ns for name in variants(out1)}
    hours_ago = time.time_ns() - 2 * 3600 * 10**9
    for entry in entries(tmp_path / "cache"):
        os.utime(entry, ns=(hours_ago, entry.stat().st_mtime_ns))
    assert site("out2").restored == 2 * COMPRESSIBLE + 2
    assert {name: (out1 / name).stat().st_mtime_ns for name in variants(out1)} == before
    now = time.time_ns()
    for entry in entries(tmp_path / "cache"):  # marked as used
        assert now - 60 * 10**9 < entry.stat().st_atime_ns <= now, entry


def test_an_output_edited_in_place_is_never_published_again_from_the_cache(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    """Someone edits a published variant in place (not staticserve: it always renames a new
    file over an old one), which edits the entry linked to it: the next build's check refuses
    the entry and publishes bytes made anew."""
    site("out1")
    out1 = tmp_path / "out1"
    name = next(n for n in variants(out1) if n.endswith(".br"))
    with open(out1 / name, "r+b") as file:
        file.write(b"\0\0\0\0")
    report = site("out2")
    assert report.compressed == 1
    check_variants_are_right(tmp_path / "out2")


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[Path]:
    """A folder on another filesystem than tmp_path (/dev/shm), removed afterwards."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no other filesystem (/dev/shm) to put the cache folder on")
    folder = Path(tempfile.mkdtemp(dir=shm))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_cache_on_another_filesystem_is_copied_from(
    tmp_path: Path, site: Callable[..., BuildReport], elsewhere: Path
) -> None:
    check_copied_from_the_cache(tmp_path, site, elsewhere / "cache")


def test_where_links_are_refused_entries_are_copied(
    tmp_path: Path, site: Callable[..., BuildReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # as fs.protected_hardlinks does

    monkeypatch.setattr(os, "link", refuse)
    check_copied_from_the_cache(tmp_path, site, tmp_path / "cache")


def check_copied_from_the_cache(
    tmp_path: Path, site: Callable[..., BuildReport], cache: Path
) -> None:
    site("out1", cache_dir=cache)
    report = site("out2", cache_dir=cache)
    assert (report.compressed, report.restored) == (0, 2 * COMPRESSIBLE + 2)
    check_variants_are_right(tmp_path / "out2")
    entry_inodes = {p.stat().st_ino for p in entries(cache)}
    for name in variants(tmp_path / "out2"):
        assert (tmp_path / "out2" / name).stat().st_ino not in entry_inodes


def test_entries_of_the_first_format_are_counted_and_pruned_first(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    site("out1")
    cache = tmp_path / "cache"
    old = cache / "v1" / "ab" / ("ab" * 32)  # a v1 entry: no build reads it now
    old.parent.mkdir(parents=True)
    old.write_bytes(b"staticserve-cache 1\n" + bytes(100))
    assert cache_info(cache).entries == len(entries(cache)) + 1
    current = sum(max(p.stat().st_size, 1) for p in entries(cache))
    result = prune(cache, current)  # room for every current entry: the old one goes
    assert not old.exists()
    assert (result.removed, result.kept) == (1, len(entries(cache)))
