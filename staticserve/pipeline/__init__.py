"""The build: collect -> fingerprint (rewriting references) -> compress -> publish.

``build(config)`` runs the stages in order and returns a :class:`BuildReport`; only ``collect``
reads source files and only the publish stage writes (publish.py with its helpers atomic.py,
journal.py and cache.py, and the build lock of output_dir.py; unchanged.py records the sources).
The stages overlap: a file's compression starts as soon as fingerprinting has made its bytes
final. When the sources' record says nothing changed since the live build, and the output is as
that build left it, the build stops after the walk: nothing to read, nothing to publish.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import BrokenReference, BuildError, ConfigError, ManifestError
from ..manifest import MANIFEST_NAME, Asset, Manifest
from .atomic import reason
from .cache import load_cache, write_cache
from .cache_dir import CompressionCache, check_cache_dir
from .collect import (
    Collected,
    Duplicate,
    Found,
    ListedFile,
    OnDisk,
    collect,
    find_sources,
    resolve_sources,
    size_of,
)
from .compress import check_available, worth_compressing
from .config import BuildConfig, Source, load_config
from .fingerprint import Fingerprinted, Problem, final_as_read, fingerprint, syntax_of
from .journal import unfinished_names
from .output_dir import build_lock, check_output_contents, check_output_dir, no_notice
from .publish import Stager, load_previous, next_generation, publish
from .reserved import Claimant, check_names
from .scan_cache import ScanCache
from .unchanged import (
    SourceRecord,
    live_build_intact,
    load_record,
    save_record,
    settings_digest,
    unchanged_on_disk,
    unchanged_sources,
)
from .variants import Cache, Progress, Variants

__all__ = [
    "BuildConfig",
    "BuildReport",
    "EncodingStats",
    "ListedFile",
    "Source",
    "build",
    "load_config",
]


@dataclass(frozen=True, slots=True)
class EncodingStats:
    files: int
    original_bytes: int
    compressed_bytes: int


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build did, with the figures the CLI summary shows."""

    output: Path
    files: int
    total_bytes: int
    duplicates: tuple[Duplicate, ...]
    warnings: tuple[str, ...]
    encodings: Mapping[str, EncodingStats]
    compressed: int
    reused: int
    written: int  # files written (or, in a dry run, to be written), variants aside
    pruned: int
    changed: bool
    dry_run: bool
    generation: int
    planned: tuple[str, ...] = ()
    stage_seconds: Mapping[str, float] = field(default_factory=dict)
    written_variants: int = 0  # their compressed variants written (or to be written)
    sources_read: int = 0  # source files read or hashed; the others were unchanged (stamps)
    restored: int = 0  # variants taken from the cache folder (cache_dir) instead of compressed
    cache_dir: Path | None = None  # the cache folder the build used, if any

    @property
    def seconds(self) -> float:
        return sum(self.stage_seconds.values())

    @property
    def manifest_path(self) -> Path:
        return self.output / MANIFEST_NAME

    def to_json(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "files": self.files,
            "total_bytes": self.total_bytes,
            "duplicates": [
                {"logical": d.logical, "winner": str(d.winner), "shadowed": str(d.shadowed)}
                for d in self.duplicates
            ],
            "warnings": list(self.warnings),
            "encodings": {
                name: {
                    "files": s.files,
                    "original_bytes": s.original_bytes,
                    "compressed_bytes": s.compressed_bytes,
                }
                for name, s in self.encodings.items()
            },
            "compressed": self.compressed,
            "reused": self.reused,
            "restored": self.restored,
            "cache_dir": None if self.cache_dir is None else str(self.cache_dir),
            "written": self.written,
            "written_variants": self.written_variants,
            "sources_read": self.sources_read,
            "pruned": self.pruned,
            "changed": self.changed,
            "dry_run": self.dry_run,
            "generation": self.generation,
            "planned": list(self.planned),
            "seconds": round(self.seconds, 4),
            "stage_seconds": {k: round(v, 4) for k, v in self.stage_seconds.items()},
        }


