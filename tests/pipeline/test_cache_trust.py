"""Hostile or shared compression cache folders (``--cache-dir``): what another user can write
never becomes a file of the output, and what a build finds wrong in the folder it repairs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from staticserve.pipeline import BuildReport

from .test_cache_dir import COMPRESSIBLE, check_variants_are_right, entries, site, variants

__all__ = ["site"]  # the fixture, shared with test_cache_dir


def edit_in_place(path: Path) -> None:
    with open(path, "r+b") as file:
        file.write(b"EVIL")


def check_not_linked_and_not_editable(tmp_path: Path, output: str) -> None:
    """No variant of ``output`` is an entry of the cache: editing every entry in place leaves
    the published bytes whole."""
    found = entries(tmp_path / "cache")
    inodes = {p.stat().st_ino for p in found}
    published = variants(tmp_path / output)
    assert len(published) == 2 * COMPRESSIBLE
    assert not {(tmp_path / output / name).stat().st_ino for name in published} & inodes
    for entry in found:
        if entry.stat().st_size:
            edit_in_place(entry)
    check_variants_are_right(tmp_path / output)


def test_entries_others_may_write_are_copied_not_linked(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    """A group-writable cache (shared by a CI team, restored with a loose umask): a hard link
    would let every writer of an entry edit the live site in place, unseen by any build."""
    site("out1")
    for entry in entries(tmp_path / "cache"):
        entry.chmod(0o664)
    report = site("out2")
    assert (report.compressed, report.restored) == (0, 2 * COMPRESSIBLE + 2)
    check_not_linked_and_not_editable(tmp_path, "out2")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_a_root_build_copies_from_another_user_s_cache(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    """Root builds with a CI user's cache folder (root may link any file; protected_hardlinks
    stops only others): the output must not be files that user owns and can rewrite."""
    site("out1")
    for entry in entries(tmp_path / "cache"):
        os.chown(entry, 65534, 65534)
    report = site("out2")
    assert (report.compressed, report.restored) == (0, 2 * COMPRESSIBLE + 2)
    for name in variants(tmp_path / "out2"):
        assert (tmp_path / "out2" / name).stat().st_uid == 0
    check_not_linked_and_not_editable(tmp_path, "out2")


def test_a_folder_planted_as_one_entry_does_not_stop_the_others_being_stored(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    """One entry's name taken by a folder: that entry is not stored, every other one is (the
    cache is not given up for the rest of the build)."""
    site("out1")
    planted = next(p for p in entries(tmp_path / "cache") if p.stat().st_size)
    planted.unlink()
    planted.mkdir()
    (tmp_path / "assets" / "css" / "new ü page.css").write_text(".x { color: red; }\n" * 200)
    report = site("out2")
    assert not [w for w in report.warnings if "cannot be written" in w]
    assert report.compressed == 3  # the planted entry's variant, and the new file's two
    assert site("out3").compressed == 1  # the new file's variants were stored
    check_variants_are_right(tmp_path / "out3")


def test_an_entry_under_a_wrong_name_beside_the_right_one_is_removed(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    """Junk named like an entry of a key that has its right entry too: whichever of the two a
    build finds first, the junk goes, so builds stop compressing that variant again."""
    site("out1")
    right = next(p for p in entries(tmp_path / "cache") if p.stat().st_size)
    key = right.name.partition(".")[0]
    for digit in "0123456789abcdef":
        right.with_name(f"{key}.{digit * 64}").write_bytes(b"junk")
    compressed = [site(f"again{n}").compressed for n in range(17)]
    assert compressed[-1] == 0, compressed
    assert [p.name for p in right.parent.iterdir() if p.name.startswith(key)] == [right.name]
    check_variants_are_right(tmp_path / "again16")


def test_a_linked_entries_folder_is_not_used_as_pruning_never_sees_it(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    """``v2`` a symlink: ``cache info`` and pruning never follow it (they would count or
    delete files elsewhere), so a build that stored entries through it would fill it past
    any ``cache_max_size``, unseen. The build goes on without the cache, and says so."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "v2").symlink_to(elsewhere)
    report = site("out1")
    assert [w for w in report.warnings if "compression cache" in w]
    assert report.compressed == 2 * COMPRESSIBLE + 2
    assert not list(elsewhere.iterdir())
    check_variants_are_right(tmp_path / "out1")


def test_a_linked_shard_folder_is_neither_read_nor_filled(
    tmp_path: Path, site: Callable[..., BuildReport]
) -> None:
    """One ``v2/<2 hex>`` folder a symlink: pruning skips it, so the build must not store
    through it either; the link goes (never what it points to) and the shard is made anew."""
    site("out1")
    shard = next(p for p in entries(tmp_path / "cache") if p.stat().st_size).parent
    elsewhere = tmp_path / "elsewhere"
    shard.rename(elsewhere)
    shard.symlink_to(elsewhere)
    before = sorted(elsewhere.iterdir())
    report = site("out2")
    assert report.compressed >= 1
    assert sorted(elsewhere.iterdir()) == before
    assert shard.is_dir()
    assert not shard.is_symlink()
    check_variants_are_right(tmp_path / "out2")
    assert site("out3").compressed == 0  # stored in the shard made anew, where pruning looks
    shutil.rmtree(shard)
    shard.symlink_to(elsewhere)
    site("out4", clear=True)  # stores without reading first
    assert sorted(elsewhere.iterdir()) == before
