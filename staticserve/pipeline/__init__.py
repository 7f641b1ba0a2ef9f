"""The build: collect -> fingerprint (rewriting references) -> compress -> publish.

``build(config)`` runs the stages in order and returns a :class:`BuildReport`; only ``collect``
reads source files and only the publish stage writes (publish.py with its helpers atomic.py,
journal.py and cache.py, and the build lock of output_dir.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import BrokenReference, BuildError, ConfigError, ManifestError
from ..manifest import MANIFEST_NAME, Asset, Manifest
from .atomic import reason
from .cache import load_cache, write_cache
from .collect import Collected, Duplicate, collect, resolve_sources, size_of
from .compress import check_available, worth_compressing
from .config import BuildConfig, Source, load_config
from .fingerprint import Fingerprinted, final_as_read, fingerprint, syntax_of
from .journal import unfinished_names
from .output_dir import build_lock, check_output_contents, check_output_dir, no_notice
from .publish import Stager, load_previous, publish
from .reserved import Claimant, check_names
from .variants import Cache, Progress, Variants

__all__ = ["BuildConfig", "BuildReport", "EncodingStats", "Source", "build", "load_config"]


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
        cache: Cache = {} if clear else load_cache(output)
        files = {k: f.data for k, f in collected.files.items()}
        # A dry run compresses too (writing nothing): which variants are worth keeping, and so
        # how many files the build writes, is known only then.
        stager = Stager(output, previous)  # reads only, until it is asked to write
        compression = Variants(config, cache, report_progress, stager, write=not dry_run)
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
                keep_age=0 if clear else config.keep_age,
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
