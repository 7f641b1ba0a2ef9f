"""Publish: the only stage that writes. Atomic files, manifest last, retention, clean-up.

Order of writes, chosen so that a build killed at any instant leaves the live manifest and
every file it names intact:

1. record the files this build may create or remove in a journal (so that whatever a killed
   build leaves behind, its own files or those it was about to prune once the new manifest
   had dropped them, is known to be ours and is removed next time);
2. write each new content-addressed file under a temporary name, fsync, rename into place --
   while the build is still compressing, through a :class:`Stager` (nothing can serve these
   names yet: no live manifest names them);
3. write the manifest the same way (the switch-over for servers);
4. refresh the unhashed copies, prune files no kept manifest names, delete the journal.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BuildError, ConfigError
from ..manifest import ENCODING_SUFFIXES, MANIFEST_NAME, Asset, Manifest

__all__ = [
    "STATE_DIR",
    "PublishResult",
    "Published",
    "Stager",
    "build_lock",
    "check_output_dir",
    "publish",
    "store_cache",
]

STATE_DIR = ".staticserve"  # inside the output: lock, journal and compression cache
_JOURNAL = "journal.json"
_CACHE = "cache.json"
_LOCK = "lock"
_TEMP_SUFFIX = ".staticserve-tmp"


@dataclass(frozen=True, slots=True)
class Published:
    """A file ready to publish: its record and the bytes of the file and of each variant."""

    asset: Asset
    data: bytes
    variants: Mapping[str, bytes]


@dataclass(slots=True)
class PublishResult:
    manifest: Manifest
    changed: bool
    written: int = 0
    pruned: int = 0
    removed_leftovers: int = 0
    planned: list[str] = field(default_factory=list)


# -- safety checks ----------------------------------------------------------------------------


def check_output_dir(output: Path, sources: list[Path]) -> None:
    """Refuse outputs that could destroy or recursively collect user files."""
    out = output.resolve()
    home = Path.home().resolve()
    if out == Path(out.anchor) or out == home:
        raise ConfigError(
            f"output {output}: refusing to build into {out} (choose a dedicated folder)"
        )
    for source in sources:
        src = source.resolve()
        if out == src or out.is_relative_to(src) or src.is_relative_to(out):
            raise ConfigError(
                f"output {output} overlaps source {source}: the output must be a separate folder "
                "that neither contains nor sits inside a source"
            )
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output {output} exists and is not a folder")
    if (
        out.is_dir()
        and not (out / MANIFEST_NAME).exists()
        and any(entry.name != STATE_DIR for entry in out.iterdir())
    ):
        raise ConfigError(
            f"output {output} is not empty and holds no {MANIFEST_NAME}: staticserve only "
            "builds into an empty folder or one it built before"
        )


@contextlib.contextmanager
def build_lock(output: Path) -> Iterator[None]:
    """Hold an exclusive lock on the output folder for the whole build."""
    import fcntl

    state = _ensure_dir(output / STATE_DIR)
    try:
        handle = open(state / _LOCK, "a+b")  # noqa: SIM115 -- closed by the with below
    except OSError as exc:
        raise _write_error(state / _LOCK, exc) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError(
                f"another build is writing to {output}; wait for it to finish"
            ) from None
        yield


def _ensure_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(path, exc) from None
    return path


# -- reading what is there --------------------------------------------------------------------


def load_previous(output: Path) -> Manifest | None:
    """The live manifest, or None for a first build. A corrupt one is an error, not ignored."""
    if not (output / MANIFEST_NAME).exists():
        return None
    return Manifest.load(output)


def load_cache(output: Path) -> dict[str, dict[str, int | None]]:
    """sha256 -> {encoding: variant size, or None when it was not worth keeping}."""
    try:
        data = json.loads((output / STATE_DIR / _CACHE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def reusable_variant(output: Path, path: str, encoding: str, size: int | None) -> bool:
    """A variant from an earlier build can be reused when its file is there with its size."""
    if size is None:
        return True
    try:
        return (output / (path + ENCODING_SUFFIXES[encoding])).stat().st_size == size
    except OSError:
        return False


# -- staging: content-addressed files written while the build runs ---------------------------


class Stager:
    """Writes content-addressed files as soon as they are ready, from any thread.

    ``begin(names)`` journals every name the build may create before the first write, so that
    a killed build's files are known to be ours; ``put`` writes one file atomically (temporary
    name, fsync, rename) unless it is already there; ``abort`` removes what this build wrote
    when it fails. :func:`publish` then only has to make the written files live.
    """

    def __init__(self, output: Path, previous: Manifest | None) -> None:
        self.output = output
        self.journal = output / STATE_DIR / _JOURNAL
        # Read before this build writes its own journal: was the last build killed?
        self.inherited = _journal_entries(self.journal) if self.journal.exists() else None
        self._protected = previous.files() if previous else set()
        self._lock = threading.Lock()
        self.written: set[str] = set()
        self.journaled = False

    @property
    def unfinished(self) -> bool:
        return self.inherited is not None

    def begin(self, names: Iterable[str]) -> None:
        """Journal ``names`` (with a killed build's entries, still to clean up) before writing."""
        _write_json(self.journal, sorted(set(names) | (self.inherited or set())))
        self.journaled = True

    def put(self, name: str, data: bytes) -> None:
        """Write ``output/name`` unless it is there already (same name, same size: same bytes)."""
        assert self.journaled, "Stager.begin() must journal the names before the first put()"
        target = self.output / name
        if _has_size(target, len(data)):
            return
        try:
            _write_atomic(target, data, sync_dir=False)
        except OSError as exc:
            with contextlib.suppress(OSError):
                _temporary(target).unlink()
            raise _write_error(target, exc) from None
        with self._lock:
            self.written.add(name)

    def abort(self) -> None:
        """Undo this build's writes (the build failed): files, temporaries, its journal."""
        with self._lock:
            names = set(self.written)
        _prune(self.output, names - self._protected)
        if not self.journaled:
            return
        if self.inherited is None:
            with contextlib.suppress(OSError):
                self.journal.unlink()
        else:
            with contextlib.suppress(BuildError):
                _write_json(self.journal, sorted(self.inherited))


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
    force: bool = False,
    dry_run: bool = False,
    stager: Stager | None = None,
) -> PublishResult:
    """Make ``files`` the live build, keeping what the last ``keep`` builds referenced.

    ``stager``, when given, is the one this build wrote content-addressed files through.
    """
    generation = (previous.generation + 1) if previous else 1
    assets = {f.asset.logical: _with_generation(f.asset, generation) for f in files}
    manifest = Manifest(
        assets=assets,
        retained=_retained(previous, assets, generation, keep),
        prefix=prefix,
        generation=generation,
        created=created,
    )
    journal = output / STATE_DIR / _JOURNAL
    staged = stager.written if stager else set()
    inherited = stager.inherited if stager else None
    if stager is None and journal.exists():
        inherited = _journal_entries(journal)
    unfinished = inherited is not None
    if previous and not (force or unfinished) and _same_build(previous, manifest, keep):
        if stager and stager.journaled:  # only repaired files the live manifest names
            journal.unlink()
        return PublishResult(previous, changed=False, written=len(staged))
    wanted = _all_files(manifest)
    if dry_run:
        present = previous.files() | _unhashed(previous) if previous else set()
        return PublishResult(manifest, changed=True, planned=sorted(wanted - present))
    owned = (_all_files(previous) if previous else set()) | (inherited or set())
    # Everything this build may create or prune: once the new manifest is live, the files it
    # dropped are named by no manifest, so only the journal still says they are ours.
    _write_json(journal, sorted(wanted | owned))
    written = len(staged)
    try:
        for item in files:
            written += _write_content_addressed(output, item, staged)
        for folder in {(output / name).parent for name in manifest.files()}:
            _fsync_dir(folder)  # every file the manifest names is durable before it goes live
        _write_atomic(output / MANIFEST_NAME, manifest.dumps().encode())
    except OSError as exc:
        _remove_temporaries(output, wanted)
        raise _write_error(output, exc) from None
    # The new build is live from here on: a failure must not claim that nothing was published.
    try:
        for item in files:
            _write_unhashed(output, item.asset)
        pruned = _prune(output, owned - wanted)
        if unfinished:
            _remove_temporaries(output, owned | wanted | {MANIFEST_NAME})
        _write_atomic(
            output / STATE_DIR / _CACHE,
            json.dumps(_updated_cache(cache, manifest), sort_keys=True).encode(),
        )
        journal.unlink()
    except OSError as exc:
        _remove_temporaries(output, wanted)
        raise _unfinished_error(output, generation, exc) from None
    return PublishResult(manifest, changed=True, written=written, pruned=pruned)


