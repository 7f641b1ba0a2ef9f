"""The publish step through the Python API: what it writes and reports, and what a failed write
at each of its moments leaves behind (in-process, the write failing as a full disk would)."""

from __future__ import annotations

import errno
import hashlib
import importlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from staticserve.errors import BuildError
from staticserve.manifest import ENCODING_SUFFIXES, MANIFEST_NAME, Manifest
from staticserve.pipeline import BuildReport
from staticserve.pipeline.output_dir import STATE_DIR
from staticserve.pipeline.retention import files_on_disk

from .conftest import compressible, write_tree

Project = Callable[..., BuildReport]
atomic = importlib.import_module("staticserve.pipeline.atomic")
publish = importlib.import_module("staticserve.pipeline.publish")
JOURNAL = Path(STATE_DIR) / "journal.json"
SMALL = {"a.css": "a{}", "b.js": "let b = 1;", "img/c.png": "c"}
PLAIN = {"encodings": ()}  # no compression: the publish step writes every file itself


def on_disk(out: Path) -> dict[str, str]:
    """sha256 of every file outside the state folder, temporaries included."""
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and STATE_DIR not in p.relative_to(out).parts
    }


def temporaries(out: Path) -> list[str]:
    return sorted(name for name in on_disk(out) if name.endswith(".staticserve-tmp"))


