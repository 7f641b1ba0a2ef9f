"""End-to-end builds through the Python API, in temporary folders."""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import brotli
import pytest

from staticserve.errors import BrokenReference, BuildError, ConfigError
from staticserve.manifest import MANIFEST_NAME, Manifest
from staticserve.pipeline import BuildConfig, BuildReport, Source, build
from staticserve.pipeline.output_dir import STATE_DIR

from .conftest import compressible, settle, write_tree

Project = Callable[..., BuildReport]


def files_on_disk(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and STATE_DIR not in p.parts
    }


def test_output_holds_hashed_file_variants_unhashed_copy_and_manifest(
    project: Project, tmp_path: Path
) -> None:
    css = compressible()
    report = project({"css/app.css": css, "img/x.png": b"\x89PNG" + os.urandom(500)})
    out = tmp_path / "out"
    manifest = Manifest.load(out)
    asset = manifest.assets["css/app.css"]
    hashed = out / asset.path
    assert hashed.read_text() == css
    assert brotli.decompress((out / f"{asset.path}.br").read_bytes()) == css.encode()
    assert gzip.decompress((out / f"{asset.path}.gz").read_bytes()) == css.encode()
    assert (out / "css/app.css").read_text() == css
    assert asset.size == len(css)
    assert asset.sha256 == hashlib.sha256(css.encode()).hexdigest()
    assert asset.encodings == {
        "br": (out / f"{asset.path}.br").stat().st_size,
        "gzip": (out / f"{asset.path}.gz").stat().st_size,
    }
    assert manifest.assets["img/x.png"].encodings == {}  # already compressed: skipped
    assert manifest.url("css/app.css") == f"/static/{asset.path}"
    assert manifest.integrity("css/app.css") == asset.integrity
    assert report.files == 2
    assert report.encodings["br"].files == 1


def test_manifest_is_versioned_sorted_and_carries_a_content_hash(
    project: Project, tmp_path: Path
) -> None:
    project({"b.css": "b{}", "a.css": "a{}"})
    text = (tmp_path / "out" / MANIFEST_NAME).read_text()
    data = json.loads(text)
    assert data["version"] == 1
    assert list(data["assets"]) == ["a.css", "b.css"]
    # One line to a key, one to an asset, each line's keys sorted: a diff shows whole records.
    lines = text.splitlines()
    assert (lines[0], lines[-1], text[-1]) == ("{", "}", "\n")
    assert lines[lines.index(' "assets": {') + 1 : lines.index(' "assets": {') + 3] == [
        f"  {json.dumps(key)}: {json.dumps(data['assets'][key], sort_keys=True)}{end}"
        for key, end in (("a.css", ","), ("b.css", ""))
    ]
    keys = [line.split('"')[1] for line in lines if line[:2] == ' "']
    assert keys == sorted(data)
    assert data["content_hash"] == Manifest.load(tmp_path / "out").content_hash


def test_small_files_are_not_compressed_and_useless_variants_are_dropped(
    project: Project, tmp_path: Path
) -> None:
    project({"tiny.css": "a{}", "random.js": os.urandom(4000).hex()[:300] + "\n" + "".join(chr(33 + b % 90) for b in os.urandom(3000))})  # fmt: skip
    manifest = Manifest.load(tmp_path / "out")
    assert manifest.assets["tiny.css"].encodings == {}
    for encoding, size in manifest.assets["random.js"].encodings.items():
        assert size <= 0.95 * manifest.assets["random.js"].size, encoding


def test_zstd_variants_use_the_zst_suffix(project: Project, tmp_path: Path) -> None:
    zstd = pytest.importorskip("backports.zstd", reason="zstd extra not installed")
    project({"app.js": compressible(5000, "console.log(1);\n")}, encodings=("br", "gzip", "zstd"))
    asset = Manifest.load(tmp_path / "out").assets["app.js"]
    packed = (tmp_path / "out" / f"{asset.path}.zst").read_bytes()
    assert zstd.decompress(packed) == (tmp_path / "out" / asset.path).read_bytes()
    assert set(asset.encodings) == {"br", "gzip", "zstd"}


def test_two_builds_of_the_same_inputs_are_byte_identical(tmp_path: Path) -> None:
    write_tree(tmp_path / "assets", {"css/a.css": compressible() + "a{background:url(../x.png)}", "x.png": b"png", "m.js": 'import "./css/../n.js";', "n.js": compressible(3000, "let a = 1;\n")})  # fmt: skip
    outputs = []
    for name in ("one", "two"):
        build(BuildConfig(sources=(Source(Path("assets")),), output=Path(name), base_dir=tmp_path))
        outputs.append(files_on_disk(tmp_path / name))
    first, second = outputs
    for data in (first, second):
        manifest = json.loads(data.pop(MANIFEST_NAME))
        manifest.pop("created")
        data[MANIFEST_NAME] = json.dumps(manifest).encode()
    assert first == second


