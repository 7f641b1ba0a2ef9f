"""What a publish does to a bucket, decided from manifests alone (pure; no listing).

The bucket holds, besides the objects, the manifest of the build it serves (``staticserve.json``,
written after every object it names) and the publish's state (``.staticserve/publish.json``):
which build is live there, which keys a publish that did not finish may have written or was
about to delete (``pending``), and when a retained build will be old enough to go. So a publish
reads one small object to find the bucket up to date, and otherwise the live manifest: every
object that manifest names is there, and only the pending keys are unknown (one HEAD each,
before uploading them).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import ManifestError
from ..manifest import Manifest
from ..pipeline.retention import epoch_seconds, retained, still_retained, superseded_times
from .objects import BucketObject, assets_digest, hashed_objects, logical_objects

__all__ = ["Plan", "PublishState", "plan_publish"]

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class PublishState:
    """The publish's record in the bucket.

    ``digest`` is :func:`assets_digest` of the live bucket manifest once a publish finished
    (``""`` before the first); ``pending`` the keys a publish may have written, or was about to
    delete, that no finished publish accounted for; ``prune_at`` the epoch second from which a retained build is older
    than ``keep_age`` (``None``: none will be); ``keep`` and ``keep_age`` the retention it used.
    """

    digest: str = ""
    generation: int = 0
    pending: frozenset[str] = frozenset()
    keep: int = 0
    keep_age: int = 0
    prune_at: float | None = None
    max_age: int = 60  # the Cache-Control max-age the logical names were stored with

    def dumps(self) -> bytes:
        data = dataclasses.asdict(self)
        data["pending"] = sorted(self.pending)
        data["version"] = STATE_VERSION
        return json.dumps(data, sort_keys=True, indent=0).encode()

    @classmethod
    def loads(cls, data: bytes, source: str) -> PublishState:
        try:
            raw = json.loads(data)
            if raw.get("version") != STATE_VERSION:
                raise ValueError(f"unknown version {raw.get('version')!r}")
            return cls(
                digest=str(raw["digest"]),
                generation=int(raw["generation"]),
                pending=frozenset(str(k) for k in raw["pending"]),
                keep=int(raw["keep"]),
                keep_age=int(raw["keep_age"]),
                prune_at=None if raw["prune_at"] is None else float(raw["prune_at"]),
                max_age=int(raw.get("max_age", 60)),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ManifestError(
                f"{source} is not a staticserve publish state ({exc}); delete it and publish "
                "again (every object is then uploaded once more)"
            ) from None


@dataclass(frozen=True, slots=True)
class Plan:
    """One publish: upload ``hashed`` (verified ``check`` first), switch to ``manifest``
    (unless ``switch`` is false: the bucket serves it already), upload ``logical``, delete
    ``deletions``, then record ``state``. ``present`` counts the objects already there."""

    manifest: Manifest
    switch: bool
    hashed: list[BucketObject]
    logical: list[BucketObject]
    check: frozenset[str]
    deletions: list[str]
    present: int
    state: PublishState
    pending: frozenset[str] = field(default_factory=frozenset)

    @property
    def uploads(self) -> list[BucketObject]:
        return self.hashed + self.logical


def up_to_date(
    state: PublishState | None,
    local: Manifest,
    keep: int,
    keep_age: int,
    now: float,
    max_age: int = 60,
) -> bool:
    """True when the bucket serves ``local`` already, nothing is pending and nothing is due
    for pruning: the publish needs no other request."""
    return (
        state is not None
        and state.digest == assets_digest(local)
        and not state.pending
        and (state.keep, state.keep_age, state.max_age) == (keep, keep_age, max_age)
        and (state.prune_at is None or now < state.prune_at)
    )


def plan_publish(
    local: Manifest,
    live: Manifest | None,
    state: PublishState | None,
    *,
    keep: int,
    keep_age: int,
    max_age: int,
    now: str,
) -> Plan:
    """The publish of the build ``local`` over a bucket serving ``live`` (None: nothing yet)."""
    if live is not None and assets_digest(live) == assets_digest(local):
        # The bucket serves this build already (a rerun after the switch, or pruning only):
        # same generation; retention looked at again.
        manifest = _reretained(live, keep, keep_age, now)
    else:
        generation = (live.generation + 1) if live else 1
        assets = {k: dataclasses.replace(a, generation=generation) for k, a in local.assets.items()}
        kept = retained(live, assets, generation, keep, keep_age=keep_age, now=now)
        manifest = Manifest(
            assets=assets,
            retained=kept,
            prefix=local.prefix,
            generation=generation,
            created=now,
            superseded=superseded_times(live, kept, now),
        )
    pending = state.pending if state else frozenset()
    have_hashed = live.files() if live else set()
    # The logical names as stored: with the max-age of the publish that stored them.
    have_logical = _logical_contents(live, state.max_age if state else max_age) if live else {}
    wanted_hashed = hashed_objects(manifest, max_age)
    wanted_logical = logical_objects(manifest, max_age)
    hashed = [o for k, o in wanted_hashed.items() if k not in have_hashed or k in pending]
    logical = [
        o
        for k, o in wanted_logical.items()
        if have_logical.get(k) != (o.sha256, o.size, o.cache_control) or k in pending
    ]
    wanted = set(wanted_hashed) | set(wanted_logical)
    known = have_hashed | set(have_logical) | pending
    uploads = {o.key for o in (*hashed, *logical)}
    deletions = known - wanted
    return Plan(
        manifest=manifest,
        switch=live is None or manifest.dumps() != live.dumps(),
        hashed=hashed,
        logical=logical,
        check=frozenset(uploads & pending),
        deletions=sorted(deletions),
        present=len(wanted) - len(uploads),
        state=PublishState(
            digest=assets_digest(manifest),
            generation=manifest.generation,
            keep=keep,
            keep_age=keep_age,
            prune_at=_prune_at(manifest, keep, keep_age),
            max_age=max_age,
        ),
        # Once the new manifest is live, the objects it leaves out are named by no manifest:
        # only the pending record still says they are ours, until they are deleted.
        pending=pending | uploads | deletions,
    )


def _reretained(live: Manifest, keep: int, keep_age: int, now: str) -> Manifest:
    """``live`` with its retained files filtered by the retention in force ``now``."""
    kept = still_retained(live, keep, keep_age=keep_age, now=now)
    generations = {asset.generation for asset in kept.values()}
    superseded = {g: t for g, t in live.superseded.items() if g in generations}
    return dataclasses.replace(live, retained=kept, superseded=superseded)


def _logical_contents(live: Manifest, max_age: int) -> dict[str, tuple[str, int, str]]:
    return {
        k: (o.sha256, o.size, o.cache_control) for k, o in logical_objects(live, max_age).items()
    }


def _prune_at(manifest: Manifest, keep: int, keep_age: int) -> float | None:
    """The first moment a retained build of ``manifest`` is older than ``keep_age`` while the
    count alone would not keep it; None when no retained build is kept by age."""
    moments: Iterable[float | None] = (
        epoch_seconds(manifest.superseded.get(a.generation, ""))
        for a in manifest.retained.values()
        if a.generation <= manifest.generation - keep
    )
    ends = [m + keep_age for m in moments if m is not None]
    return min(ends) if ends and keep_age > 0 else None
