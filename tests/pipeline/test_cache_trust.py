"""Hostile or shared compression cache folders (``--cache-dir``): what another user can write
never becomes a file of the output, and what a build finds wrong in the folder it repairs."""

from __future__ import annotations

import os
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