def _with_generation(asset: Asset, generation: int) -> Asset:
    return Asset(
        asset.logical,
        asset.path,
        asset.size,
        asset.sha256,
        asset.integrity,
        asset.encodings,
        generation,
    )


def _retained(
    previous: Manifest | None, current: Mapping[str, Asset], generation: int, keep: int
) -> dict[str, Asset]:
    """Files current in one of the ``keep - 1`` previous builds and not current now."""
    if previous is None:
        return {}
    live = {asset.path for asset in current.values()}
    kept = {}
    for asset in (*previous.retained.values(), *previous.assets.values()):
        if asset.path not in live and asset.generation > generation - keep:
            kept[asset.path] = asset
    return kept


def _same_build(previous: Manifest, new: Manifest, keep: int) -> bool:
    """Nothing to publish: same files, same prefix, and no retained file due for pruning."""
    old = {k: (a.path, a.sha256, dict(a.encodings)) for k, a in previous.assets.items()}
    now = {k: (a.path, a.sha256, dict(a.encodings)) for k, a in new.assets.items()}
    expiring = any(a.generation <= new.generation - keep for a in previous.retained.values())
    return old == now and previous.prefix == new.prefix and not expiring


def _unhashed(manifest: Manifest) -> set[str]:
    names = set()
    for asset in manifest.assets.values():
        if asset.logical != asset.path:
            names.add(asset.logical)
            names.update(asset.logical + ENCODING_SUFFIXES[e] for e in asset.encodings)
    return names


