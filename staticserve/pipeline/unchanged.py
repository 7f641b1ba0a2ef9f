"""What has not changed since the live build: the sources' record, and the no-op shortcut.

After each build, ``STATE_DIR/sources.json`` records every source file's stamp (size, mtime_ns,
ctime_ns, inode, device: collect.Stamp), taken before the file was read, with the digests of
the files left on disk and the fingerprinting warnings. The next build walks the sources and
compares stamps:

- a file with the same origin and stamp is not hashed again (its digests are recorded);
- when every file is unchanged, the settings and staticserve's own code are the same, and the
  live manifest is the one that build left (its sha256 matches), the build's result is known:
  the live build. It then reads no source at all, and only checks the output as a build that
  publishes nothing checks it (:func:`live_build_intact`); when any check fails it takes the
  full path, which repairs what it finds. A missing, unreadable or foreign record is a full build,
  never an error; ``--clear`` and dry runs do not read it.

Limits, as for git, make and rsync, which trust stamps the same way:

- ctime cannot be set by a program (only by changing the system clock), so an edit that keeps
  the size and restores mtime (``touch -d``) still changes the stamp; a filesystem that reports
  no real ctime (some FUSE and network filesystems) leaves such an edit unseen until the next
  change of size, mtime or inode, or ``--clear``.
- An edit within one clock tick of the stamp being taken can leave every field equal ("racy"
  files, in git's words): a file changed less than :data:`RACY_SECONDS` (two seconds on
  filesystems that keep whole seconds) before its stamp was taken is read again next time.
  A network filesystem whose server clock lags this machine's by more than that narrows this
  guard.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import ManifestError
from ..manifest import MANIFEST_NAME, Asset, Manifest
from .atomic import write_atomic
from .cache import load_cache
from .collect import Found, Located, OnDisk, Stamp
from .compress import worth_compressing
from .config import BuildConfig, Source
from .journal import journal_path
from .output_dir import STATE_DIR
from .retention import due_for_pruning

__all__ = [
    "RACY_SECONDS",
    "SourceRecord",
    "live_build_intact",
    "load_record",
    "save_record",
    "settings_digest",
    "unchanged_on_disk",
    "unchanged_sources",
]

_RECORD = "sources.json"
_FORMAT = 1
RACY_SECONDS = 0.1  # ten times the coarsest clock tick Linux stamps files with (HZ=100)
_COARSE_RACY_SECONDS = 2.0  # for whole-second timestamps (FAT keeps two-second mtimes)
_SECOND = 1_000_000_000


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """The sources as the build that left the live manifest found them."""

    settings: str  # settings_digest() of that build
    manifest: str  # sha256 of the manifest file it left live
    taken: int  # time.time_ns() just before the stamps were taken
    stamps: Mapping[str, tuple[str, Stamp]]  # logical path -> (origin, stamp)
    digests: Mapping[str, tuple[str, str]]  # files left on disk -> (sha256, integrity)
    warnings: tuple[str, ...]  # fingerprinting's, repeated by a build that reads nothing

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "settings": self.settings,
            "manifest": self.manifest,
            "taken": self.taken,
            "files": {
                logical: [origin, *stamp, *self.digests.get(logical, ("", ""))]
                for logical, (origin, stamp) in self.stamps.items()
            },
            "warnings": list(self.warnings),
        }


def load_record(output: Path) -> SourceRecord | None:
    """The record the last build left, or None (missing, unreadable or not ours)."""
    try:
        data = json.loads((output / STATE_DIR / _RECORD).read_bytes())
        if data["format"] != _FORMAT:
            return None
        stamps: dict[str, tuple[str, Stamp]] = {}
        digests: dict[str, tuple[str, str]] = {}
        for logical, (origin, *numbers, sha256, integrity) in data["files"].items():
            size, mtime, ctime, inode, device = (int(n) for n in numbers)
            stamps[str(logical)] = (str(origin), (size, mtime, ctime, inode, device))
            if sha256:
                digests[str(logical)] = (str(sha256), str(integrity))
        return SourceRecord(
            settings=str(data["settings"]),
            manifest=str(data["manifest"]),
            taken=int(data["taken"]),
            stamps=stamps,
            digests=digests,
            warnings=tuple(str(w) for w in data["warnings"]),
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def save_record(
    output: Path,
    *,
    settings: str,
    taken: int,
    found: Found,
    on_disk: Mapping[str, OnDisk],
    warnings: tuple[str, ...],
    previous: SourceRecord | None,
) -> None:
    """Record the sources of the build just made live, unless ``previous`` (the record this
    build found) says all of it already: a build that changes nothing writes nothing. Raises
    the OSError of a failure."""
    record = SourceRecord(
        settings=settings,
        manifest=_manifest_digest(output),
        taken=taken,
        stamps={k: (str(f.origin), f.stamp) for k, f in found.files.items()},
        digests={k: (f.sha256, f.integrity) for k, f in on_disk.items()},
        warnings=warnings,
    )
    if previous is not None and _says_the_same(previous, record):
        return
    write_atomic(output / STATE_DIR / _RECORD, json.dumps(record.to_json()).encode())


def _says_the_same(previous: SourceRecord, record: SourceRecord) -> bool:
    """``record`` would only move the time its stamps were taken: no file that ``previous``
    could not trust yet becomes trusted by it."""
    return (
        (previous.settings, previous.manifest, previous.warnings)
        == (record.settings, record.manifest, record.warnings)
        and previous.stamps == record.stamps
        and previous.digests == record.digests
        and all(_trusted(stamp, previous.taken) for _, stamp in previous.stamps.values())
    )


# Settings that change how a build runs, not what it publishes: changing them keeps the record.
_NOT_OUTPUT = frozenset({"jobs", "cache_dir", "cache_max_size"})


def settings_digest(config: BuildConfig, sources: list[Source]) -> str:
    """A digest of everything besides the sources that decides the output: the settings (but
    those in _NOT_OUTPUT), the folders they resolve to, and staticserve's own build code."""
    settings = {
        f.name: repr(getattr(config, f.name)) for f in fields(config) if f.name not in _NOT_OUTPUT
    }
    folders = [(str(s.path), s.prefix) for s in sources]
    return hashlib.sha256(
        json.dumps([_FORMAT, settings, folders, _code_stamps()]).encode()
    ).hexdigest()


