"""Variants: compress what the cache cannot supply, on all cores, and hand every file to the
publish stage's writer as soon as its bytes (or a variant's) are ready.

The build runs it between fingerprinting and publishing: :meth:`Variants.start` takes the files
whose bytes are final early, :meth:`Variants.finish` the rest, and returns the records that
publish() makes live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from functools import partial

from ..errors import BuildError
from ..manifest import ENCODING_SUFFIXES, Asset
from .atomic import Linked
from .cache_dir import CompressionCache
from .collect import Content, SourceError, size_of
from .compress import compress_variants, worth_compressing
from .config import BuildConfig
from .fingerprint import Fingerprinted
from .publish import Published, Stager
from .schedule import LargestFirst

__all__ = ["Cache", "Progress", "Variants"]

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` while a stage runs."""

Cache = dict[str, dict[str, int | None]]
"""sha256 -> {encoding: variant size, or None when not worth keeping}."""


def _asset(item: Fingerprinted, encodings: Mapping[str, int], generation: int) -> Asset:
    return Asset(
        logical=item.logical,
        path=item.path,
        size=size_of(item.data),
        sha256=item.sha256,
        integrity=item.integrity,
        encodings=encodings,
        generation=generation,
        fingerprinted=item.path == item.logical,
    )


def _compress(data: Content, encodings: tuple[str, ...]) -> dict[str, Linked | bytes | None]:
    return {**compress_variants(data, encodings)}  # looked up at each call: tests hook it


def _bytes(variant: Linked | bytes) -> bytes:
    return variant.data if isinstance(variant, Linked) else variant


# Threads that write finished files (temporary name, rename; no fsync each since durable.py
# flushes them together): the copies of files left on disk wait on reads, so a few keep the
# compressing threads from waiting on them. Measured 2026-12-02 on a loaded 2-core machine
# (2,213 files, three interleaved cold builds each, CPU against the compression-only bound of
# the same round): 1 writer 1.04-1.59x, 2 writers 0.97-1.60x, 4 writers 0.99-1.09x: no gain from
# fewer, so 4 stay.
# When the cache held nearly every variant (a few files compressed at most), none: the thread
# that waits for the variants writes them, as the writes are then short system calls, and a
# writing thread only passes the interpreter lock back and forth with it (measured
# 2026-12-03, warm-cache build of 2,561 files into an empty output: 4 writers 1.73-1.76 s,
# 1.00-1.08 s of it in the kernel; 1 writer 1.44-1.68 s, 0.59-0.63 s; py-spy then showed that
# one writer waiting for the lock half of its time).
_WRITERS = 4
_FEW_COMPRESSIONS = 16  # files compressed, at most, for a build to count as a warm one
_WRITES_PER_JOB = 16


class _WritingHere:
    """The writing pool of a warm build: each job done in the calling thread, at once."""

    def submit(self, job: Callable[..., None], *args: object) -> Future[None]:
        done: Future[None] = Future()
        try:
            job(*args)
        except Exception as exc:  # raised by result(), as a pool's would be (Ctrl-C is not)
            done.set_exception(exc)
        else:
            done.set_result(None)
        return done

    def shutdown(self, *, wait: bool = True, cancel_futures: bool = False) -> None:
        """Nothing runs after submit() returns."""


