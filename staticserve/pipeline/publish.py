"""Publish: the only stage that writes. Atomic files, manifest last, retention, clean-up.

Order of writes, chosen so that a build killed at any instant leaves the live manifest and
every file it names intact:

1. record the files this build may create or remove in a journal, fsynced (so that whatever a
   killed build leaves behind, its own files or those it was about to prune once the new
   manifest had dropped them, is known to be ours and is removed next time);
2. write each new content-addressed file under a temporary name and rename it into place --
   while the build is still compressing, through a :class:`Stager` (nothing can serve these
   names yet: no live manifest names them). No fsync each: nothing needs one of them durable
   before all of them are;
3. make them all durable at once (one ``syncfs``: durable.py), then write the manifest under a
   temporary name, fsync, rename, fsync its folder (the switch-over for servers). So when the
   new manifest is on disk, every file it names is, and until then the previous one is live;
4. refresh the unhashed copies, prune files no kept manifest names, sync once more (the
   copies durable before the journal that makes the next build redo them goes), delete the
   journal.

Its helpers, each with one job: atomic.py (one file, written atomically), durable.py (step 3),
journal.py (step 1), retention.py (which earlier files step 4 keeps), cache.py (the
compression cache saved at the end). output_dir.py claims and locks the output folder before
any of this.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic, sleep
from typing import NamedTuple

from ..errors import BuildError
from ..manifest import (
    ENCODING_SUFFIXES,
    MANIFEST_NAME,
    NEW_BUILD_CHECK_INTERVAL,
    Asset,
    Manifest,
)
from .atomic import (
    Linked,
    Payload,
    has_size,
    place_copy,
    reason,
    temporary,
    write_atomic,
    write_error,
)
from .cache import write_cache
from .collect import Content, OnDisk, size_of
from .durable import SyncBatch
from .journal import journal_path, unfinished_names, write_journal
from .retention import due_for_pruning, files_on_disk, retained, superseded_times

_LINKERS = 4  # threads that give the renamed files their plain names
_LINKS_PER_JOB = 64  # files a job links: one job per file costs more than its links

__all__ = ["PublishResult", "Published", "Stager", "load_previous", "publish"]


class Published(NamedTuple):
    """A file ready to publish: its record and the bytes of the file and of each variant."""

    asset: Asset
    data: Content  # in memory, or a source file copied in chunks
    variants: Mapping[str, bytes]


@dataclass(slots=True)
class PublishResult:
    """What publishing did. ``written`` counts the files written and ``written_variants`` their
    compressed variants; in a dry run, what would be written, which ``planned`` names."""

    manifest: Manifest
    changed: bool
    written: int = 0
    written_variants: int = 0
    pruned: int = 0
    removed_leftovers: int = 0
    planned: list[str] = field(default_factory=list)


def recorded_files(previous: Manifest | None, distrust: set[str]) -> dict[str, tuple[str, int]]:
    """Name -> (sha256 of the content, size) of every file the live manifest says is on disk.

    A file already in the output is reused only when this record matches what the build would
    write (and its size still does): never on its size alone, which other bytes can share.
    ``distrust``: names a killed build may have written over since that manifest went live.
    """
    if previous is None:
        return {}
    recorded = {}
    for asset in (*previous.retained.values(), *previous.assets.values()):
        recorded[asset.path] = (asset.sha256, asset.size)
        for encoding, size in asset.encodings.items():
            recorded[asset.variant_path(encoding)] = (asset.sha256, size)
    return {name: record for name, record in recorded.items() if name not in distrust}


def load_previous(output: Path) -> Manifest | None:
    """The live manifest, or None for a first build. A corrupt one is an error, not ignored."""
    if not (output / MANIFEST_NAME).exists():
        return None
    return Manifest.load(output)


# -- staging: content-addressed files written while the build runs ---------------------------


class Stager:
    """Writes content-addressed files as soon as they are ready, from any thread.

    ``begin(names)`` names every file the build may create; ``put`` journals them before the
    first write, so that a killed build's files are known to be ours, and writes one file
    atomically (temporary name, rename; made durable with the others by ``batch``) unless the
    live manifest records it there with the same bytes; ``abort`` removes what this build wrote
    when it fails. :func:`publish` then only has to make the written files durable and live.
    """

    def __init__(self, output: Path, previous: Manifest | None) -> None:
        self.output = output
        self._root = os.path.join(output, "")  # names are joined to it as text, once each
        self.journal = journal_path(output)
        # Read before this build writes its own journal: was the last build killed?
        self.inherited = unfinished_names(output)
        self._protected = previous.files() if previous else set()
        self.first_build = previous is None
        self._recorded = recorded_files(previous, self.inherited or set())
        self._lock = threading.Lock()
        self._names: set[str] = set()
        self.written: set[str] = set()
        self._failed: set[str] = set()  # names whose write failed: their folders may be new
        self.journaled = False
        self.batch = SyncBatch(output)

    @property
    def unfinished(self) -> bool:
        return self.inherited is not None

    def begin(self, names: Iterable[str]) -> None:
        """The names ``put`` may write, journaled (with a killed build's entries, still to clean
        up) before the first write."""
        self._names = set(names) | (self.inherited or set())

    def holds(self, name: str, sha256: str, size: int) -> bool:
        """True when ``output/name`` is there with the bytes of size ``size`` made from the
        content ``sha256``, as the live manifest records (a file, or a variant of it)."""
        return self._recorded.get(name) == (sha256, size) and has_size(self._root + name, size)

    def put(self, name: str, data: Content | Linked, sha256: str) -> None:
        """Write ``output/name`` (``data``, made from the content ``sha256``; linked to the
        cache entry that holds it, where it does) unless it holds those bytes already."""
        assert name in self._names, "Stager.begin() must name every file put() writes"
        target = self._root + name
        size = len(data.data) if isinstance(data, Linked) else size_of(data)
        if self.holds(name, sha256, size):
            return
        with self._lock:
            if not self.journaled:
                write_journal(self.output, self._names, first_build=self.first_build)
                self.journaled = True
                self.batch.begin()
            # Noted before the write: a warm build writes in the thread that Ctrl-C interrupts,
            # which may land once the file is in place, and abort() must still remove it.
            self.written.add(name)
        try:
            write_atomic(
                target, data if isinstance(data, Linked) else _payload(data), durable=False
            )
        except OSError as exc:
            with self._lock:
                self.written.discard(name)  # left as it was
                self._failed.add(name)
            with contextlib.suppress(OSError):
                temporary(Path(target)).unlink()
            raise write_error(target, exc, first_build=self.first_build) from None
        self.batch.add(target)

    def abort(self) -> None:
        """Undo this build's writes (the build failed): files, temporaries, its journal."""
        with self._lock:
            names = set(self.written)
            failed = set(self._failed)
        self.batch.close()
        _prune(self.output, names - self._protected)
        # A failed write may have made its folder: left empty, the next first build would
        # take the output for one staticserve did not build.
        _remove_empty_folders(self.output, failed)
        if not self.journaled:
            return
        if self.inherited is None:
            with contextlib.suppress(OSError):
                self.journal.unlink()
        else:
            with contextlib.suppress(BuildError):
                write_journal(self.output, self.inherited)