def test_a_rebuild_without_changes_compresses_nothing_and_writes_nothing(
    project: Project, tmp_path: Path
) -> None:
    write_tree(tmp_path / "assets", {"a.css": compressible(), "b.js": compressible(3000, "x();\n")})
    settle()  # else the second build reads them again, and records that they are settled
    project()
    manifest_before = (tmp_path / "out" / MANIFEST_NAME).read_bytes()
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*") if p.is_file()}
    report = project()
    assert (report.changed, report.compressed, report.written) == (False, 0, 0)
    assert report.reused == 4
    assert (tmp_path / "out" / MANIFEST_NAME).read_bytes() == manifest_before
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def test_changing_one_file_recompresses_it_and_its_dependents_only(
    project: Project, tmp_path: Path
) -> None:
    project(
        {
            "img/logo.svg": compressible(1000, "<svg></svg>"),
            "css/app.css": compressible() + "a{background:url(../img/logo.svg)}",
            "css/other.css": compressible(3000),
            "js/x.js": compressible(3000, "x();\n"),
        }
    )
    report = project({"img/logo.svg": compressible(1200, "<svg/>")})
    assert report.changed
    assert report.compressed == 4  # (logo.svg + app.css) x (br, gzip)
    assert report.reused == 4  # other.css and x.js


def test_files_of_the_last_builds_are_kept_and_older_ones_pruned(
    project: Project, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    paths = []
    for n in range(5):
        project({"app.css": compressible() + f"/* {n} */"}, keep=3)
        paths.append(Manifest.load(out).assets["app.css"].path)
    manifest = Manifest.load(out)
    assert set(manifest.retained) == set(paths[2:4])
    for kept in paths[2:]:
        assert (out / kept).exists()
        assert (out / f"{kept}.br").exists()
    for gone in paths[:2]:
        assert not (out / gone).exists()
        assert not (out / f"{gone}.gz").exists()


def test_a_removed_source_file_disappears_after_retention_and_empty_folders_go(
    project: Project, tmp_path: Path
) -> None:
    project({"old/x.css": "x{}", "a.css": "a{}"}, keep=1)
    (tmp_path / "assets/old/x.css").unlink()
    project(keep=1)
    assert not (tmp_path / "out/old").exists()


def test_files_the_build_did_not_create_are_never_deleted(project: Project, tmp_path: Path) -> None:
    project({"a.css": "a{}"}, keep=1)
    (tmp_path / "out/robots.txt").write_text("mine")
    project({"a.css": "a{color:red}"}, keep=1)
    project(clear=True)
    assert (tmp_path / "out/robots.txt").read_text() == "mine"


def test_clear_starts_afresh_keeping_no_earlier_build(project: Project, tmp_path: Path) -> None:
    project({"a.css": compressible()})
    old = Manifest.load(tmp_path / "out").assets["a.css"].path
    write_tree(tmp_path / "assets", {"a.css": compressible() + "/* new */"})
    report = build(BuildConfig(sources=(Source(Path("assets")),), output=Path("out"), base_dir=tmp_path), clear=True)  # fmt: skip
    manifest = Manifest.load(tmp_path / "out")
    assert manifest.retained == {}
    assert not (tmp_path / "out" / old).exists()
    assert report.compressed == 2


def test_dry_run_reports_what_would_change_and_writes_nothing(
    project: Project, tmp_path: Path
) -> None:
    project({"a.css": "a{}"})
    before = files_on_disk(tmp_path / "out")
    write_tree(tmp_path / "assets", {"b.css": "b{}"})
    report = build(BuildConfig(sources=(Source(Path("assets")),), output=Path("out"), base_dir=tmp_path), dry_run=True)  # fmt: skip
    assert report.dry_run
    assert any(name.startswith("b.") and name.endswith(".css") for name in report.planned)
    assert (report.written, report.written_variants) == (1, 0)  # b.css: too small to compress
    assert files_on_disk(tmp_path / "out") == before


def test_strict_mode_publishes_nothing_when_a_reference_is_broken(
    project: Project, tmp_path: Path
) -> None:
    project({"a.css": "a{}"})
    before = files_on_disk(tmp_path / "out")
    with pytest.raises(BrokenReference, match=r"2 broken reference.*\n.*x\.png.*\n.*y\.png"):
        project({"a.css": "a{background:url(x.png)} b{background:url(y.png)}"}, strict=True)
    assert files_on_disk(tmp_path / "out") == before


def test_strict_mode_rejects_duplicates_naming_both_origins(tmp_path: Path) -> None:
    write_tree(tmp_path / "a", {"x.css": "1"})
    write_tree(tmp_path / "b", {"x.css": "2"})
    config = BuildConfig(sources=(Source(Path("a")), Source(Path("b"))), output=Path("out"), base_dir=tmp_path, strict=True)  # fmt: skip
    with pytest.raises(BuildError, match=r"x\.css: .*a/x\.css shadows .*b/x\.css"):
        build(config)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("assets", "overlaps source"),
        ("assets/build", "overlaps source"),
        (".", "overlaps source"),
        ("/", "refusing to build into /"),
        ("~", "refusing to build into"),
    ],
)
def test_dangerous_outputs_are_refused(tmp_path: Path, output: str, message: str) -> None:
    write_tree(tmp_path / "assets", {"a.css": "a{}"})
    config = BuildConfig(sources=(Source(Path("assets")),), output=Path(output).expanduser(), base_dir=tmp_path)  # fmt: skip
    with pytest.raises(ConfigError, match=message):
        build(config)