def build(
    config: BuildConfig | str | os.PathLike[str] | None = None,
    *,
    progress: Progress | None = None,
    notice: Callable[[str], None] | None = None,
    dry_run: bool = False,
    clear: bool = False,
    files: Iterable[ListedFile] = (),
    **overrides: Any,
) -> BuildReport:
    """Build ``config`` (default: ``[tool.staticserve]`` of ./pyproject.toml; a path names
    another TOML file) into its output.

    ``files`` are sources too, listed one by one by a caller that finds them itself (Django's
    staticfiles finders): collected after the source folders, in their order, the first of a
    logical path winning. With them, the config may name no source folder.

    Keyword ``overrides`` replace settings, e.g. ``build(output="dist/static", strict=True)``.
    ``notice`` receives what the build has to say before it ends (that it waits for another
    build writing to the same output, for instance).
    Raises :class:`~staticserve.errors.BuildError` (nothing published) or ``ConfigError``.
    """
    if not isinstance(config, BuildConfig):
        config = load_config(config)
    config = config.with_overrides(**overrides)
    report_progress = progress or _no_progress
    timings: dict[str, float] = {}
    listed = list(files)
    sources = resolve_sources(config, listed=bool(listed))
    output = config.output_dir
    check_output_dir(output, [s.path for s in sources], [f.origin for f in listed])
    if config.cache_path is not None:
        check_cache_dir(config.cache_path, output, [s.path for s in sources])
    check_available(config.encodings)
    with _claimed(output, dry_run=dry_run, notice=notice or no_notice), _no_cycle_collection():
        taken = time.time_ns()  # before the stamps: see unchanged.py on racy files
        with _timed(timings, "collect"):
            found = find_sources(config, sources, listed=listed)
        if config.strict and found.duplicates:
            raise BuildError(_duplicates_message(found.duplicates))
        settings = settings_digest(config, sources)
        record = None if clear or dry_run else load_record(output)
        if record is not None and unchanged_sources(record, found, settings):
            with _timed(timings, "check"):
                live = live_build_intact(output, record, config)
            if live is not None:  # nothing to read, nothing to publish
                return _unchanged_report(output, found, record, *live, config, timings)
        with _timed(timings, "collect"):
            # Only the files the build may rewrite are held in memory; the others (images,
            # fonts, media, ...) stay on disk and are read in chunks when they are needed.
            collected = collect(
                config,
                sources,
                on_disk=lambda name: syntax_of(name, config.rewrite_js) is None,
                found=found,
                unchanged=unchanged_on_disk(record, found),
            )
        notes: list[str] = []
        previous = _previous_build(output, clear=clear, notes=notes)
        cache: Cache = {} if clear else load_cache(output)
        store = _cache_folder(config, clear=clear, dry_run=dry_run, notes=notes)
        scans = ScanCache(store.root if store else None, read=not clear, write=not dry_run)
        contents = {k: f.data for k, f in collected.files.items()}
        # A dry run compresses too (writing nothing): which variants are worth keeping, and so
        # how many files the build writes, is known only then.
        stager = Stager(output, previous)  # reads only, until it is asked to write
        compression = Variants(
            config, cache, report_progress, stager, write=not dry_run, store=store
        )
        try:
            with _timed(timings, "fingerprint"):
                known = final_as_read(
                    contents, rewrite_js=config.rewrite_js, fingerprinted=config.fingerprinted
                )
                compression.start(known.values())  # overlaps the rewriting of the others
                results, problems = fingerprint(
                    contents,
                    prefix=config.prefix,
                    strict=config.strict,
                    rewrite_js=config.rewrite_js,
                    known=known,
                    fingerprinted=config.fingerprinted,
                    ready=lambda item: compression.start((item,)),  # each as its bytes are final
                    scan=scans.sites,
                )
            fatal = [p.message for p in problems if p.fatal]
            if fatal:
                raise BrokenReference(
                    f"{len(fatal)} broken reference(s); nothing was published:\n  "
                    + "\n  ".join(fatal)
                )
            with _timed(timings, "fingerprint"):
                _check_names(results, collected, config, previous)
            with _timed(timings, "compress"):
                published, compressed, reused = compression.finish(
                    results, next_generation(previous)
                )
        except BaseException:
            compression.abort()
            raise
        with _timed(timings, "publish"):
            outcome = publish(
                output,
                published,
                previous=previous,
                prefix=config.prefix,
                keep=1 if clear else config.keep,
                keep_age=0 if clear else config.keep_age,
                created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                cache=cache,
                dry_run=dry_run,
                stager=None if dry_run else stager,
            )
            if not outcome.changed and compressed and not dry_run:
                _keep_cache(output, cache, outcome.manifest, notes)  # a lost cache rebuilt
            if not dry_run:
                _keep_record(output, settings, taken, found, collected, problems, record)
        if store is not None:
            scans.save()
            _tidy_cache_folder(store, config.cache_max_size, notes)
    assets = list(outcome.manifest.assets.values())
    return BuildReport(
        output=output,
        files=len(results),
        total_bytes=sum(a.size for a in assets),
        duplicates=collected.duplicates,
        warnings=collected.warnings
        + tuple(p.message for p in problems)
        + _kept_names_changed(results, previous)
        + tuple(notes),
        encodings=_encoding_stats(assets, config.encodings),
        compressed=compressed,
        reused=reused,
        written=outcome.written,
        written_variants=outcome.written_variants,
        pruned=outcome.pruned,
        changed=outcome.changed,
        dry_run=dry_run,
        generation=outcome.manifest.generation,
        planned=tuple(outcome.planned),
        stage_seconds=timings,
        sources_read=collected.read,
        restored=store.restored if store is not None else 0,
        cache_dir=config.cache_path,
    )