# -- publishing -------------------------------------------------------------------------------


def publish(
    output: Path,
    files: list[Published],
    *,
    previous: Manifest | None,
    prefix: str,
    keep: int,
    created: str,
    cache: Mapping[str, Mapping[str, int | None]],
    dry_run: bool = False,
    stager: Stager | None = None,
    keep_age: int = 0,
) -> PublishResult:
    """Make ``files`` the live build, keeping what the last ``keep`` builds referenced, and
    what every build live within the last ``keep_age`` seconds did.

    ``stager``, when given, is the one this build wrote content-addressed files through.
    A build that changes nothing (``--clear`` over unchanged inputs included) publishes nothing:
    the live build stays, with its generation.
    """
    generation = next_generation(previous)
    assets = {f.asset.logical: _with_generation(f.asset, generation) for f in files}
    kept = retained(previous, assets, generation, keep, keep_age=keep_age, now=created)
    manifest = Manifest(
        assets=assets,
        retained=kept,
        prefix=prefix,
        generation=generation,
        created=created,
        superseded=superseded_times(previous, kept, created),
    )
    journal = journal_path(output)
    batch = stager.batch if stager else SyncBatch(output)
    staged = stager.written if stager else set()
    inherited = stager.inherited if stager else unfinished_names(output)
    unfinished = inherited is not None
    same = (
        previous is not None and not unfinished and _same_build(previous, manifest, keep, keep_age)
    )
    wanted = files_on_disk(manifest)
    owned = (files_on_disk(previous) if previous else set()) | (inherited or set())
    if dry_run:
        planned = sorted(_missing(output, files))
        live = previous if same and previous else manifest
        # What the real build would prune: the files it owns that the new build does not name.
        prunable = 0 if same else sum((output / name).is_file() for name in owned - wanted)
        return PublishResult(
            live, not same, *_tally(planned, files), pruned=prunable, planned=planned
        )
    if same and previous:
        journaled = stager is not None and stager.journaled
        repaired = _repair(output, files, previous, staged, batch, journaled=journaled)
        return PublishResult(previous, False, *_tally(staged | repaired, files))
    # Everything this build may create or prune: once the new manifest is live, the files it
    # dropped are named by no manifest, so only the journal still says they are ours.
    write_journal(output, wanted | owned, first_build=previous is None)
    written = set(staged)
    recorded = recorded_files(previous, inherited or set())
    batch.begin()
    try:
        for item in files:
            written.update(_write_content_addressed(output, item, staged, recorded, batch))
        batch.sync()  # every file the manifest names is durable before it goes live
        write_atomic(output / MANIFEST_NAME, manifest.dumps().encode())
        live_since = monotonic()
    except OSError as exc:
        batch.close()
        _remove_temporaries(output, wanted)
        raise write_error(output, exc, first_build=previous is None) from None
    # The new build is live from here on: a failure must not claim that nothing was published.
    batch.begin()
    try:
        _write_all_unhashed(output, [item.asset for item in files], batch)
        pruned = _prune(output, owned - wanted)
        if unfinished:
            _remove_temporaries(output, owned | wanted | {MANIFEST_NAME})
        write_cache(output, cache, manifest)
        batch.sync()  # the plain names durable before the journal that makes a build redo them
        journal.unlink()
    except OSError as exc:
        batch.close()
        _remove_temporaries(output, wanted)
        raise _unfinished_error(output, generation, exc) from None
    # The deploy contract (manifest.py): return only once every server of this output will
    # look for the new manifest at the next request it does not know.
    sleep(max(0.0, live_since + NEW_BUILD_CHECK_INTERVAL - monotonic()))
    return PublishResult(manifest, True, *_tally(written, files), pruned=pruned)


