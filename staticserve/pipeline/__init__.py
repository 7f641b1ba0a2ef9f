"""The build: collect -> fingerprint (rewriting references) -> compress -> publish.

``build(config)`` runs the stages in order and returns a :class:`BuildReport`; only ``collect``
reads source files and only the publish stage writes (publish.py with its helpers atomic.py,
journal.py and cache.py, and the build lock of output_dir.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import BrokenReference, BuildError, ConfigError, ManifestError
from ..manifest import ENCODING_SUFFIXES, MANIFEST_NAME, Asset, Manifest
from .atomic import reason
from .cache import load_cache, write_cache
from .collect import Collected, Duplicate, SourceError, collect, resolve_sources, size_of
from .compress import check_available, compress_variants, worth_compressing
from .config import BuildConfig, Source, load_config
from .fingerprint import Fingerprinted, final_as_read, fingerprint, syntax_of
from .journal import unfinished_names
from .output_dir import build_lock, check_output_contents, check_output_dir, no_notice
from .publish import Published, Stager, load_previous, publish
from .reserved import Claimant, check_names

__all__ = ["BuildConfig", "BuildReport", "EncodingStats", "Source", "build", "load_config"]

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` while a stage runs."""

_Cache = dict[str, dict[str, int | None]]


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
            "written": self.written,
            "written_variants": self.written_variants,
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
    **overrides: Any,
) -> BuildReport:
    """Build ``config`` (default: ``[tool.staticserve]`` of ./pyproject.toml; a path names
    another TOML file) into its output.

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
    sources = resolve_sources(config)
    output = config.output_dir
    check_output_dir(output, [s.path for s in sources])
    check_available(config.encodings)
    with _claimed(output, dry_run=dry_run, notice=notice or no_notice):
        with _timed(timings, "collect"):
            # Only the files the build may rewrite are held in memory; the others (images,
            # fonts, media, ...) stay on disk and are read in chunks when they are needed.
            collected = collect(
                config, sources, on_disk=lambda name: syntax_of(name, config.rewrite_js) is None
            )
        if config.strict and collected.duplicates:
            raise BuildError(_duplicates_message(collected.duplicates))
        notes: list[str] = []
        previous = _previous_build(output, clear=clear, notes=notes)
        cache: _Cache = {} if clear else load_cache(output)
        files = {k: f.data for k, f in collected.files.items()}
        # A dry run compresses too (writing nothing): which variants are worth keeping, and so
        # how many files the build writes, is known only then.
        stager = Stager(output, previous)  # reads only, until it is asked to write
        compression = _Compression(config, cache, report_progress, stager, write=not dry_run)
        try:
            with _timed(timings, "fingerprint"):
                known = final_as_read(
                    files, rewrite_js=config.rewrite_js, fingerprinted=config.fingerprinted
                )
                compression.start(known.values())  # overlaps the rewriting of the others
                results, problems = fingerprint(
                    files,
                    prefix=config.prefix,
                    strict=config.strict,
                    rewrite_js=config.rewrite_js,
                    known=known,
                    fingerprinted=config.fingerprinted,
                )
            fatal = [p.message for p in problems if p.fatal]
            if fatal:
                raise BrokenReference(
                    f"{len(fatal)} broken reference(s); nothing was published:\n  "
                    + "\n  ".join(fatal)
                )
            _check_names(results, collected, config, previous)
            with _timed(timings, "compress"):
                published, compressed, reused = compression.finish(results)
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
                created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                cache=cache,
                dry_run=dry_run,
                stager=None if dry_run else stager,
            )
            if not outcome.changed and compressed and not dry_run:
                _keep_cache(output, cache, outcome.manifest, notes)  # a lost cache rebuilt
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
    )


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


def _keep_cache(output: Path, cache: _Cache, manifest: Manifest, notes: list[str]) -> None:
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
        timings[stage] = time.perf_counter() - start


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


def _asset(item: Fingerprinted, encodings: Mapping[str, int]) -> Asset:
    return Asset(
        logical=item.logical,
        path=item.path,
        size=size_of(item.data),
        sha256=item.sha256,
        integrity=item.integrity,
        encodings=encodings,
        fingerprinted=item.path == item.logical,
    )


# Threads that write finished files (temporary name, fsync, rename): they mostly wait on the
# disk, so a few of them keep the compressing threads from ever waiting on an fsync.
_WRITERS = 4


class _Compression:
    """Compress what the cache cannot supply, on all cores, and write files as they are ready
    (through ``stager``, unless ``write`` is false: a dry run compresses to know what the build
    would write, and writes nothing).

    ``start(items)`` may be called with the files whose bytes are final early (their
    compression then overlaps the rewriting of the others); ``finish(results)`` adds the rest,
    journals and writes everything, and returns the files to publish, the number of
    compressions run and the number of variants reused. ``cache`` (sha256 -> {encoding: size,
    or None when not worth keeping}) is updated in place. ``abort()`` stops the threads and
    removes what was written. A variant is reused only when the live manifest records it with
    the same content (``stager.holds``), never because a file of that size is there.

    Threads, not processes: brotli, zlib and zstd release the GIL while they compress (measured:
    a pure-Python loop keeps running at full speed beside a brotli call), so the compressing
    threads use every core without pickling megabytes to worker processes.
    """

    def __init__(
        self,
        config: BuildConfig,
        cache: _Cache,
        progress: Progress,
        stager: Stager,
        *,
        write: bool,
    ) -> None:
        self.config, self.cache, self.progress = config, cache, progress
        self.stager, self.write = stager, write
        self.todo: dict[str, list[str]] = {}  # sha256 -> encodings computed, once per content
        self.holders: dict[str, list[Fingerprinted]] = {}  # sha256 -> files with that content
        self.planned: set[str] = set()  # logical paths already looked at
        self.reused = 0
        self.jobs: dict[Future[dict[str, bytes | None]], str] = {}
        self.compressors: ThreadPoolExecutor | None = None
        self.writers: ThreadPoolExecutor | None = None

    def start(self, items: Iterable[Fingerprinted]) -> None:
        jobs: dict[str, list[str]] = {}
        for item in items:
            self.planned.add(item.logical)
            if not worth_compressing(item.logical, size_of(item.data), self.config.min_size):
                continue
            self.holders.setdefault(item.sha256, []).append(item)
            known = self.cache.get(item.sha256, {})
            for encoding in self.config.encodings:
                size = known.get(encoding, -1)
                variant = item.path + ENCODING_SUFFIXES[encoding]
                if size is None or (size >= 0 and self.stager.holds(variant, item.sha256, size)):
                    self.reused += 1
                elif encoding not in self.todo.setdefault(item.sha256, []):
                    self.todo[item.sha256].append(encoding)
                    jobs.setdefault(item.sha256, []).append(encoding)
        if not jobs:
            return
        if self.compressors is None:
            workers = self.config.worker_count
            self.compressors = ThreadPoolExecutor(workers, thread_name_prefix="compress")
        # Largest first, so that one big file does not finish alone at the end.
        for sha256 in sorted(jobs, key=lambda sha256: -size_of(self.holders[sha256][0].data)):
            data = self.holders[sha256][0].data
            job = self.compressors.submit(compress_variants, data, tuple(jobs[sha256]))
            self.jobs[job] = sha256

    def finish(self, results: list[Fingerprinted]) -> tuple[list[Published], int, int]:
        self.start(item for item in results if item.logical not in self.planned)
        sizes_made: dict[tuple[str, str], int] = {}  # the variants made now, by size
        unwritten: dict[tuple[str, str], bytes] = {}  # a dry run's variants, to count them
        if self.jobs:
            sizes_made, unwritten = self._write_all(results)
        todo = {sha256: encodings for sha256, encodings in self.todo.items() if encodings}
        for sha256, encodings in todo.items():
            for encoding in encodings:
                self.cache.setdefault(sha256, {})[encoding] = sizes_made.get((sha256, encoding))
        published = []
        for item in results:
            sizes: dict[str, int] = {}
            variants: dict[str, bytes] = {}
            if worth_compressing(item.logical, size_of(item.data), self.config.min_size):
                for encoding in self.config.encodings:
                    size = self.cache.get(item.sha256, {}).get(encoding)
                    if size is not None:
                        sizes[encoding] = size
                    packed = unwritten.get((item.sha256, encoding))
                    if packed is not None:
                        variants[encoding] = packed
            # A real build's variants are on disk already (written, or reused): no bytes are
            # held until publish.
            published.append(Published(_asset(item, sizes), item.data, variants))
        return published, sum(len(e) for e in todo.values()), self.reused

    def _write_all(
        self, results: list[Fingerprinted]
    ) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], bytes]]:
        """Journal, then write every file and each variant as its compression completes; return
        the size of each variant kept, by (sha256, encoding), and in a dry run their bytes."""
        names = [item.path for item in results]
        names += [
            item.path + ENCODING_SUFFIXES[encoding]
            for sha256, encodings in self.todo.items()
            for item in self.holders[sha256]
            for encoding in encodings
        ]
        writes: list[Future[None]] = []
        if self.write:
            self.stager.begin(names)
            self.writers = ThreadPoolExecutor(_WRITERS, thread_name_prefix="write")
            # Two files with the same bytes may share a name (a.css and a.<its hash>.css).
            unique = {item.path: item for item in results}.values()
            writes += [
                self.writers.submit(self.stager.put, item.path, item.data, item.sha256)
                for item in unique
            ]
        # The progress counts files, as the README says: a file's variants come as one job.
        total = sum(len(self.holders[sha256]) for sha256 in self.jobs.values())
        done = 0
        kept: dict[tuple[str, str], int] = {}
        unwritten: dict[tuple[str, str], bytes] = {}
        self.progress("compress", 0, total)
        for job in as_completed(self.jobs):
            sha256 = self.jobs[job]
            try:
                variants = job.result()
            except SourceError:
                raise  # says which file and what to do already
            except BuildError as exc:
                raise BuildError(
                    f"{self.holders[sha256][0].logical}: {exc}; nothing was published, "
                    "the previous build is untouched"
                ) from exc.__cause__
            for encoding, packed in variants.items():
                if packed is None:
                    continue
                kept[(sha256, encoding)] = len(packed)
                if self.writers is None:
                    unwritten[(sha256, encoding)] = packed
                    continue
                suffix = ENCODING_SUFFIXES[encoding]
                writes += [
                    self.writers.submit(self.stager.put, path + suffix, packed, sha256)
                    for path in sorted({item.path for item in self.holders[sha256]})
                ]
            done += len(self.holders[sha256])
            self.progress("compress", done, total)
        for write in writes:
            write.result()  # the first write error, if any
        self._shutdown(cancel=False)
        return kept, unwritten

    def _shutdown(self, *, cancel: bool) -> None:
        for pool in (self.compressors, self.writers):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=cancel)

    def abort(self) -> None:
        self._shutdown(cancel=True)
        if self.write:
            self.stager.abort()


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
