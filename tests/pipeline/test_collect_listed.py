"""Listed files: sources a caller finds itself (Django's staticfiles finders) and hands to the
build one by one -- the first of a logical path wins, the others are reported duplicates, a
file not on disk is read through its opener, and media stay on disk."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import pytest

from staticserve import ListedFile, build
from staticserve.errors import ConfigError
from staticserve.manifest import Manifest
from staticserve.pipeline.collect import OnDisk, collect
from staticserve.pipeline.config import BuildConfig, Source

from .conftest import settle, write_tree


def config(tmp_path: Path, **settings: object) -> BuildConfig:
    return BuildConfig(base_dir=tmp_path, output=Path("out"), **settings)  # type: ignore[arg-type]


def listed(root: Path, *names: str, prefix: str = "") -> list[ListedFile]:
    return [ListedFile("/".join(p for p in (prefix, name) if p), root / name) for name in names]


def test_the_first_listed_file_of_a_path_wins_and_the_later_ones_are_duplicates(
    tmp_path: Path,
) -> None:
    write_tree(tmp_path / "project", {"admin/css/base.css": "ours"})
    write_tree(tmp_path / "admin_app", {"admin/css/base.css": "django's", "admin/js/a.js": "x"})
    files = listed(tmp_path / "project", "admin/css/base.css")
    files += listed(tmp_path / "admin_app", "admin/css/base.css", "admin/js/a.js")
    result = collect(config(tmp_path), [], listed=files)
    assert result.files["admin/css/base.css"].data == b"ours"
    assert sorted(result.files) == ["admin/css/base.css", "admin/js/a.js"]
    [duplicate] = result.duplicates
    assert duplicate.logical == "admin/css/base.css"
    assert duplicate.winner == tmp_path / "project/admin/css/base.css"
    assert duplicate.shadowed == tmp_path / "admin_app/admin/css/base.css"


def test_source_folders_come_before_listed_files(tmp_path: Path) -> None:
    write_tree(tmp_path / "folder", {"a.css": "folder"})
    write_tree(tmp_path / "listed", {"a.css": "listed", "b.css": "b"})
    result = collect(
        config(tmp_path),
        [Source(tmp_path / "folder")],
        listed=listed(tmp_path / "listed", "a.css", "b.css"),
    )
    assert result.files["a.css"].data == b"folder"
    assert [d.shadowed for d in result.duplicates] == [tmp_path / "listed/a.css"]


def test_listed_files_are_published_as_given_whatever_the_ignore_patterns(tmp_path: Path) -> None:
    write_tree(tmp_path / "app", {".well-known/security.txt": "x", "a.css~": "y"})
    files = listed(tmp_path / "app", ".well-known/security.txt", "a.css~")
    result = collect(config(tmp_path, ignore=("*~",)), [], listed=files)
    assert sorted(result.files) == [".well-known/security.txt", "a.css~"]


def test_a_build_of_listed_files_alone_needs_no_source_folder(tmp_path: Path) -> None:
    write_tree(tmp_path / "app", {"css/my site.css": 'body{background:url("../img/ü dot.png")}'})
    write_tree(tmp_path / "app", {"img/ü dot.png": b"\x89PNG" + bytes(100)})
    report = build(
        config(tmp_path), files=listed(tmp_path / "app", "css/my site.css", "img/ü dot.png")
    )
    manifest = Manifest.load(report.output)
    image = manifest.assets["img/ü dot.png"].path
    css = (report.output / manifest.assets["css/my site.css"].path).read_text()
    assert css == f'body{{background:url("../{image}")}}'  # rewritten to the hashed name
    assert (report.output / image).read_bytes() == b"\x89PNG" + bytes(100)


def test_without_folders_or_listed_files_there_is_still_nothing_to_build(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no sources"):
        build(config(tmp_path), files=[])


class Opened:
    """An opener over bytes that are not on disk, counting its calls."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls = 0

    def __call__(self) -> BinaryIO:
        self.calls += 1
        return io.BytesIO(self.data)


