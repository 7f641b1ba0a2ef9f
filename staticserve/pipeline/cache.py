"""The compression cache: the variant sizes of each content hash, kept from build to build.

A build reuses an earlier build's variant when the live manifest records its file with these
sizes (publish.Stager.holds), and does not try again an encoding recorded as not worth keeping
(a None size).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from ..manifest import Manifest
from .atomic import write_atomic
from .output_dir import STATE_DIR

__all__ = ["load_cache", "write_cache"]

_CACHE = "cache.json"


def load_cache(output: Path) -> dict[str, dict[str, int | None]]:
    """sha256 -> {encoding: variant size, or None when it was not worth keeping}."""
    try:
        data = json.loads(_cache_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_cache(
    output: Path, cache: Mapping[str, Mapping[str, int | None]], manifest: Manifest
) -> None:
    """Save the cache's entries for content still on disk; raises the OSError of a failure."""
    data = json.dumps(_updated_cache(cache, manifest), sort_keys=True).encode()
    write_atomic(_cache_path(output), data)


def _cache_path(output: Path) -> Path:
    return output / STATE_DIR / _CACHE


def _updated_cache(
    cache: Mapping[str, Mapping[str, int | None]], manifest: Manifest
) -> dict[str, dict[str, int | None]]:
    """Keep cache entries only for content that is still on disk."""
    live = {a.sha256 for a in (*manifest.assets.values(), *manifest.retained.values())}
    return {sha: dict(entry) for sha, entry in cache.items() if sha in live}