def test_a_non_empty_folder_without_a_manifest_is_refused(tmp_path: Path) -> None:
    write_tree(tmp_path / "assets", {"a.css": "a{}"})
    write_tree(tmp_path / "out", {"precious.txt": "keep me"})
    config = BuildConfig(sources=(Source(Path("assets")),), output=Path("out"), base_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"not empty and holds no staticserve\.json"):
        build(config)
    assert (tmp_path / "out/precious.txt").read_text() == "keep me"


class Crash(Exception):
    """Stands for any failure (or SIGKILL) at one exact line of the build."""


def crash_before_the_manifest(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    publish = importlib.import_module("staticserve.pipeline.publish")
    real_write = publish.write_atomic

    def write(target: str | Path, data: bytes, **options: bool) -> None:
        if Path(target).name == MANIFEST_NAME:
            raise Crash
        real_write(target, data, **options)

    monkeypatch.setattr(publish, "write_atomic", write)


def test_a_first_build_that_died_before_its_manifest_is_finished_by_the_next(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: its files and journal made the output "not empty and holds no
    staticserve.json", refused by every later build."""
    crash_before_the_manifest(monkeypatch)
    with pytest.raises(Crash):
        project({"a.css": compressible(), "img/x.png": b"png"})
    monkeypatch.undo()
    assert not (tmp_path / "out" / MANIFEST_NAME).exists()
    assert files_on_disk(tmp_path / "out")  # the dead build's files
    report = project()
    assert (report.changed, report.generation) == (True, 1)
    manifest = Manifest.load(tmp_path / "out")
    assert set(files_on_disk(tmp_path / "out")) == (
        manifest.files() | {"a.css", "a.css.br", "a.css.gz", "img/x.png", MANIFEST_NAME}
    )
    assert not (tmp_path / "out" / STATE_DIR / "journal.json").exists()


def test_a_dead_first_build_beside_files_it_did_not_write_is_still_refused(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_before_the_manifest(monkeypatch)
    with pytest.raises(Crash):
        project({"a.css": "a{}"})
    monkeypatch.undo()
    (tmp_path / "out" / "precious.txt").write_text("keep me")
    with pytest.raises(ConfigError, match=r"precious\.txt is not from the unfinished build"):
        project()
    assert (tmp_path / "out/precious.txt").read_text() == "keep me"


def test_a_full_disk_is_a_clear_error_and_the_previous_build_stays_live(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project({"a.css": compressible()})
    before = files_on_disk(tmp_path / "out")
    real_write = os.write

    def full_disk(fd: int, data: bytes) -> int:
        if len(data) > 100:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(BuildError, match="the disk is full; nothing was published"):
        project({"a.css": compressible() + "/* changed */"})
    monkeypatch.undo()
    after = files_on_disk(tmp_path / "out")
    assert {k: after[k] for k in before} == before
    assert not [name for name in after if "staticserve-tmp" in name]
    assert project().changed  # the next build succeeds


def test_a_corrupt_previous_manifest_is_an_error_not_silently_replaced(
    project: Project, tmp_path: Path
) -> None:
    project({"a.css": "a{}"})
    (tmp_path / "out" / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(Exception, match="not valid JSON"):
        project()


def test_a_build_waits_a_bounded_time_for_another_and_names_it(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    from staticserve.pipeline import output_dir

    project({"a.css": "a{}"})
    monkeypatch.setattr(output_dir, "LOCK_WAIT_SECONDS", 0.3)
    notices: list[str] = []
    with open(tmp_path / "out" / STATE_DIR / "lock", "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as another build would: this process holds it
        with pytest.raises(BuildError, match=rf"another build \(pid {os.getpid()}\) is still"):
            project(notice=notices.append)
    assert notices == [f"waiting for another build (pid {os.getpid()}) to finish writing to {tmp_path / 'out'} …"]  # fmt: skip
    assert project().generation == 1  # the lock is free again


def test_the_progress_of_compression_counts_files_not_variants(project: Project) -> None:
    """Regression: the bar counted variants (two per file here) where the README says files."""
    seen: list[tuple[str, int, int]] = []
    files = {f"{name}.css": compressible(2000 + i) for i, name in enumerate("abc")}
    project({**files, "x.png": b"png"}, progress=lambda *step: seen.append(step))
    compress = [(done, total) for stage, done, total in seen if stage == "compress"]
    assert compress[0] == (0, 3)
    assert compress[-1] == (3, 3)
