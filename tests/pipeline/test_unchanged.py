"""A build of unchanged sources: it reads none of them (their stamps say they are unchanged)
and publishes nothing, yet repairs what a full build repairs; every change it could miss is
caught (pipeline/unchanged.py)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from staticserve.manifest import MANIFEST_NAME, Manifest
from staticserve.pipeline import BuildConfig, BuildReport, Source, build
from staticserve.pipeline.output_dir import STATE_DIR

from .conftest import compressible, settle, write_tree

Project = Callable[..., BuildReport]
RECORD = Path(STATE_DIR) / "sources.json"
JOURNAL = Path(STATE_DIR) / "journal.json"
FILES = {
    "css/app.css": compressible(3000) + "a{background:url(../img/logo.svg)}\n",
    "img/logo.svg": compressible(2000, "<svg></svg>\n"),
    "img/photo.png": b"\x89PNG not really",
    "js/app.js": compressible(3000, "x();\n"),
}


def settled(project: Project, tmp_path: Path, files: dict[str, str | bytes] = FILES) -> Path:
    """``files`` written, old enough to be trusted, built once; the output folder."""
    write_tree(tmp_path / "assets", files)
    settle()
    first = project()
    assert first.sources_read == len(files)
    return tmp_path / "out"


def published(out: Path, logical: str) -> bytes:
    return (out / Manifest.load(out).assets[logical].path).read_bytes()


def test_a_build_of_unchanged_sources_reads_none_and_reports_as_one_that_reads_all(
    project: Project, tmp_path: Path
) -> None:
    out = settled(project, tmp_path, {**FILES, "css/broken.css": "a{background:url(nope.png)}"})
    manifest = (out / MANIFEST_NAME).read_bytes()
    (out / RECORD).unlink()
    full = project()  # reads every source, publishes nothing
    noop = project()
    assert (full.sources_read, noop.sources_read) == (len(FILES) + 1, 0)
    assert (out / MANIFEST_NAME).read_bytes() == manifest
    untimed = {"seconds": 0, "stage_seconds": {}, "sources_read": 0}
    assert noop.to_json() | untimed == full.to_json() | untimed
    assert noop.changed is False
    assert any("nope.png" in w for w in noop.warnings)


def test_a_deleted_variant_is_rewritten_by_a_build_of_unchanged_sources(
    project: Project, tmp_path: Path
) -> None:
    out = settled(project, tmp_path)
    asset = Manifest.load(out).assets["css/app.css"]
    variant = out / asset.variant_path("br")
    before = variant.read_bytes()
    variant.unlink()
    report = project()
    assert variant.read_bytes() == before
    assert (report.changed, report.generation, report.written_variants) == (False, 1, 1)
    variant.write_bytes(before[:-1])  # cut short: detected by its size, as a full build does
    project()
    assert variant.read_bytes() == before


def test_a_deleted_or_cut_hashed_file_is_rewritten_by_a_build_of_unchanged_sources(
    project: Project, tmp_path: Path
) -> None:
    out = settled(project, tmp_path)
    manifest = Manifest.load(out)
    for logical in ("css/app.css", "img/photo.png"):  # held in memory; copied from its source
        hashed = out / manifest.assets[logical].path
        before = hashed.read_bytes()
        hashed.unlink()
        report = project()
        assert hashed.read_bytes() == before, logical
        assert (report.changed, report.generation, report.written) == (False, 1, 1), logical
        hashed.write_bytes(before[:-1])  # cut short: detected by its size
        project()
        assert hashed.read_bytes() == before, logical
    assert (out / MANIFEST_NAME).read_bytes() == manifest.dumps().encode()


def test_a_same_size_edit_with_its_mtime_restored_is_rebuilt(
    project: Project, tmp_path: Path
) -> None:
    """In place (same inode), same size, mtime put back as ``touch -d`` would: only the ctime
    tells, and it is part of the stamp."""
    out = settled(project, tmp_path)
    path = tmp_path / "assets" / "js" / "app.js"
    info = path.stat()
    text = path.read_bytes()
    with open(path, "r+b") as file:
        file.write(b"y" + text[1:])
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns, path.stat().st_ino) == (
        info.st_size,
        info.st_mtime_ns,
        info.st_ino,
    )
    report = project()
    assert report.changed
    assert published(out, "js/app.js") == b"y" + text[1:]


def test_a_file_replaced_by_a_rename_is_read_again(project: Project, tmp_path: Path) -> None:
    """An editor's save: new bytes written beside, renamed over; same size and mtime."""
    out = settled(project, tmp_path)
    path = tmp_path / "assets" / "img" / "logo.svg"  # left on disk: its digests were recorded
    info = path.stat()
    replacement = path.with_name("logo.svg.new")
    replacement.write_bytes(path.read_bytes().replace(b"svg", b"SVG", 1))
    os.utime(replacement, ns=(info.st_atime_ns, info.st_mtime_ns))
    os.replace(replacement, path)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (info.st_size, info.st_mtime_ns)
    report = project()
    assert report.changed
    assert published(out, "img/logo.svg") == path.read_bytes()