def _unchanged_report(
    output: Path,
    found: Found,
    record: SourceRecord,
    manifest: Manifest,
    reused: int,
    config: BuildConfig,
    timings: dict[str, float],
) -> BuildReport:
    """The report of a build that found nothing changed: the live build, as it stands."""
    assets = list(manifest.assets.values())
    return BuildReport(
        output=output,
        files=len(assets),
        total_bytes=sum(a.size for a in assets),
        duplicates=found.duplicates,
        warnings=found.warnings + record.warnings,
        encodings=_encoding_stats(assets, config.encodings),
        compressed=0,
        reused=reused,
        written=0,
        pruned=0,
        changed=False,
        dry_run=False,
        generation=manifest.generation,
        stage_seconds=timings,
        sources_read=0,
        cache_dir=config.cache_path,  # configured, as in a build that reads: the summary says so
    )


def _keep_record(
    output: Path,
    settings: str,
    taken: int,
    found: Found,
    collected: Collected,
    problems: list[Problem],
    previous: SourceRecord | None,
) -> None:
    """Record the sources of the live build for the next one. It only saves time later, so a
    failure (a read-only output that needed no write) is silent: the next build reads all."""
    on_disk = {k: f.data for k, f in collected.files.items() if isinstance(f.data, OnDisk)}
    warnings = tuple(p.message for p in problems)
    with suppress(OSError):
        save_record(
            output,
            settings=settings,
            taken=taken,
            found=found,
            on_disk=on_disk,
            warnings=warnings,
            previous=previous,
        )


def _cache_folder(
    config: BuildConfig, *, clear: bool, dry_run: bool, notes: list[str]
) -> CompressionCache | None:
    """The persistent cache this build uses, if any. ``--clear`` compresses everything anew
    (and stores it); a dry run reads it and writes nothing."""
    if config.cache_path is None:
        return None
    return CompressionCache(
        config.cache_path,
        read=not clear,
        write=not dry_run,
        probe="gzip" in config.encodings,
        warn=notes.append,
    )


def _tidy_cache_folder(store: CompressionCache, max_size: int, notes: list[str]) -> None:
    """After a build: what it did recorded, and the least recently used entries pruned past
    ``max_size`` when it stored new ones (CompressionCache.tidy). Only ever a warning: a cache
    never fails a build."""
    try:
        store.tidy(max_size)
    except OSError as exc:
        notes.append(f"{store.root}: the compression cache could not be pruned ({reason(exc)})")


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector paused while a build runs: a build makes a few objects per
    file and almost no cycles, and each full collection walks every object alive (a tenth of a
    second, in several passes, of a warm build of 2,561 files, measured 2026-12-03). Resumed
    after, unless it was off before."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