def check_live(out: Path) -> Manifest:
    """Every file the live manifest names has the bytes it promises; the unhashed copies too."""
    manifest = Manifest.load(out)
    for asset in manifest.assets.values():
        data = (out / asset.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == asset.sha256, asset.path
        assert (out / asset.logical).read_bytes() == data, asset.logical
        for encoding, size in asset.encodings.items():
            assert (out / (asset.path + ENCODING_SUFFIXES[encoding])).stat().st_size == size
    return manifest


def hashed(name: str, text: str) -> str:
    """The content-addressed name of the file ``name`` holding ``text``."""
    stem, _, extension = name.rpartition(".")
    return f"{stem}.{hashlib.sha256(text.encode()).hexdigest()[:12]}.{extension}"


def full_disk_at(
    monkeypatch: pytest.MonkeyPatch, should_fail: Callable[[Path], bool], *, create: bool = False
) -> list[Path]:
    """Every atomic write whose temporary path ``should_fail`` fails with ENOSPC (after
    creating the empty file when ``create``, as a write that ran out of space midway does)."""
    failed: list[Path] = []
    write_file = atomic.write_file

    def write(name: str | Path, data: bytes, **options: bool) -> None:
        path = Path(name)  # builds write most files by name (text)
        if should_fail(path):
            failed.append(path)
            if create:
                path.touch()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        write_file(path, data, **options)

    monkeypatch.setattr(atomic, "write_file", write)
    return failed


def is_content(path: Path) -> bool:
    return STATE_DIR not in path.parts and path.name != f".{MANIFEST_NAME}.staticserve-tmp"


def final_name(path: Path) -> str:
    """The name a write gives a file: a temporary's target, or a new file's own name (a new
    content file is written in place)."""
    name = path.name
    return name[1 : -len(".staticserve-tmp")] if name.endswith(".staticserve-tmp") else name


# -- what a build writes and reports -------------------------------------------------------------


def test_a_build_without_compression_writes_each_new_file_once(
    project: Project, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = project(SMALL, **PLAIN)
    assert (first.written, first.compressed, first.generation) == (3, 0, 1)
    old_a = check_live(out).assets["a.css"].path
    write_tree(tmp_path / "assets", {"a.css": "a{color:red}"})
    second = project(**PLAIN)
    assert (second.written, second.changed, second.generation) == (1, True, 2)
    assert set(check_live(out).retained) == {old_a}
    third = project(**PLAIN)
    assert (third.written, third.changed, third.generation) == (0, False, 2)


def test_a_build_reports_what_it_pruned(project: Project, tmp_path: Path) -> None:
    reports = []
    for version in range(5):
        write_tree(tmp_path / "assets", {"a.css": f"a{{order:{version}}}", "b.css": "b{}"})
        reports.append(project(keep=2))
    # keep=2: each build from the third on drops the hashed a.css of two builds before.
    assert [r.pruned for r in reports] == [0, 0, 1, 1, 1]
    assert len([n for n in on_disk(tmp_path / "out") if n.startswith("a.")]) == 3


def test_a_dry_run_plans_without_writing_and_reports_the_next_generation(
    project: Project, tmp_path: Path
) -> None:
    project(SMALL)
    before = on_disk(tmp_path / "out")
    write_tree(tmp_path / "assets", {"d.css": "d{}"})
    report = project(dry_run=True)
    assert (report.dry_run, report.changed, report.generation) == (True, True, 2)
    # the content-addressed files a build writes; the unhashed copies are made from them
    assert list(report.planned) == [hashed("d.css", "d{}")]
    assert on_disk(tmp_path / "out") == before
    assert not (tmp_path / "out" / JOURNAL).exists()


def test_a_first_dry_run_plans_every_file(project: Project, tmp_path: Path) -> None:
    report = project(SMALL, dry_run=True)
    assert report.generation == 1
    assert list(report.planned) == sorted(hashed(name, text) for name, text in SMALL.items())
    assert not (tmp_path / "out" / MANIFEST_NAME).exists()


# -- a write that fails, at each moment ----------------------------------------------------------


def test_a_full_disk_while_staging_compressed_files_undoes_this_build(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    project({"a.css": compressible(4000), "b.css": compressible(3000, "b{}\n")})
    before = on_disk(out)
    write_tree(tmp_path / "assets", {"a.css": compressible(4000) + "/* 2 */"})
    failed = full_disk_at(monkeypatch, lambda p: is_content(p) and final_name(p).startswith("a."))
    with pytest.raises(BuildError) as error:
        project()
    monkeypatch.undo()
    # the files are staged from several threads: the error names one of those that failed
    targets = {p.with_name(final_name(p)) for p in failed}
    assert str(error.value) in {
        f"cannot write {target}: the disk is full; nothing was published, "
        "the previous build is untouched"
        for target in targets
    }
    assert on_disk(out) == before  # what this build wrote is gone again
    assert not (out / JOURNAL).exists()  # and nothing is left to recover
    assert project().generation == 2


def test_a_failed_build_keeps_what_a_killed_one_left_to_clean(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    project({"a.css": compressible(4000)})
    (out / "a.0123456789ab.css").write_text("left by a killed build")
    (out / JOURNAL).write_text(json.dumps(["a.0123456789ab.css"]))
    write_tree(tmp_path / "assets", {"a.css": compressible(4000) + "/* 2 */"})
    full_disk_at(monkeypatch, is_content)
    with pytest.raises(BuildError, match="the disk is full; nothing was published"):
        project()
    monkeypatch.undo()
    journal = json.loads((out / JOURNAL).read_text())
    assert journal == ["a.0123456789ab.css"]  # still owed a clean-up
    assert project().generation == 2
    assert not (out / "a.0123456789ab.css").exists()
    assert not (out / JOURNAL).exists()


def test_a_full_disk_while_publishing_content_removes_its_temporaries(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    project(SMALL, **PLAIN)
    before = on_disk(out)
    manifest_bytes = (out / MANIFEST_NAME).read_bytes()
    write_tree(tmp_path / "assets", {"a.css": "a{order:2}", "b.js": "let b = 2;"})
    # Temporaries, as where the filesystem has no unnamed files (atomic.py): one is left part
    # written by the full disk.
    monkeypatch.setattr(atomic._unnamed, "usable", False)
    full_disk_at(monkeypatch, lambda p: is_content(p) and p.name.startswith(".b."), create=True)
    with pytest.raises(BuildError) as error:
        project(**PLAIN)
    monkeypatch.undo()
    assert str(error.value) == (
        f"cannot write {out}: the disk is full; nothing was published, "
        "the previous build is untouched"
    )
    assert (out / MANIFEST_NAME).read_bytes() == manifest_bytes
    after = on_disk(out)
    assert {name: after[name] for name in before} == before
    assert temporaries(out) == []
    report = project(**PLAIN)
    # the failed build's journal names every file it might have touched: none is trusted as
    # the live manifest records it, so each is written again
    assert (report.generation, report.written) == (2, 3)
    check_live(out)
    assert temporaries(out) == []
    assert not (out / JOURNAL).exists()


def test_a_full_disk_when_the_manifest_is_written_leaves_the_previous_build_live(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    project(SMALL, **PLAIN)
    manifest_bytes = (out / MANIFEST_NAME).read_bytes()
    write_tree(tmp_path / "assets", {"a.css": "a{order:2}"})
    full_disk_at(monkeypatch, lambda p: p.name == f".{MANIFEST_NAME}.staticserve-tmp")
    with pytest.raises(BuildError, match=r"the disk is full; nothing was published"):
        project(**PLAIN)
    monkeypatch.undo()
    assert (out / MANIFEST_NAME).read_bytes() == manifest_bytes
    check_live(out)
    assert (out / JOURNAL).exists()  # the new hashed file is ours: the next build removes it
    report = project(**PLAIN)
    assert report.generation == 2
    check_live(out)
    assert not (out / JOURNAL).exists()


def test_a_failure_after_the_switch_names_the_live_build_and_the_next_build_finishes(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    project(SMALL, **PLAIN)
    write_tree(tmp_path / "assets", {"a.css": "a{order:2}"})
    failed = full_disk_at(monkeypatch, lambda p: p.name == ".cache.json.staticserve-tmp")
    with pytest.raises(BuildError) as error:
        project(**PLAIN)
    monkeypatch.undo()
    assert failed, "the compression cache is written after the switch"
    assert str(error.value) == (
        f"build 2 is live, but finishing it failed: cannot write {out}: the disk is full; fix "
        "that and build again to complete the unhashed copies and remove what earlier builds "
        "left"
    )
    assert Manifest.load(out).generation == 2
    assert (out / JOURNAL).exists()
    write_tree(tmp_path / "assets", {"a.css": "a{order:3}"})
    assert project(**PLAIN).generation == 3
    check_live(out)
    assert temporaries(out) == []
    assert not (out / JOURNAL).exists()


def test_an_unreadable_journal_still_means_the_last_build_was_killed(
    project: Project, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    project(SMALL)
    for text in ("{not json", '{"a": 1}', '[1, "x"]'):
        (out / JOURNAL).write_text(text)
        report = project()  # unchanged sources: republished all the same, to recover
        assert (report.changed, report.generation) == (True, Manifest.load(out).generation)
        assert not (out / JOURNAL).exists()
        check_live(out)


# -- more of what a build writes, keeps and says ---------------------------------------------------


def test_published_files_are_readable_by_all_and_executable_by_none(
    project: Project, tmp_path: Path
) -> None:
    previous = os.umask(0o022)
    try:
        project({"deep/er/a.css": compressible(3000), "b.txt": "b"})
    finally:
        os.umask(previous)
    modes = {
        name: (tmp_path / "out" / name).stat().st_mode & 0o777 for name in on_disk(tmp_path / "out")
    }
    assert set(modes.values()) == {0o644}, modes


def test_a_compressed_build_reports_each_file_it_wrote(project: Project, tmp_path: Path) -> None:
    first = project({"a.css": compressible(3000), "b.css": compressible(3000, "b{}\n")})
    # two files, a br and a gzip of each
    assert (first.written, first.written_variants, first.compressed) == (2, 4, 4)
    write_tree(tmp_path / "assets", {"a.css": compressible(3000) + "/* 2 */"})
    second = project()
    assert (second.written, second.written_variants, second.compressed, second.reused) == (
        1,
        2,
        2,
        2,
    )


def test_a_deleted_variant_of_the_live_build_is_restored_without_a_new_generation(
    project: Project, tmp_path: Path
) -> None:
    project({"a.css": compressible(3000)})
    asset = Manifest.load(tmp_path / "out").assets["a.css"]
    (tmp_path / "out" / asset.variant_path("br")).unlink()
    report = project(clear=False)
    assert (report.changed, report.generation, report.written, report.written_variants) == (
        False,
        1,
        0,
        1,
    )
    check_live(tmp_path / "out")


def test_an_unchanged_build_still_publishes_when_a_kept_file_is_due_for_pruning(
    project: Project, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    project({"a.css": "a{}"}, keep=2)
    old = Manifest.load(out).assets["a.css"].path
    write_tree(tmp_path / "assets", {"a.css": "a{order:2}"})
    assert project(keep=2).generation == 2
    assert (out / old).exists()  # kept: built by one of the last two builds
    report = project(keep=2)  # nothing changed, but generation 1 falls out of the last two
    assert (report.changed, report.generation, report.pruned) == (True, 3, 1)
    assert not (out / old).exists()
    assert project(keep=2).changed is False


def test_the_manifest_records_the_prefix_and_when_it_was_built(
    project: Project, tmp_path: Path
) -> None:
    project(SMALL, prefix="/assets/")
    manifest = Manifest.load(tmp_path / "out")
    assert manifest.prefix == "/assets/"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest.created), manifest.created


def test_without_hard_links_the_unhashed_names_are_copies(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "no hard links on this filesystem")

    monkeypatch.setattr(atomic.os, "link", no_links)
    project({"a.css": compressible(3000), "b.txt": "b"})
    write_tree(tmp_path / "assets", {"b.txt": "b2"})
    project()  # the copies of b.txt are replaced, those of a.css stay
    check_live(tmp_path / "out")
    assert temporaries(tmp_path / "out") == []


def test_a_build_killed_after_staging_is_cleaned_up_by_the_next(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    project({"a.css": compressible(3000)})
    write_tree(tmp_path / "assets", {"a.css": compressible(3000) + "/* 2 */"})

    class Killed(BaseException):
        """Stands for SIGKILL right before publishing: nothing after it runs."""

    def killed(*args: object, **kwargs: object) -> None:
        raise Killed

    pipeline = importlib.import_module("staticserve.pipeline")
    monkeypatch.setattr(pipeline, "publish", killed)
    with pytest.raises(Killed):
        project()
    monkeypatch.undo()
    staged = set(on_disk(out)) - files_on_disk(Manifest.load(out)) - {MANIFEST_NAME}
    assert staged  # the killed build had written its files
    assert staged <= set(json.loads((out / JOURNAL).read_text()))  # and journaled them first
    write_tree(tmp_path / "assets", {"a.css": compressible(3000) + "/* 3 */"})
    project(keep=1)
    manifest = check_live(out)
    assert set(on_disk(out)) == manifest.files() | {"a.css", "a.css.br", "a.css.gz", MANIFEST_NAME}


def test_a_journal_that_is_not_a_list_names_nothing_to_remove(
    project: Project, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    project(SMALL)
    (out / "notes.txt").write_text("the user's own file")
    (out / JOURNAL).write_text(json.dumps({"notes.txt": 1}))
    project()
    assert (out / "notes.txt").read_text() == "the user's own file"


def test_a_state_folder_that_is_a_file_is_a_clear_error(project: Project, tmp_path: Path) -> None:
    project(SMALL)
    state = tmp_path / "out" / STATE_DIR
    for entry in state.iterdir():
        entry.unlink()
    state.rmdir()
    state.write_text("not a folder")
    with pytest.raises(BuildError) as error:
        project()
    assert str(error.value).startswith(f"cannot write {state}: ")
    assert str(error.value).endswith("; nothing was published, the previous build is untouched")


def test_a_full_disk_when_the_journal_is_written_names_the_journal(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    project(SMALL, **PLAIN)
    write_tree(tmp_path / "assets", {"a.css": "a{order:2}"})
    full_disk_at(monkeypatch, lambda p: p.name == ".journal.json.staticserve-tmp")
    with pytest.raises(BuildError) as error:
        project(**PLAIN)
    assert str(error.value) == (
        f"cannot write {out / JOURNAL}: the disk is full; nothing was published, "
        "the previous build is untouched"
    )


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
        (OSError(errno.EROFS, "Read-only file system"), "the file system is read-only"),
        (OSError(errno.EACCES, "Permission denied"), "permission denied"),
        (OSError(errno.EPERM, "Operation not permitted"), "permission denied"),
        (OSError(errno.EIO, "Input/output error"), "Input/output error"),
        (OSError("a failure without an errno"), "a failure without an errno"),
    ],
)
def test_a_failed_write_says_why_in_words_a_user_acts_on(error: OSError, said: str) -> None:
    message = str(atomic.write_error(Path("out/a.css"), error))
    assert message == (
        f"cannot write out/a.css: {said}; nothing was published, the previous build is untouched"
    )


def test_pruning_counts_every_file_it_removes(project: Project, tmp_path: Path) -> None:
    reports = []
    for version in range(3):
        write_tree(
            tmp_path / "assets", {"a.css": f"a{{order:{version}}}", "b.css": f"b{{{version}}}"}
        )
        reports.append(project(keep=1, **PLAIN))
    assert [r.pruned for r in reports] == [0, 2, 2]


def test_a_temporary_manifest_left_by_a_full_disk_goes_with_the_next_build(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    project(SMALL, **PLAIN)
    write_tree(tmp_path / "assets", {"a.css": "a{order:2}"})
    is_manifest = lambda p: p.name == f".{MANIFEST_NAME}.staticserve-tmp"  # noqa: E731
    full_disk_at(monkeypatch, is_manifest, create=True)
    with pytest.raises(BuildError):
        project(**PLAIN)
    monkeypatch.undo()
    project(**PLAIN)
    check_live(out)
    assert not (out / f".{MANIFEST_NAME}.staticserve-tmp").exists()


def test_files_written_by_a_build_killed_before_its_switch_are_removed_later(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    project(SMALL, **PLAIN)

    class Killed(BaseException):
        """Stands for SIGKILL as the manifest is about to be written."""

    write_file = atomic.write_file

    def killed_at_the_manifest(path: str | Path, data: bytes, **options: bool) -> None:
        if Path(path).name == f".{MANIFEST_NAME}.staticserve-tmp":
            raise Killed
        write_file(path, data, **options)

    write_tree(tmp_path / "assets", {"a.css": "a{order:2}"})
    monkeypatch.setattr(atomic, "write_file", killed_at_the_manifest)
    with pytest.raises(Killed):
        project(**PLAIN)
    monkeypatch.undo()
    write_tree(tmp_path / "assets", {"a.css": "a{order:3}"})
    project(keep=1, **PLAIN)
    manifest = check_live(out)
    assert set(on_disk(out)) == manifest.files() | {"a.css", "b.js", "img/c.png", MANIFEST_NAME}


# -- keep_age: a burst of deploys does not outrun the pages of a recent build ------------------


def _age_superseded_times(out: Path, seconds: int) -> None:
    """Move every ``superseded`` time of the live manifest ``seconds`` into the past (the
    manifest as a build of that long ago would have left it)."""
    from datetime import datetime, timedelta, timezone

    path = out / MANIFEST_NAME
    data = json.loads(path.read_text())
    for generation, moment in data["superseded"].items():
        when = datetime.strptime(moment, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        data["superseded"][generation] = (when - timedelta(seconds=seconds)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    path.write_text(json.dumps(data))


def test_keep_age_keeps_every_build_live_within_the_duration_past_keep(
    project: Project, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    paths = []
    for version in range(4):  # a burst of four deploys
        write_tree(tmp_path / "assets", {"a.css": f"a{{order:{version}}}"})
        project(keep=1, keep_age="1h")
        paths.append(Manifest.load(out).assets["a.css"].path)
    manifest = check_live(out)
    assert set(manifest.retained) == set(paths[:3])  # keep=1 alone would keep none of them
    assert all((out / name).is_file() for name in paths)
    # each retained build's end is recorded: the time the next build went live
    assert set(manifest.superseded) == {1, 2, 3}
    assert manifest.superseded[3] == manifest.created


def test_keep_age_lets_builds_go_once_they_are_older_and_a_no_op_build_prunes_them(
    project: Project, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    write_tree(tmp_path / "assets", {"a.css": "a{order:1}"})
    project(keep=1, keep_age="30m")
    old = Manifest.load(out).assets["a.css"].path
    write_tree(tmp_path / "assets", {"a.css": "a{order:2}"})
    project(keep=1, keep_age="30m")
    assert (out / old).is_file()
    assert project(keep=1, keep_age="30m").changed is False  # still young: nothing to prune
    _age_superseded_times(out, 31 * 60)
    report = project(keep=1, keep_age="30m")  # no source changed, but build 1 is now too old
    assert (report.changed, report.pruned) == (True, 1)
    assert not (out / old).exists()
    assert check_live(out).superseded == {}


def test_without_keep_age_only_the_count_keeps_builds(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "out"
    for version in range(3):
        write_tree(tmp_path / "assets", {"a.css": f"a{{order:{version}}}"})
        project(keep=1)
    manifest = check_live(out)
    assert manifest.retained == {}
    assert "superseded" not in (out / MANIFEST_NAME).read_text()  # manifests stay as they were
