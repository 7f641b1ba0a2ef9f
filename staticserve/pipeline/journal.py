"""The journal: the record of a build that has not finished, which lets the next one recover.

Before its first write, a build records in ``STATE_DIR/journal.json`` every name it may create
or remove; it deletes the journal once the new build is live and pruned. A journal found when a
build starts therefore means the last one was killed: its names are ours, so the new build
(publish.py) removes those no kept manifest names, and their temporaries, without asking.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from .atomic import write_json
from .output_dir import STATE_DIR

__all__ = ["journal_path", "unfinished_names", "write_journal"]

_JOURNAL = "journal.json"


def journal_path(output: Path) -> Path:
    return output / STATE_DIR / _JOURNAL


def unfinished_names(output: Path) -> set[str] | None:
    """The names a killed build journaled, or None when the last build finished.

    An unreadable journal still says a build was killed; it just names nothing."""
    journal = journal_path(output)
    return _entries(journal) if journal.exists() else None


def write_journal(output: Path, names: Iterable[str], *, first_build: bool = False) -> None:
    """Record ``names`` (atomically, before the writes they cover); a BuildError on failure."""
    write_json(journal_path(output), sorted(names), first_build=first_build)


def _entries(journal: Path) -> set[str]:
    try:
        entries = json.loads(journal.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(entries, list):
        return set()
    # Only names inside the output folder: a damaged or tampered journal must never make a
    # build delete a file elsewhere ("../x", "/etc/x", "a/../../x").
    return {e for e in entries if isinstance(e, str) and _inside(e)}


def _inside(name: str) -> bool:
    parts = name.split("/")
    return (
        bool(name)
        and not name.startswith("/")
        and "\\" not in name
        and "\0" not in name
        and all(part not in ("", ".", "..") for part in parts)
    )