@pytest.mark.parametrize(
    ("size", "reads"),
    [
        (100_000, 2),  # hashed in chunks, then read again to be copied: never held whole
        (5_000, 1),  # small: the bytes hashed are the bytes copied, not read again
    ],
)
def test_a_file_not_on_disk_is_read_through_its_opener(
    tmp_path: Path, size: int, reads: int
) -> None:
    css, image = Opened(b"a { background: url(dot.png) }"), Opened(b"\x89PNG" + bytes(size))
    files = [
        ListedFile("remote/a.css", Path("storage: remote/a.css"), css),
        ListedFile("remote/dot.png", Path("storage: remote/dot.png"), image),
    ]
    report = build(config(tmp_path), files=files)
    manifest = Manifest.load(report.output)
    png = manifest.assets["remote/dot.png"]
    assert (report.output / png.path).read_bytes() == image.data
    text = (report.output / manifest.assets["remote/a.css"].path).read_text()
    assert text == f"a {{ background: url({png.path.rsplit('/', 1)[1]}) }}"
    assert css.calls == 1  # read once, into memory
    assert image.calls == reads


def test_media_among_listed_files_stay_on_disk(tmp_path: Path) -> None:
    write_tree(tmp_path / "app", {"video.mp4": bytes(3000), "a.css": "a{}"})
    result = collect(
        config(tmp_path),
        [],
        listed=listed(tmp_path / "app", "video.mp4", "a.css"),
        on_disk=lambda name: not name.endswith(".css"),
    )
    assert isinstance(result.files["video.mp4"].data, OnDisk)
    assert result.files["a.css"].data == b"a{}"


@pytest.mark.parametrize("logical", ["", "/abs.css", "a//b.css", "../up.css", "a/./b.css", "a\\b"])
def test_a_listed_path_that_cannot_be_an_output_path_is_refused(logical: str) -> None:
    with pytest.raises(ConfigError, match="cannot be a file's path in the output"):
        ListedFile(logical, Path("/somewhere/file.css"))


def test_a_listed_name_that_is_not_utf8_is_skipped_with_a_warning(tmp_path: Path) -> None:
    write_tree(tmp_path / "app", {"ok.css": "x"})
    odd = ListedFile("bad\udcff.css", tmp_path / "app/bad\udcff.css", Opened(b"x"))
    result = collect(config(tmp_path), [], listed=[*listed(tmp_path / "app", "ok.css"), odd])
    assert list(result.files) == ["ok.css"]
    assert [w for w in result.warnings if "bad\\xff.css" in w and "not valid UTF-8" in w]


def test_an_output_holding_a_listed_file_is_refused(tmp_path: Path) -> None:
    write_tree(tmp_path / "out/app", {"a.css": "x"})
    with pytest.raises(ConfigError, match="holds the source file"):
        build(config(tmp_path), files=listed(tmp_path / "out/app", "a.css"))


def test_a_rebuild_of_unchanged_listed_files_reads_none_but_sees_an_edit(tmp_path: Path) -> None:
    # collectstatic hands Django's finders' files to the build: its no-op must be as cheap
    # as a folder build's, and an edited file still rebuilt.
    write_tree(tmp_path / "app", {"a.css": "a { color: red }", "b.png": bytes(3000)})
    files = listed(tmp_path / "app", "a.css", "b.png")
    settle()
    assert build(config(tmp_path), files=files).sources_read == 2
    assert build(config(tmp_path), files=files).sources_read == 0
    (tmp_path / "app/a.css").write_text("a { color: blue }")
    settle()
    report = build(config(tmp_path), files=files)
    assert (report.changed, report.sources_read) == (True, 1)
    css = Manifest.load(report.output).assets["a.css"]
    assert (report.output / css.path).read_text() == "a { color: blue }"


def test_a_file_read_through_an_opener_is_read_again_by_every_build(tmp_path: Path) -> None:
    # No stamp tells that bytes behind an opener are unchanged: they are always read.
    image = Opened(b"\x89PNG" + bytes(5000))
    files = [ListedFile("remote/dot.png", Path("storage: remote/dot.png"), image)]
    build(config(tmp_path), files=files)
    image.data = b"\x89PNG" + bytes(4000)
    report = build(config(tmp_path), files=files)
    assert report.sources_read == 1
    png = Manifest.load(report.output).assets["remote/dot.png"]
    assert (report.output / png.path).read_bytes() == image.data