def _repair(
    output: Path,
    files: list[Published],
    previous: Manifest,
    staged: set[str],
    batch: SyncBatch,
    *,
    journaled: bool,
) -> set[str]:
    """The live build stays: write again the files of it that are missing or cut (the variants
    were, while compressing: ``journaled`` then), make them durable, drop the journal. The
    names written."""
    recorded = recorded_files(previous, set())
    missing = [
        item
        for item in files
        if item.asset.path not in staged
        and not (
            recorded.get(item.asset.path) == (item.asset.sha256, item.asset.size)
            and has_size(output / item.asset.path, item.asset.size)
        )
    ]
    if not missing and not journaled:
        return set()
    written: list[str] = []
    try:
        if missing and not journaled:  # what a killed repair leaves is known to be ours
            write_journal(output, {item.asset.path for item in missing})
        batch.begin()
        for item in missing:
            written += _write_content_addressed(output, item, set(staged), recorded, batch)
        batch.sync()  # durable before the journal that would make a build redo them goes
    except OSError as exc:
        batch.close()
        _remove_temporaries(output, {item.asset.path for item in missing})
        raise write_error(output, exc) from None
    journal_path(output).unlink()
    return set(written)


def next_generation(previous: Manifest | None) -> int:
    """The generation of the build that follows ``previous`` (None: the first)."""
    return (previous.generation + 1) if previous else 1


def _with_generation(asset: Asset, generation: int) -> Asset:
    """The build's assets are made with their generation (Variants.finish): kept as they are.
    A copy, validated again, only for others."""
    return (
        asset
        if asset.generation == generation
        else dataclasses.replace(asset, generation=generation)
    )


def _same_build(previous: Manifest, new: Manifest, keep: int, keep_age: int) -> bool:
    """Nothing to publish: same files, same prefix, and no retained file due for pruning."""
    old = {k: (a.path, a.sha256, dict(a.encodings)) for k, a in previous.assets.items()}
    now = {k: (a.path, a.sha256, dict(a.encodings)) for k, a in new.assets.items()}
    expiring = due_for_pruning(previous, new.generation, keep, keep_age=keep_age, now=new.created)
    return old == now and previous.prefix == new.prefix and not expiring


def _targets(item: Published) -> list[tuple[str, Content]]:
    """The content-addressed files of ``item``: the hashed file, then its fresh variants."""
    return [(item.asset.path, item.data)] + [
        (item.asset.variant_path(e), data) for e, data in item.variants.items()
    ]