class Variants:
    """Compress what the cache cannot supply, on all cores, and write files as they are ready
    (through ``stager``, unless ``write`` is false: a dry run compresses to know what the build
    would write, and writes nothing).

    ``start(items)`` may be called, as often as wanted, with files whose bytes are final early
    (their compression then overlaps the rewriting of the others): whatever the order they come
    in, the largest waiting file is compressed first (schedule.py); ``finish(results)`` adds the rest,
    journals and writes everything, and returns the files to publish, the number of
    compressions run and the number of variants reused. ``cache`` (sha256 -> {encoding: size,
    or None when not worth keeping}) is updated in place. ``abort()`` stops the threads and
    removes what was written. A variant is reused only when the live manifest records it with
    the same content (``stager.holds``), never because a file of that size is there. The others
    come from ``store`` (the persistent cache folder) when it holds them, and are compressed
    otherwise: the number returned as compressed counts only those.

    Threads, not processes: brotli, zlib and zstd release the GIL while they compress (measured:
    a pure-Python loop keeps running at full speed beside a brotli call), so the compressing
    threads use every core without pickling megabytes to worker processes.
    """

    def __init__(
        self,
        config: BuildConfig,
        cache: Cache,
        progress: Progress,
        stager: Stager,
        *,
        write: bool,
        store: CompressionCache | None = None,
    ) -> None:
        self.config, self.cache, self.progress = config, cache, progress
        self.stager, self.write, self.store = stager, write, store
        self.todo: dict[str, list[str]] = {}  # sha256 -> encodings computed, once per content
        self.holders: dict[str, list[Fingerprinted]] = {}  # sha256 -> files with that content
        self.planned: set[str] = set()  # logical paths already looked at
        self.reused = 0
        self.compressing = 0  # files sent to the compressing threads
        self.jobs: dict[Future[dict[str, Linked | bytes | None]], str] = {}
        self.compressors: LargestFirst | None = None
        self.writers: ThreadPoolExecutor | _WritingHere | None = None

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
        for sha256, encodings in jobs.items():
            data = self.holders[sha256][0].data
            held = self.store.held(sha256, tuple(encodings)) if self.store is not None else None
            if held is not None:  # a warm build: read here, no thread needed
                done: Future[dict[str, Linked | bytes | None]] = Future()
                done.set_result(held)
                self.jobs[done] = sha256
                continue
            if self.compressors is None:
                self.compressors = LargestFirst(self.config.worker_count, "compress")
            self.compressing += 1
            # Size stands for the time a job takes: brotli 11 costs about the same per byte.
            make = _compress if self.store is None else partial(self.store.variants, sha256)
            job = self.compressors.submit(size_of(data), make, data, tuple(encodings))
            self.jobs[job] = sha256

    def finish(
        self, results: list[Fingerprinted], generation: int = 0
    ) -> tuple[list[Published], int, int]:
        """Wait for every variant; the files as published, their assets of ``generation``."""
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
            published.append(Published(_asset(item, sizes, generation), item.data, variants))
        restored = self.store.restored if self.store is not None else 0
        return published, sum(len(e) for e in todo.values()) - restored, self.reused

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
            self.writers = (
                ThreadPoolExecutor(_WRITERS, thread_name_prefix="write")
                if self.compressing > _FEW_COMPRESSIONS
                else _WritingHere()
            )
            # Two files with the same bytes may share a name (a.css and a.<its hash>.css).
            unique = {item.path: item for item in results}.values()
            writes += self._put_all([(item.path, item.data, item.sha256) for item in unique])
        # The progress counts files, as the README says: a file's variants come as one job.
        total = sum(len(self.holders[sha256]) for sha256 in self.jobs.values())
        done = 0
        kept: dict[tuple[str, str], int] = {}
        unwritten: dict[tuple[str, str], bytes] = {}
        self.progress("compress", 0, total)
        waiting: list[tuple[str, Content | Linked, str]] = []
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
                kept[(sha256, encoding)] = len(_bytes(packed))
                if self.writers is None:
                    unwritten[(sha256, encoding)] = _bytes(packed)
                    continue
                suffix = ENCODING_SUFFIXES[encoding]
                waiting += [
                    (path + suffix, packed, sha256)
                    for path in sorted({item.path for item in self.holders[sha256]})
                ]
            if len(waiting) >= _WRITES_PER_JOB:
                writes += self._put_all(waiting)
                waiting = []
            done += len(self.holders[sha256])
            self.progress("compress", done, total)
        writes += self._put_all(waiting)
        for write in writes:
            write.result()  # the first write error, if any
        self._shutdown(cancel=False)
        return kept, unwritten

    def _put_all(self, files: list[tuple[str, Content | Linked, str]]) -> list[Future[None]]:
        """``stager.put`` each of ``files`` on the writing threads, a few to a job: one job per
        file costs more than writing a small file or linking a cached one."""
        writers = self.writers
        if writers is None or not files:
            return []
        return [
            writers.submit(self._put_each, files[start : start + _WRITES_PER_JOB])
            for start in range(0, len(files), _WRITES_PER_JOB)
        ]

    def _put_each(self, files: list[tuple[str, Content | Linked, str]]) -> None:
        for name, data, sha256 in files:
            self.stager.put(name, data, sha256)

    def _shutdown(self, *, cancel: bool) -> None:
        if self.compressors is not None:
            self.compressors.shutdown(cancel=cancel)
        if self.writers is not None:
            self.writers.shutdown(wait=True, cancel_futures=cancel)

    def abort(self) -> None:
        """Stop, and undo what was written. The writers are stopped and the output tidied
        first (quick); then the compressions running are waited for, which may take as long as
        the longest one (brotli cannot be stopped mid-call): a second Ctrl-C during that wait
        leaves the output tidy already."""
        try:
            if self.writers is not None:
                self.writers.shutdown(wait=True, cancel_futures=True)
            if self.write:
                self.stager.abort()
        finally:
            if self.compressors is not None:
                self.compressors.shutdown(cancel=True)
