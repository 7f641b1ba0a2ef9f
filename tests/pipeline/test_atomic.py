"""atomic.py: a name is given new bytes by a rename, never by writing through it, so a file
that shares its inode (a cache entry linked into the output, a file a server is sending) keeps
its bytes; and a cache entry is linked only if it is still the file that was checked."""

from __future__ import annotations

import os
from pathlib import Path

from staticserve.pipeline.atomic import Linked, temporary, write_atomic


def test_a_killed_build_s_temporary_link_to_an_entry_is_replaced_not_written_through(
    tmp_path: Path,
) -> None:
    entry = tmp_path / "entry"
    entry.write_bytes(b"the cached variant")
    target = tmp_path / "out" / "app.css.br"
    target.parent.mkdir()
    os.link(entry, temporary(target))  # a build killed between its link and its rename
    write_atomic(target, b"other bytes", durable=False)
    assert target.read_bytes() == b"other bytes"
    assert entry.read_bytes() == b"the cached variant"
    # left to the next build's clean-up of the killed one's names, or replaced: never written
    assert not temporary(target).exists() or temporary(target).samefile(entry)


def test_an_existing_name_is_replaced_not_written_through(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.write_bytes(b"what a server is sending")
    target = tmp_path / "app.css"
    os.link(served, target)
    write_atomic(target, [b"new ", b"bytes"], durable=False)
    assert (target.read_bytes(), served.read_bytes()) == (b"new bytes", b"what a server is sending")


def test_a_linked_payload_becomes_a_hard_link_to_its_entry(tmp_path: Path) -> None:
    entry = tmp_path / "entry"
    entry.write_bytes(b"variant")
    found = entry.stat()
    for target in (tmp_path / "new" / "folder" / "a.br", tmp_path / "new" / "folder" / "a.br"):
        write_atomic(target, Linked(entry, b"variant", (found.st_dev, found.st_ino)), durable=False)
        assert target.stat().st_ino == found.st_ino  # a new name, then an existing one
    assert not temporary(target).exists()


def test_an_entry_swapped_after_its_check_is_not_linked(tmp_path: Path) -> None:
    """Between the check of an entry's bytes and the link, another file took its name (a
    symlink to a secret, another build's entry): the bytes that were checked are written."""
    entry = tmp_path / "entry"
    entry.write_bytes(b"checked bytes")
    found = entry.stat()
    secret = tmp_path / "secret"
    secret.write_bytes(b"not for the web")
    entry.unlink()
    entry.symlink_to(secret)
    for existing in (False, True):
        target = tmp_path / "out.br"
        if existing:
            target.write_bytes(b"old")
        write_atomic(target, Linked(entry, b"checked bytes", (found.st_dev, found.st_ino)), durable=False)  # fmt: skip
        assert target.read_bytes() == b"checked bytes"
        assert target.stat().st_ino != secret.stat().st_ino
        target.unlink()
    assert not list(tmp_path.glob(".*"))  # no temporary left