@contextmanager
def _claimed(output: Path, *, dry_run: bool, notice: Callable[[str], None]) -> Iterator[None]:
    """The output checked for files that are not staticserve's, and locked unless a dry run.

    Without a journal the folder is checked before the lock creates anything in it; with one,
    a build may be writing there (or have died doing so): the check waits for the lock."""
    if dry_run:
        check_output_contents(output, unfinished_names(output))
        yield
        return
    try:
        check_output_contents(output, None)
    except ConfigError:
        if unfinished_names(output) is None:  # read after the files: it names them all
            raise
    with build_lock(output, notice):
        check_output_contents(output, unfinished_names(output))  # ours alone now
        yield


def _keep_cache(output: Path, cache: Cache, manifest: Manifest, notes: list[str]) -> None:
    """Save the compression cache of a build that published nothing. That build needed no
    write (its output may be read-only), so a failure is only a warning."""
    try:
        write_cache(output, cache, manifest)
    except OSError as exc:
        notes.append(
            f"{output}: the compression cache was not saved ({reason(exc)}); the next build "
            "compresses again"
        )


def _previous_build(output: Path, *, clear: bool, notes: list[str]) -> Manifest | None:
    """The live manifest (None for a first build). An unreadable one stops the build, unless
    ``clear``: a build from scratch does not need it (the way out that its error names)."""
    try:
        return load_previous(output)
    except ManifestError:
        if not clear:
            raise
    notes.append(
        f"{output / MANIFEST_NAME} could not be read, so --clear rebuilt the output without it; "
        "files that only it named stay in the folder"
    )
    return None


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


def _duplicates_message(duplicates: tuple[Duplicate, ...]) -> str:
    lines = [f"{d.logical}: {d.winner} shadows {d.shadowed}" for d in duplicates]
    return (
        f"{len(lines)} file(s) exist in more than one source (strict mode):\n  "
        + "\n  ".join(lines)
        + "\n  Remove or rename one copy, or build without --strict to let the first source win."
    )


def _check_names(
    results: list[Fingerprinted],
    collected: Collected,
    config: BuildConfig,
    previous: Manifest | None,
) -> None:
    """Refuse files that would overwrite the manifest, the state folder, each other, or the
    hashed files earlier builds left for pages that still use them."""
    kept: dict[str, tuple[str, str]] = {}
    if previous is not None:
        for asset in (*previous.assets.values(), *previous.retained.values()):
            if asset.path == asset.logical:
                continue  # a plain name: each build writes it anew
            kept[asset.path] = (asset.sha256, "")
            for encoding in asset.encodings:
                kept[asset.variant_path(encoding)] = (asset.sha256, encoding)
    check_names(
        (
            Claimant(
                item.logical,
                item.path,
                item.sha256,
                collected.files[item.logical].origin,
                config.encodings
                if worth_compressing(item.logical, size_of(item.data), config.min_size)
                else (),
            )
            for item in results
        ),
        kept,
    )


def _kept_names_changed(results: list[Fingerprinted], previous: Manifest | None) -> tuple[str, ...]:
    """Warnings for names kept as hashed (a ``fingerprinted`` pattern) whose bytes changed."""
    if previous is None:
        return ()
    changed = [
        item.logical
        for item in results
        if item.path == item.logical
        and (before := previous.assets.get(item.logical)) is not None
        and before.path == item.path
        and before.sha256 != item.sha256
    ]
    return tuple(
        f"{logical}: its name is kept as hashed already, but its bytes changed since the last "
        "build: browsers and CDNs that cached it may keep the old bytes for a year; let the "
        "bundler put a content hash in the name, or drop the fingerprinted pattern matching it"
        for logical in changed
    )


def _encoding_stats(assets: list[Asset], encodings: tuple[str, ...]) -> dict[str, EncodingStats]:
    stats = {}
    for encoding in encodings:
        having = [a for a in assets if encoding in a.encodings]
        stats[encoding] = EncodingStats(
            files=len(having),
            original_bytes=sum(a.size for a in having),
            compressed_bytes=sum(a.encodings[encoding] for a in having),
        )
    return stats