def test_a_changed_file_is_read_and_unchanged_media_are_not_hashed_again(
    project: Project, tmp_path: Path
) -> None:
    out = settled(project, tmp_path)
    write_tree(tmp_path / "assets", {"css/app.css": FILES["css/app.css"] + "b{}\n"})
    report = project()
    # The two files rewritten are read (they are held in memory); the svg and the png are not.
    assert (report.changed, report.sources_read) == (True, 2)
    svg = Manifest.load(out).assets["img/logo.svg"]
    assert svg.sha256 == hashlib.sha256(published(out, "img/logo.svg")).hexdigest()


def test_clear_and_a_changed_setting_bypass_the_record(project: Project, tmp_path: Path) -> None:
    out = settled(project, tmp_path)
    assert project(clear=True).sources_read == len(FILES)
    report = project(prefix="/assets/")
    assert report.changed
    assert Manifest.load(out).prefix == "/assets/"
    assert project(prefix="/assets/", encodings=("gzip",)).changed
    assert set(Manifest.load(out).assets["js/app.js"].encodings) == {"gzip"}


def configured(tmp_path: Path, *sources: Source) -> BuildConfig:
    return BuildConfig(sources=sources, output=Path("out"), base_dir=tmp_path)


def test_a_source_moved_to_another_prefix_is_published_there(tmp_path: Path) -> None:
    write_tree(tmp_path / "first", {"site.css": compressible(3000)})
    write_tree(tmp_path / "second", {"other.css": "b{}"})
    config = configured(tmp_path, Source(Path("first")), Source(Path("second"), "vendor"))
    settle()
    build(config)
    # A move keeps the inode, size and mtime; the file is now published under vendor/.
    os.rename(tmp_path / "first" / "site.css", tmp_path / "second" / "site.css")
    assert build(config).changed
    assets = Manifest.load(tmp_path / "out").assets
    assert "site.css" not in assets
    assert "vendor/site.css" in assets


def test_a_shadowed_file_takes_over_when_the_one_before_it_goes(tmp_path: Path) -> None:
    write_tree(tmp_path / "first", {"theme.css": "a{}"})
    write_tree(tmp_path / "second", {"theme.css": "b{}"})
    config = configured(tmp_path, Source(Path("first")), Source(Path("second")))
    settle()
    build(config)
    (tmp_path / "first" / "theme.css").unlink()
    build(config)
    assert published(tmp_path / "out", "theme.css") == b"b{}"


def test_a_file_moved_between_sources_of_one_prefix_is_read_from_its_new_place(
    tmp_path: Path,
) -> None:
    """Same logical path, same stamp (a move): its variants, made again, come from where the
    file is now, not from where the record last saw it."""
    write_tree(tmp_path / "first", {"logo.svg": compressible(3000, "<svg></svg>\n")})
    (tmp_path / "second").mkdir()
    config = configured(tmp_path, Source(Path("first")), Source(Path("second")))
    settle()
    build(config)
    out = tmp_path / "out"
    variant = out / Manifest.load(out).assets["logo.svg"].variant_path("gzip")
    made = variant.read_bytes()
    os.rename(tmp_path / "first" / "logo.svg", tmp_path / "second" / "logo.svg")
    variant.unlink()
    assert not build(config).changed
    assert variant.read_bytes() == made


def test_an_unfinished_journal_is_finished_by_a_build_of_unchanged_sources(
    project: Project, tmp_path: Path
) -> None:
    out = settled(project, tmp_path)
    # What a build killed while staging leaves: a file of its own, named in its journal.
    (out / "css" / "app.0123456789ab.css").write_text("half")
    (out / JOURNAL).write_text(json.dumps(["css/app.0123456789ab.css"]))
    project()
    assert not (out / "css" / "app.0123456789ab.css").exists()
    assert not (out / JOURNAL).exists()


def test_a_corrupt_or_missing_record_means_reading_everything_never_an_error(
    project: Project, tmp_path: Path
) -> None:
    out = settled(project, tmp_path)
    for damage in ("{", '{"format": 1, "files": 3}', "[]", ""):
        (out / RECORD).write_text(damage)
        assert project().sources_read == len(FILES)
        assert project().sources_read == 0  # the record was written anew
    (out / RECORD).unlink()
    assert project().sources_read == len(FILES)


def test_a_file_changed_just_before_its_stamp_was_taken_is_read_again(
    project: Project, tmp_path: Path
) -> None:
    """A racy file (git's word): an edit right after the stamp could leave it equal. A stamp
    from the future stands for a file changed just as the build looked at it."""
    out = settled(project, tmp_path)
    path = tmp_path / "assets" / "img" / "logo.svg"
    future = path.stat().st_mtime_ns + 3600 * 10**9
    os.utime(path, ns=(future, future))
    assert project().sources_read == 3  # the two rewritable files, and the svg hashed again
    assert project().sources_read == 3  # still not trusted: hashed at every build
    assert not project().changed
    assert published(out, "img/logo.svg") == path.read_bytes()


def test_a_build_of_unchanged_sources_writes_nothing(project: Project, tmp_path: Path) -> None:
    out = settled(project, tmp_path)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert project().sources_read == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamps
