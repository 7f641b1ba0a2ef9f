"""The build: collect -> fingerprint (rewriting references) -> compress -> publish.

``build(config)`` runs the stages in order and returns a :class:`BuildReport`; only ``collect``
reads source files and only ``publish`` writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import BrokenReference, BuildError
from ..manifest import ENCODING_SUFFIXES, MANIFEST_NAME, Asset
from .collect import Duplicate, collect, resolve_sources
from .compress import check_available, compress_variants, worth_compressing
from .config import BuildConfig, Source, load_config
from .fingerprint import Fingerprinted, fingerprint
from .publish import (
    Published,
    Stager,
    build_lock,
    check_output_dir,
    load_cache,
    load_previous,
    publish,
    reusable_variant,
    store_cache,
)

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
            collected = collect(config, sources)
        if config.strict and collected.duplicates:
            raise BuildError(_duplicates_message(collected.duplicates))
        with _timed(timings, "fingerprint"):
            results, problems = fingerprint(
                {k: f.data for k, f in collected.files.items()},
                prefix=config.prefix,
                strict=config.strict,
                rewrite_js=config.rewrite_js,
            )
        fatal = [p.message for p in problems if p.fatal]
        if fatal:
            raise BrokenReference(
                f"{len(fatal)} broken reference(s); nothing was published:\n  " + "\n  ".join(fatal)
            )
        previous = load_previous(output)
        cache: _Cache = {} if clear else load_cache(output)
        stager = None if dry_run else Stager(output, previous)
        with _timed(timings, "compress"):
            if stager is None:
                published, compressed, reused = _uncompressed(results), 0, 0
            else:
                published, compressed, reused = _compress_all(
                    results, config, output, cache, report_progress, stager
                )
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
        warnings=collected.warnings + tuple(p.message for p in problems),
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


def _asset(item: Fingerprinted, encodings: Mapping[str, int]) -> Asset:
    return Asset(
        logical=item.logical,
        path=item.path,
        size=len(item.data),
        sha256=item.sha256,
        integrity=item.integrity,
        encodings=encodings,
    )


def _uncompressed(results: list[Fingerprinted]) -> list[Published]:
    return [Published(_asset(item, {}), item.data, {}) for item in results]


def _compress_all(
    results: list[Fingerprinted],
    config: BuildConfig,
    output: Path,
    cache: _Cache,
    progress: Progress,
    stager: Stager,
) -> tuple[list[Published], int, int]:
    """Compress what the cache cannot supply, on all cores; write files as soon as they are ready.

    ``cache`` (sha256 -> {encoding: size, or None when not worth keeping}) is updated in place.
    Returns the files to publish, the number of compressions run and of variants reused.
    """
    todo: dict[str, list[str]] = {}  # sha256 -> encodings to compute (once per distinct content)
    holders: dict[str, list[Fingerprinted]] = {}  # sha256 -> the files with that content
    reused = 0
    for item in results:
        if not worth_compressing(item.logical, len(item.data), config.min_size):
            continue
        holders.setdefault(item.sha256, []).append(item)
        known = cache.get(item.sha256, {})
        for encoding in config.encodings:
            if encoding in known and reusable_variant(output, item.path, encoding, known[encoding]):
                reused += 1
            elif encoding not in todo.setdefault(item.sha256, []):
                todo[item.sha256].append(encoding)
    todo = {sha256: encodings for sha256, encodings in todo.items() if encodings}
    fresh: dict[tuple[str, str], bytes] = {}
    if todo:
        names = [item.path for item in results]
        names += [
            item.path + ENCODING_SUFFIXES[encoding]
            for sha256, encodings in todo.items()
            for item in holders[sha256]
            for encoding in encodings
        ]
        stager.begin(names)
        fresh = _run_compression(results, holders, todo, config.worker_count, progress, stager)
    for sha256, encodings in todo.items():
        for encoding in encodings:
            packed = fresh.get((sha256, encoding))
            cache.setdefault(sha256, {})[encoding] = None if packed is None else len(packed)
    published = []
    for item in results:
        sizes: dict[str, int] = {}
        variants: dict[str, bytes] = {}
        if worth_compressing(item.logical, len(item.data), config.min_size):
            for encoding in config.encodings:
                size = cache[item.sha256].get(encoding)
                packed = fresh.get((item.sha256, encoding))
                if size is not None:
                    sizes[encoding] = size
                if packed is not None:
                    variants[encoding] = packed
        published.append(Published(_asset(item, sizes), item.data, variants))
    return published, sum(len(e) for e in todo.values()), reused


# Threads that write finished files (temporary name, fsync, rename): they mostly wait on the
# disk, so a few of them keep the compressing threads from ever waiting on an fsync.
_WRITERS = 4


def _run_compression(
    results: list[Fingerprinted],
    holders: Mapping[str, list[Fingerprinted]],
    todo: Mapping[str, list[str]],
    workers: int,
    progress: Progress,
    stager: Stager,
) -> dict[tuple[str, str], bytes]:
    """Compress each distinct content on ``workers`` threads and hand the results to writers.

    Threads, not processes: brotli, zlib and zstd release the GIL while they compress (measured:
    a pure-Python loop keeps running at full speed beside a brotli call), so the compressing
    threads use every core without pickling megabytes to worker processes.
    Returns the variants worth keeping, by (sha256, encoding).
    """
    # Largest first, so that one big file does not finish alone at the end.
    order = sorted(todo, key=lambda sha256: -len(holders[sha256][0].data))
    total = sum(len(todo[sha256]) for sha256 in order)
    kept: dict[tuple[str, str], bytes] = {}
    writes: list[Future[None]] = []
    progress("compress", 0, total)
    compressors = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="compress")
    writers = ThreadPoolExecutor(max_workers=_WRITERS, thread_name_prefix="write")
    try:
        jobs = {
            compressors.submit(
                compress_variants, holders[sha256][0].data, tuple(todo[sha256])
            ): sha256
            for sha256 in order
        }
        writes += [writers.submit(stager.put, item.path, item.data) for item in results]
        done = 0
        for job in as_completed(jobs):
            sha256 = jobs[job]
            try:
                variants = job.result()
            except BuildError as exc:
                raise BuildError(
                    f"{holders[sha256][0].logical}: {exc}; nothing was published, "
                    "the previous build is untouched"
                ) from exc.__cause__
            for encoding, packed in variants.items():
                if packed is None:
                    continue
                kept[(sha256, encoding)] = packed
                suffix = ENCODING_SUFFIXES[encoding]
                writes += [
                    writers.submit(stager.put, item.path + suffix, packed)
                    for item in holders[sha256]
                ]
            done += len(variants)
            progress("compress", done, total)
        for write in writes:
            write.result()  # the first write error, if any
    except BaseException:
        compressors.shutdown(wait=True, cancel_futures=True)
        writers.shutdown(wait=True, cancel_futures=True)
        stager.abort()
        raise
    compressors.shutdown()
    writers.shutdown()
    return kept


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
