"""The build: collect -> fingerprint (rewriting references) -> compress -> publish.

``build(config)`` runs the stages in order and returns a :class:`BuildReport`; only ``collect``
reads source files and only the publish stage writes (publish.py with its helpers atomic.py,
journal.py and cache.py, and the build lock of output_dir.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import BrokenReference, BuildError
from ..manifest import ENCODING_SUFFIXES, MANIFEST_NAME, Asset, Manifest
from .cache import load_cache, store_cache
from .collect import Collected, Duplicate, SourceError, collect, resolve_sources, size_of
from .compress import check_available, compress_variants, worth_compressing
from .config import BuildConfig, Source, load_config
from .fingerprint import Fingerprinted, final_as_read, fingerprint, syntax_of
from .output_dir import build_lock, check_output_dir
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
    written: int
    pruned: int
    changed: bool
    dry_run: bool
    generation: int
    planned: tuple[str, ...] = ()
    stage_seconds: Mapping[str, float] = field(default_factory=dict)

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
            "pruned": self.pruned,
            "changed": self.changed,
            "dry_run": self.dry_run,
            "generation": self.generation,
            "planned": list(self.planned),
            "seconds": round(self.seconds, 4),
            "stage_seconds": {k: round(v, 4) for k, v in self.stage_seconds.items()},
        }


def build(
    config: BuildConfig | None = None,
    *,
    progress: Progress | None = None,
    dry_run: bool = False,
    clear: bool = False,
    **overrides: Any,
) -> BuildReport:
    """Build ``config`` (default: ``[tool.staticserve]`` of ./pyproject.toml) into its output.

    Keyword ``overrides`` replace settings, e.g. ``build(output="dist/static", strict=True)``.
    Raises :class:`~staticserve.errors.BuildError` (nothing published) or ``ConfigError``.
    """
    config = (config or load_config()).with_overrides(**overrides)
    report_progress = progress or _no_progress
    timings: dict[str, float] = {}
    sources = resolve_sources(config)
    output = config.output_dir
    check_output_dir(output, [s.path for s in sources])
    check_available(config.encodings)
    with nullcontext() if dry_run else build_lock(output):
        with _timed(timings, "collect"):
            # Only the files the build may rewrite are held in memory; the others (images,
            # fonts, media, ...) stay on disk and are read in chunks when they are needed.
            collected = collect(
                config, sources, on_disk=lambda name: syntax_of(name, config.rewrite_js) is None
            )
        if config.strict and collected.duplicates:
            raise BuildError(_duplicates_message(collected.duplicates))
        previous = load_previous(output)
        cache: _Cache = {} if clear else load_cache(output)
        files = {k: f.data for k, f in collected.files.items()}
        stager = None if dry_run else Stager(output, previous)
        compression = None
        if stager is not None:
            compression = _Compression(config, output, cache, report_progress, stager)
        try:
            with _timed(timings, "fingerprint"):
                known = final_as_read(
                    files, rewrite_js=config.rewrite_js, fingerprinted=config.fingerprinted
                )
                if compression is not None:  # their compression overlaps the rewriting
                    compression.start(known.values())
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
            _check_names(results, collected, config)
            with _timed(timings, "compress"):
                if compression is None:
                    published, compressed, reused = _uncompressed(results), 0, 0
                else:
                    published, compressed, reused = compression.finish(results)
        except BaseException:
            if compression is not None:
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
                force=clear,
                dry_run=dry_run,
                stager=stager,
            )
            if not outcome.changed and compressed:
                store_cache(output, cache, outcome.manifest)  # lost cache rebuilt: keep it
    assets = list(outcome.manifest.assets.values())
    return BuildReport(
        output=output,
        files=len(results),
        total_bytes=sum(a.size for a in assets),
        duplicates=collected.duplicates,
        warnings=collected.warnings
        + tuple(p.message for p in problems)
        + _kept_names_changed(results, previous),
        encodings=_encoding_stats(assets, config.encodings),
        compressed=compressed,
        reused=reused,
        written=outcome.written,
        pruned=outcome.pruned,
        changed=outcome.changed,
        dry_run=dry_run,
        generation=outcome.manifest.generation,
        planned=tuple(outcome.planned),
        stage_seconds=timings,
    )


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


def _check_names(results: list[Fingerprinted], collected: Collected, config: BuildConfig) -> None:
    """Refuse files that would overwrite the manifest, the state folder or each other."""
    check_names(
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


def _uncompressed(results: list[Fingerprinted]) -> list[Published]:
    return [Published(_asset(item, {}), item.data, {}) for item in results]


# Threads that write finished files (temporary name, fsync, rename): they mostly wait on the
# disk, so a few of them keep the compressing threads from ever waiting on an fsync.
_WRITERS = 4


class _Compression:
    """Compress what the cache cannot supply, on all cores, and write files as they are ready.

    ``start(items)`` may be called with the files whose bytes are final early (their
    compression then overlaps the rewriting of the others); ``finish(results)`` adds the rest,
    journals and writes everything, and returns the files to publish, the number of
    compressions run and the number of variants reused. ``cache`` (sha256 -> {encoding: size,
    or None when not worth keeping}) is updated in place. ``abort()`` stops the threads and
    removes what was written.

    Threads, not processes: brotli, zlib and zstd release the GIL while they compress (measured:
    a pure-Python loop keeps running at full speed beside a brotli call), so the compressing
    threads use every core without pickling megabytes to worker processes.
    """

    def __init__(
        self,
        config: BuildConfig,
        output: Path,
        cache: _Cache,
        progress: Progress,
        stager: Stager,
    ) -> None:
        self.config, self.output, self.cache = config, output, cache
        self.progress, self.stager = progress, stager
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
        fresh: dict[tuple[str, str], int] = {}  # sizes of the variants made (and written) now
        if self.jobs:
            fresh = self._write_all(results)
        todo = {sha256: encodings for sha256, encodings in self.todo.items() if encodings}
        for sha256, encodings in todo.items():
            for encoding in encodings:
                self.cache.setdefault(sha256, {})[encoding] = fresh.get((sha256, encoding))
        published = []
        for item in results:
            sizes: dict[str, int] = {}
            if worth_compressing(item.logical, size_of(item.data), self.config.min_size):
                for encoding in self.config.encodings:
                    size = self.cache.get(item.sha256, {}).get(encoding)
                    if size is not None:
                        sizes[encoding] = size
            # Every variant is on disk already (written, or reused): no bytes held until publish.
            published.append(Published(_asset(item, sizes), item.data, {}))
        return published, sum(len(e) for e in todo.values()), self.reused

    def _write_all(self, results: list[Fingerprinted]) -> dict[tuple[str, str], int]:
        """Journal, then write every file and each variant as its compression completes;
        return the size of each variant kept, by (sha256, encoding)."""
        names = [item.path for item in results]
        names += [
            item.path + ENCODING_SUFFIXES[encoding]
            for sha256, encodings in self.todo.items()
            for item in self.holders[sha256]
            for encoding in encodings
        ]
        self.stager.begin(names)
        self.writers = ThreadPoolExecutor(_WRITERS, thread_name_prefix="write")
        # Two files with the same bytes may share a name (a.css and a.<its hash>.css): one write.
        unique = {item.path: item for item in results}.values()
        writes = [
            self.writers.submit(self.stager.put, item.path, item.data, item.sha256)
            for item in unique
        ]
        total = sum(len(encodings) for encodings in self.todo.values())
        done = 0
        kept: dict[tuple[str, str], int] = {}
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
                suffix = ENCODING_SUFFIXES[encoding]
                writes += [
                    self.writers.submit(self.stager.put, path + suffix, packed, sha256)
                    for path in sorted({item.path for item in self.holders[sha256]})
                ]
            done += len(variants)
            self.progress("compress", done, total)
        for write in writes:
            write.result()  # the first write error, if any
        self._shutdown(cancel=False)
        return kept

    def _shutdown(self, *, cancel: bool) -> None:
        for pool in (self.compressors, self.writers):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=cancel)

    def abort(self) -> None:
        self._shutdown(cancel=True)
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