def _code_stamps() -> list[tuple[str, int, int]]:
    """The build's modules as installed: an upgrade (or an edit) means a full build."""
    package = Path(__file__).resolve().parent.parent
    modules = [*sorted(package.joinpath("pipeline").rglob("*.py")), package / "manifest.py"]
    modules += [package / "fingerprinted.py", package / "__init__.py"]
    stamps = []
    for module in modules:
        try:
            info = module.stat()
        except OSError:
            continue
        stamps.append((module.name, info.st_size, info.st_mtime_ns))
    return stamps


def _trusted(stamp: Stamp, taken: int) -> bool:
    """False for a file changed so shortly before its stamp was taken that a change right
    after could have left the same stamp."""
    _, mtime, ctime, _, _ = stamp
    coarse = mtime % _SECOND == 0 and ctime % _SECOND == 0
    margin = _COARSE_RACY_SECONDS if coarse else RACY_SECONDS
    return max(mtime, ctime) < taken - int(margin * _SECOND)


def _same(record: SourceRecord, logical: str, located: Located) -> bool:
    seen = record.stamps.get(logical)
    return (
        located.opener is None  # read through an opener: not a file whose stamp tells
        and seen is not None
        and seen[1] == located.stamp
        and seen[0] == str(located.origin)
        and _trusted(located.stamp, record.taken)
    )


def unchanged_on_disk(record: SourceRecord | None, found: Found) -> dict[str, OnDisk]:
    """The files the record hashed whose stamp has not changed, with their digests."""
    if record is None:
        return {}
    unchanged = {}
    for logical, (sha256, integrity) in record.digests.items():
        located = found.files.get(logical)
        if located is not None and _same(record, logical, located):
            unchanged[logical] = OnDisk(located.origin, located.stamp[0], sha256, integrity)
    return unchanged


def unchanged_sources(record: SourceRecord, found: Found, settings: str) -> bool:
    """True when the same settings find the very files the record holds, none changed."""
    return (
        record.settings == settings
        and len(record.stamps) == len(found.files)
        and all(_same(record, k, f) for k, f in found.files.items())
    )


def live_build_intact(
    output: Path, record: SourceRecord, config: BuildConfig
) -> tuple[Manifest, int] | None:
    """The live manifest and the variants it reuses, when a full build of unchanged sources
    would publish nothing and write nothing; None when that build has something to do.

    The checks are those of such a build: the last build finished (no journal); the manifest
    is the one the record was made with; no file it retains is due for pruning; and every
    hashed file, and every variant the compression cache and the manifest agree on, has its
    size on disk (a missing or cut one is written again by the full build). A file whose
    bytes changed but not its size is not noticed, by this check or by the full build, which
    compares sizes too: ``--clear`` rewrites everything.
    """
    if journal_path(output).exists():
        return None  # a killed build to finish
    try:
        text = (output / MANIFEST_NAME).read_bytes()
        if hashlib.sha256(text).hexdigest() != record.manifest:
            return None
        manifest = Manifest.loads(text)
    except (OSError, ManifestError):
        return None
    if manifest.prefix != config.prefix:
        return None
    if due_for_pruning(manifest, manifest.generation + 1, config.keep):
        return None
    cache = load_cache(output)
    root = os.fspath(output)
    reused = 0
    for asset in manifest.assets.values():
        if not _has_size(f"{root}/{asset.path}", asset.size):
            return None
        if not worth_compressing(asset.logical, asset.size, config.min_size):
            if asset.encodings:
                return None
        elif _variants_intact(root, asset, cache.get(asset.sha256, {}), config.encodings):
            reused += len(config.encodings)
        else:
            return None
    return manifest, reused


def _variants_intact(
    root: str, asset: Asset, made: Mapping[str, int | None], encodings: tuple[str, ...]
) -> bool:
    """The check compression makes before reusing an asset's variants (variants.py): the cache
    knows each encoding's size, or that it was not worth keeping, the manifest agrees, and each
    variant kept has that size on disk."""
    if not set(asset.encodings) <= set(encodings):
        return False
    for encoding in encodings:
        size = made.get(encoding, -1)
        if size is None:  # not worth keeping, as that build found
            if encoding in asset.encodings:
                return False
        elif (
            size < 0
            or asset.encodings.get(encoding) != size
            or not _has_size(f"{root}/{asset.variant_path(encoding)}", size)
        ):
            return False
    return True


def _has_size(path: str, size: int) -> bool:
    try:
        return os.stat(path).st_size == size
    except OSError:
        return False


def _manifest_digest(output: Path) -> str:
    return hashlib.sha256((output / MANIFEST_NAME).read_bytes()).hexdigest()