def _missing(output: Path, files: list[Published]) -> set[str]:
    """The content-addressed names a build of ``files`` has to write (what a dry run plans)."""
    return {
        name
        for item in files
        for name, data in _targets(item)
        if not has_size(output / name, size_of(data))
    }


def _tally(names: Iterable[str], files: list[Published]) -> tuple[int, int]:
    """(files, variants) among ``names``: the counts the summary shows, dry run or not."""
    hashed = {item.asset.path for item in files}
    names = set(names)
    return len(names & hashed), len(names - hashed)


def _write_content_addressed(
    output: Path,
    item: Published,
    staged: set[str],
    recorded: Mapping[str, tuple[str, int]],
    batch: SyncBatch,
) -> list[str]:
    """Write the hashed file and its variants unless this or an earlier build already did."""
    written = []
    for name, data in _targets(item):
        if name in staged:
            continue
        staged.add(name)  # once, should another file share the name (and so the bytes)
        target = output / name
        size = size_of(data)
        if recorded.get(name) == (item.asset.sha256, size) and has_size(target, size):
            continue  # the live build's file of these bytes (renamed in only when complete)
        write_atomic(target, _payload(data), durable=False)
        batch.add(target)
        written.append(name)
    return written


def _payload(data: Content) -> Payload:
    """Bytes in memory as they are; a source left on disk as its chunks, checked as they go."""
    return data.chunks() if isinstance(data, OnDisk) else data


def _write_all_unhashed(output: Path, assets: list[Asset], batch: SyncBatch) -> None:
    """:func:`_write_unhashed` of each asset, a batch at a time on a few threads: a link
    is a system call that lets the others run, and an empty output needs one per file and
    variant (about 7,600 for 2,500 files)."""
    renamed = [asset for asset in assets if asset.logical != asset.path]
    batches = [renamed[i : i + _LINKS_PER_JOB] for i in range(0, len(renamed), _LINKS_PER_JOB)]
    if len(batches) <= 1:
        _write_unhashed_each(output, renamed, batch)
        return
    with ThreadPoolExecutor(_LINKERS, thread_name_prefix="link") as pool:
        jobs = [pool.submit(_write_unhashed_each, output, part, batch) for part in batches]
        for job in jobs:
            job.result()  # the first error, once every job has stopped


def _write_unhashed_each(output: Path, assets: list[Asset], batch: SyncBatch) -> None:
    root = os.path.join(output, "")  # names joined as text: a Path join costs more than a link
    for asset in assets:
        _write_unhashed(root, asset, batch)


def _write_unhashed(root: str, asset: Asset, batch: SyncBatch) -> None:
    """The file under its plain name too, for old unversioned URLs and other servers (a hard
    link, or a copy, replacing the earlier one atomically; durable at the batch's sync).
    ``root``: the output folder, ending in a separator."""
    if asset.logical == asset.path:
        return
    pairs = [(asset.path, asset.logical)]
    pairs += [
        (asset.variant_path(e), asset.logical + ENCODING_SUFFIXES[e]) for e in asset.encodings
    ]
    for source, name in pairs:
        target = root + name
        place_copy(root + source, target)
        batch.add(target)


def _remove_temporaries(output: Path, names: set[str]) -> None:
    for name in names:
        with contextlib.suppress(OSError):
            temporary(output / name).unlink()


def _prune(output: Path, names: set[str]) -> int:
    """Delete files that only earlier builds (or a killed build) created, then empty folders."""
    removed = 0
    for name in sorted(names):
        path = output / name
        for candidate in (path, temporary(path)):
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed += candidate == path
    _remove_empty_folders(output, names)
    return removed


def _remove_empty_folders(output: Path, names: set[str]) -> None:
    """Remove the folders of ``names`` (and theirs, up to ``output``) that are empty."""
    for folder in sorted({(output / n).parent for n in names}, key=lambda p: -len(p.parts)):
        while folder != output and output in folder.parents:
            try:
                folder.rmdir()  # only succeeds when empty
            except OSError:
                break
            folder = folder.parent


def _unfinished_error(output: Path, generation: int, exc: OSError) -> BuildError:
    where = exc.filename or output
    return BuildError(
        f"build {generation} is live, but finishing it failed: cannot write {where}: "
        f"{reason(exc)}; fix that and build again to complete the unhashed copies and "
        "remove what earlier builds left"
    )
