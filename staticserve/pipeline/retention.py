"""Which earlier builds' files stay: those of the last ``keep`` builds; older ones are pruned.

Pure decisions over manifests, so that a page still open from a recent build keeps loading its
files; publish.py deletes what falls out.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..manifest import ENCODING_SUFFIXES, Asset, Manifest

__all__ = ["due_for_pruning", "files_on_disk", "retained", "unhashed_names"]


def retained(
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


def due_for_pruning(previous: Manifest, generation: int, keep: int) -> bool:
    """True when a file ``previous`` retains is older than the ``keep`` builds up to
    ``generation``, so that publishing must prune it."""
    return any(a.generation <= generation - keep for a in previous.retained.values())


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
