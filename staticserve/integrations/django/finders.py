"""The files Django's staticfiles finders list, in the order ``collectstatic`` collects them.

``settings.STATICFILES_FINDERS`` in order (by default ``STATICFILES_DIRS``, each with its
prefix, then every ``INSTALLED_APPS`` app's ``static/`` folder in app order, then any custom
finder). When two files share a logical path, the first listed wins and the others are
duplicates -- the rule ``collectstatic`` applies. The finders apply the ignore patterns.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["DEFAULT_IGNORE_PATTERNS", "FoundFile", "finder_files", "found_file", "found_files"]

# What collectstatic ignores unless --no-default-ignore: the staticfiles app's patterns.
DEFAULT_IGNORE_PATTERNS: tuple[str, ...] = ("CVS", ".*", "*~")


@dataclass(frozen=True, slots=True)
class FoundFile:
    """One file a finder listed: published as ``logical`` (``/``-separated, the finder's
    prefix first). ``path`` is the file on disk, or None when the finder's storage keeps it
    elsewhere (then :meth:`open` is the way to its bytes)."""

    logical: str
    path: Path | None
    storage: Any  # the finder's django Storage
    name: str  # the file's name in that storage
    finder: str  # the finder's dotted class name, for messages

    def open(self) -> BinaryIO:
        """The file's bytes, opened for reading (the caller closes it)."""
        file: BinaryIO = self.storage.open(self.name, "rb")
        return file

    @property
    def origin(self) -> str:
        """Where the file is, for a message: its path, or the finder and storage name."""
        return str(self.path) if self.path is not None else f"{self.finder}: {self.name}"


def found_files(ignore_patterns: Iterable[str] | None = None) -> Iterator[FoundFile]:
    """Every file every finder lists, in collectstatic's order, duplicates included.

    ``ignore_patterns`` defaults to the staticfiles app's (``CVS``, ``.*``, ``*~``), as
    ``collectstatic`` without ``--ignore`` uses them.
    """
    from django.contrib.staticfiles.finders import get_finders

    patterns = _ignore_patterns(ignore_patterns)
    for finder in get_finders():
        label = f"{type(finder).__module__}.{type(finder).__qualname__}"
        for name, storage in finder.list(patterns):
            prefix = getattr(storage, "prefix", None)
            yield found_file(os.path.join(prefix, name) if prefix else name, storage, name, label)


def found_file(logical: str, storage: Any, name: str, finder: str) -> FoundFile:
    """The record of ``name`` in ``storage``, collected as ``logical`` (the storage's prefix
    joined with the name, as collectstatic joins them)."""
    return FoundFile(
        logical.replace(os.sep, "/"), _local_path(storage, name), storage, name, finder
    )


def finder_files(ignore_patterns: Iterable[str] | None = None) -> Iterator[tuple[str, Path]]:
    """``(logical path, absolute file path)`` of the files collectstatic would collect: the
    first file of each logical path in the finders' order, and only files on disk (a finder
    whose storage is not a folder has none)."""
    seen: set[str] = set()
    for found in found_files(ignore_patterns):
        if found.logical in seen:
            continue
        seen.add(found.logical)
        if found.path is not None:
            yield found.logical, found.path


def _ignore_patterns(given: Iterable[str] | None) -> list[str]:
    if given is not None:
        return list(given)
    from django.apps import apps

    try:
        config = apps.get_app_config("staticfiles")
    except LookupError:
        return list(DEFAULT_IGNORE_PATTERNS)
    return list(getattr(config, "ignore_patterns", DEFAULT_IGNORE_PATTERNS))


def _local_path(storage: Any, name: str) -> Path | None:
    try:
        path = storage.path(name)
    except NotImplementedError:  # Django's word for "not on this machine's disk"
        return None
    return Path(path).absolute()