def _all_files(manifest: Manifest) -> set[str]:
    return manifest.files() | _unhashed(manifest)


def _journal_entries(journal: Path) -> set[str]:
    try:
        entries = json.loads(journal.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {e for e in entries if isinstance(e, str)} if isinstance(entries, list) else set()


def _write_content_addressed(output: Path, item: Published, staged: set[str]) -> int:
    """Write the hashed file and its variants unless this or an earlier build already did."""
    written = 0
    targets = [(item.asset.path, item.data)]
    targets += [(item.asset.variant_path(e), data) for e, data in item.variants.items()]
    for name, data in targets:
        if name in staged:
            continue
        target = output / name
        if _has_size(target, len(data)):
            continue  # content-addressed: same name, same bytes (renamed in only when complete)
        _write_atomic(target, data, sync_dir=False)
        written += 1
    return written


def _write_unhashed(output: Path, asset: Asset) -> None:
    """The file under its plain name too, for old unversioned URLs and other servers."""
    if asset.logical == asset.path:
        return
    pairs = [(asset.path, asset.logical)]
    pairs += [
        (asset.variant_path(e), asset.logical + ENCODING_SUFFIXES[e]) for e in asset.encodings
    ]
    for source, name in pairs:
        target = output / name
        try:
            os.link(output / source, target)  # a new name appears complete, atomically
            continue
        except FileExistsError:
            pass  # an earlier build's copy: replace it below
        except OSError:
            pass  # no hard links here: copied below
        with contextlib.suppress(OSError):
            if os.path.samefile(output / source, target):
                continue
        temp = _temporary(target)
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        try:
            os.link(output / source, temp)
        except OSError:  # no hard links here (another filesystem type): copy
            _write_file(temp, (output / source).read_bytes())
        os.replace(temp, target)


def _has_size(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def _temporary(target: Path) -> Path:
    return target.with_name(f".{target.name}{_TEMP_SUFFIX}")


def _write_atomic(target: Path, data: bytes, *, sync_dir: bool = True) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = _temporary(target)
    _write_file(temp, data)
    os.replace(temp, target)
    if sync_dir:
        _fsync_dir(target.parent)


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)


def _write_json(path: Path, data: object) -> None:
    try:
        _write_atomic(path, json.dumps(data, sort_keys=True).encode())
    except OSError as exc:
        raise _write_error(path, exc) from None


def _remove_temporaries(output: Path, names: set[str]) -> None:
    for name in names:
        with contextlib.suppress(OSError):
            _temporary(output / name).unlink()


def _prune(output: Path, names: set[str]) -> int:
    """Delete files that only earlier builds (or a killed build) created, then empty folders."""
    removed = 0
    for name in sorted(names):
        path = output / name
        for candidate in (path, _temporary(path)):
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed += candidate == path
    for folder in sorted({(output / n).parent for n in names}, key=lambda p: -len(p.parts)):
        while folder != output and output in folder.parents:
            try:
                folder.rmdir()  # only succeeds when empty
            except OSError:
                break
            folder = folder.parent
    return removed


def store_cache(
    output: Path, cache: Mapping[str, Mapping[str, int | None]], manifest: Manifest
) -> None:
    """Save the compression cache (entries for content still on disk only)."""
    _write_json(output / STATE_DIR / _CACHE, _updated_cache(cache, manifest))


def _updated_cache(
    cache: Mapping[str, Mapping[str, int | None]], manifest: Manifest
) -> dict[str, dict[str, int | None]]:
    """Keep cache entries only for content that is still on disk."""
    live = {a.sha256 for a in (*manifest.assets.values(), *manifest.retained.values())}
    return {sha: dict(entry) for sha, entry in cache.items() if sha in live}


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc)


def _write_error(path: Path, exc: OSError) -> BuildError:
    where = exc.filename or path
    return BuildError(
        f"cannot write {where}: {_reason(exc)}; nothing was published, "
        "the previous build is untouched"
    )


def _unfinished_error(output: Path, generation: int, exc: OSError) -> BuildError:
    where = exc.filename or output
    return BuildError(
        f"build {generation} is live, but finishing it failed: cannot write {where}: "
        f"{_reason(exc)}; fix that and build again to complete the unhashed copies and "
        "remove what earlier builds left"
    )
