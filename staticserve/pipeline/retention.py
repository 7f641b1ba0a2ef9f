"""Which earlier builds' files stay: those of the last ``keep`` builds, and of every build that
was live within the last ``keep_age`` seconds; older ones are pruned.

Pure decisions over manifests, so that a page still open from a recent build keeps loading its
files; publish.py deletes what falls out on disk, and ``staticserve publish`` in a bucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

from ..manifest import ENCODING_SUFFIXES, Asset, Manifest

__all__ = [
    "due_for_pruning",
    "epoch_seconds",
    "files_on_disk",
    "retained",
    "still_retained",
    "superseded_times",
    "unhashed_names",
]


def retained(
    previous: Manifest | None,
    current: Mapping[str, Asset],
    generation: int,
    keep: int,
    *,
    keep_age: int = 0,
    now: str = "",
) -> dict[str, Asset]:
    """Files current in one of the ``keep - 1`` previous builds, or in a build that stopped
    being live less than ``keep_age`` seconds before ``now`` (the new build's time), and not
    current now."""
    if previous is None:
        return {}
    live = {asset.path for asset in current.values()}
    times = _superseded_with(previous, now)
    kept = {}
    for asset in (*previous.retained.values(), *previous.assets.values()):
        if asset.path not in live and _keeps(asset, generation, keep, keep_age, times, now):
            kept[asset.path] = asset
    return kept


def still_retained(manifest: Manifest, keep: int, *, keep_age: int, now: str) -> dict[str, Asset]:
    """The files ``manifest`` retains that the same build keeps at ``now`` (its generation
    unchanged: pruning that is only due to time, or to a smaller ``keep``)."""
    return {
        path: asset
        for path, asset in manifest.retained.items()
        if _keeps(asset, manifest.generation, keep, keep_age, manifest.superseded, now)
    }


def superseded_times(
    previous: Manifest | None, kept: Mapping[str, Asset], now: str
) -> dict[int, str]:
    """When each generation that ``kept`` holds files of stopped being live (the new manifest's
    ``superseded``): the previous build at ``now``, earlier ones as the previous manifest says."""
    if previous is None:
        return {}
    times = _superseded_with(previous, now)
    return {g: times[g] for g in sorted({a.generation for a in kept.values()}) if g in times}


def due_for_pruning(
    previous: Manifest, generation: int, keep: int, *, keep_age: int = 0, now: str = ""
) -> bool:
    """True when a file ``previous`` retains is neither of the ``keep`` builds up to
    ``generation`` nor of a build live within ``keep_age`` seconds of ``now``, so that
    publishing must prune it."""
    times = _superseded_with(previous, now)
    return any(
        not _keeps(a, generation, keep, keep_age, times, now) for a in previous.retained.values()
    )


def _superseded_with(previous: Manifest, now: str) -> dict[int, str]:
    times = dict(previous.superseded)
    times[previous.generation] = now  # the build being replaced stops being live now
    return times


def _keeps(
    asset: Asset, generation: int, keep: int, keep_age: int, times: Mapping[int, str], now: str
) -> bool:
    if asset.generation > generation - keep:
        return True
    if keep_age <= 0:
        return False
    ended, current = epoch_seconds(times.get(asset.generation, "")), epoch_seconds(now)
    # A manifest written before keep_age existed has no time for its builds: kept by count only.
    return ended is not None and current is not None and current - ended < keep_age


def epoch_seconds(moment: str) -> float | None:
    """An ISO 8601 UTC time (``2026-11-25T09:36:26Z``) as epoch seconds; None when it is not one."""
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def unhashed_names(manifest: Manifest) -> set[str]:
    """The plain-name copies of the manifest's files (and of their variants)."""
    names = set()
    for asset in manifest.assets.values():
        if asset.logical != asset.path:
            names.add(asset.logical)
            names.update(asset.logical + ENCODING_SUFFIXES[e] for e in asset.encodings)
    return names


def files_on_disk(manifest: Manifest) -> set[str]:
    """Every name a build with this manifest puts in the output (the manifest itself aside)."""
    return manifest.files() | unhashed_names(manifest)
