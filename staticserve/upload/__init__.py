"""``staticserve.publish()``: a build's output uploaded to object storage, driven by its manifest.

The order keeps the bucket whole at every moment: the publish's state first records which keys
it may write (so that a killed publish's objects are found and not uploaded twice), then the
content-addressed objects, then the manifest (the switch), then the logical names (replaced, as
the build replaces its plain-named copies after its switch), then the objects that only builds
past retention used are deleted, and the state records the finished publish. A publish killed
at any point leaves the bucket serving the previous build completely; the next one finishes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from ..core.headers import format_http_date
from ..core.resource import ONE_YEAR
from ..errors import ConfigError, ManifestError
from ..manifest import MANIFEST_NAME, Manifest
from ..pipeline.config import BuildConfig, load_config
from .objects import STATE_KEY, BucketObject
from .plan import Plan, PublishState, plan_publish, up_to_date
from .store import ASSET_METADATA, Bucket, PublishError, StaleState, parse_target

__all__ = ["PublishError", "PublishReport", "StaleState", "publish"]

Progress = Callable[[str, int, int], None]
T = TypeVar("T")
STREAMED = 8 * 1024 * 1024  # larger files are hashed in chunks and uploaded from the disk
CHUNK = 1024 * 1024
MANIFEST_FIELDS = {"Content-Type": "application/json", "Cache-Control": "no-cache"}
STATE_FIELDS = {"Content-Type": "application/json", "Cache-Control": "no-store"}


@dataclass(frozen=True, slots=True)
class PublishReport:
    """What a publish did (or, with ``dry_run``, would do)."""

    url: str
    output: Path
    generation: int
    changed: bool
    uploaded: int
    uploaded_bytes: int
    present: int
    deleted: int
    checked: int
    seconds: float
    dry_run: bool = False
    planned: tuple[str, ...] = ()
    planned_deletions: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "output": str(self.output),
            "generation": self.generation,
            "changed": self.changed,
            "uploaded": self.uploaded,
            "uploaded_bytes": self.uploaded_bytes,
            "already_there": self.present,
            "deleted": self.deleted,
            "checked": self.checked,
            "seconds": round(self.seconds, 3),
            "dry_run": self.dry_run,
            "planned": list(self.planned),
            "planned_deletions": list(self.planned_deletions),
        }


def publish(
    url: str,
    config: str | os.PathLike[str] | BuildConfig | None = None,
    *,
    output: str | os.PathLike[str] | None = None,
    keep: int | None = None,
    keep_age: int | str | None = None,
    max_age: int = 60,
    endpoint_url: str | None = None,
    region: str | None = None,
    connections: int = 16,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> PublishReport:
    """Upload the build in ``output`` to the bucket at ``url`` (``s3://bucket/prefix``,
    ``az://container/prefix``, ``gs://bucket/prefix``).

    ``output``, ``keep`` and ``keep_age`` default to ``[tool.staticserve]`` of ``config`` (a
    TOML file; ``./pyproject.toml`` by default) and are checked as ``build()`` checks them.
    ``max_age`` is the Cache-Control max-age of the logical names (the middleware's option of
    the same name). ``endpoint_url`` and ``region`` default to the environment's
    (``AWS_ENDPOINT_URL``, ``AWS_REGION``; for Azure ``AZURE_STORAGE_ENDPOINT``, the
    account's blob endpoint, and no region). At most ``connections`` requests run at once.
    """
    started = time.monotonic()
    settings = config if isinstance(config, BuildConfig) else load_config(config)
    overrides: dict[str, Any] = {"keep": keep, "keep_age": keep_age}
    if output is not None:
        overrides["output"] = Path(os.fspath(output)).absolute()
    settings = settings.with_overrides(**overrides)
    for name, value, least in (("max_age", max_age, 0), ("connections", connections, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ConfigError(f"{name}: must be a whole number, at least {least}, got {value!r}")
    target = parse_target(url)
    now = time.time()
    bucket = Bucket(
        target,
        endpoint_url=endpoint_url,
        region=region,
        expires=format_http_date(int(now) + ONE_YEAR).decode("ascii"),
        connections=connections,
    )
    run = _Run(bucket, settings, max_age, connections, progress, now)
    try:
        report = asyncio.run(run.publish(dry_run))
    finally:
        bucket.close()
    return _timed(report, time.monotonic() - started)


def _timed(report: PublishReport, seconds: float) -> PublishReport:
    from dataclasses import replace

    return replace(report, seconds=seconds)


class _Run:
    def __init__(
        self,
        bucket: Bucket,
        settings: BuildConfig,
        max_age: int,
        connections: int,
        progress: Progress | None,
        now: float,
    ) -> None:
        self.bucket = bucket
        self.output = settings.output_dir
        self.keep, self.keep_age = settings.keep, settings.keep_age
        self.max_age = max_age
        self.limit = asyncio.Semaphore(connections) if connections else None
        self.connections = connections
        self.progress = progress
        self.now = now
        self.created = datetime.fromtimestamp(int(now), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _report(self, generation: int, **counts: Any) -> PublishReport:
        base: dict[str, Any] = {
            "url": str(self.bucket.target),
            "output": self.output,
            "generation": generation,
            "changed": False,
            "uploaded": 0,
            "uploaded_bytes": 0,
            "present": 0,
            "deleted": 0,
            "checked": 0,
            "seconds": 0.0,
        }
        return PublishReport(**{**base, **counts})

    async def publish(self, dry_run: bool) -> PublishReport:
        local = Manifest.load(self.output)
        found = await self.bucket.get(STATE_KEY)
        state = PublishState.loads(found[0], self.bucket.target.name(STATE_KEY)) if found else None
        state_tag = found[1] if found else None
        if up_to_date(state, local, self.keep, self.keep_age, self.now, self.max_age):
            assert state is not None
            every = len(_every_key(local, self.max_age))
            return self._report(state.generation, present=every, dry_run=dry_run)
        live_found = await self.bucket.get(MANIFEST_NAME)
        live_tag = live_found[1] if live_found else None
        live = None
        if live_found:
            try:
                live = Manifest.loads(live_found[0], source=self.bucket.target.name(MANIFEST_NAME))
            except ManifestError as exc:
                raise PublishError(f"{exc}; delete it to publish this build afresh") from None
        plan = plan_publish(
            local,
            live,
            state,
            keep=self.keep,
            keep_age=self.keep_age,
            max_age=self.max_age,
            now=self.created,
        )
        if dry_run:
            return self._report(
                plan.manifest.generation,
                changed=bool(plan.uploads or plan.deletions or plan.switch),
                present=plan.present,
                dry_run=True,
                planned=tuple(o.key for o in plan.uploads),
                planned_deletions=tuple(plan.deletions),
                uploaded_bytes=sum(o.size for o in plan.uploads),
            )
        return await self._apply(plan, state, state_tag, live_tag)

    async def _apply(
        self,
        plan: Plan,
        state: PublishState | None,
        state_tag: str | None,
        live_tag: str | None,
    ) -> PublishReport:
        confirmed = await self._confirm(plan)
        hashed = [o for o in plan.hashed if o.key not in confirmed]
        logical = [o for o in plan.logical if o.key not in confirmed]
        for item in (*hashed, *logical):  # the build's files as its manifest describes them
            self._check_source(item)
        tag = state_tag
        if hashed or logical or plan.switch or plan.deletions:
            # What this publish may write, recorded before the first write: a publish killed
            # from here on left objects that the next one finds (and does not upload again).
            journal = PublishState(
                digest=state.digest if state else "",
                generation=state.generation if state else 0,
                pending=plan.pending,
                keep=self.keep,
                keep_age=self.keep_age,
                prune_at=state.prune_at if state else None,
                max_age=state.max_age if state else self.max_age,
            )
            tag = await self._put_state(journal, tag, creating=state is None)
            state = journal
        total = len(hashed) + len(logical)
        done = [0]
        await self._upload_all(hashed, done, total)
        if plan.switch:
            data = plan.manifest.dumps().encode()
            # Only over the manifest this plan was made from: a publish that switched since
            # (and may have deleted what this one uploaded) makes this one stop here.
            await self.bucket.put(
                MANIFEST_NAME,
                data,
                dict(MANIFEST_FIELDS),
                replacing=live_tag,
                creating=live_tag is None,
            )
        await self._upload_all(logical, done, total)
        await self.bucket.delete(plan.deletions)
        await self._put_state(plan.state, tag, creating=state is None)
        return self._report(
            plan.manifest.generation,
            changed=True,
            uploaded=total,
            uploaded_bytes=sum(o.size for o in (*hashed, *logical)),
            present=plan.present + len(confirmed),
            deleted=len(plan.deletions),
            checked=len(plan.check),
        )

    async def _put_state(self, state: PublishState, tag: str | None, *, creating: bool) -> str:
        return await self.bucket.put(
            STATE_KEY, state.dumps(), dict(STATE_FIELDS), replacing=tag, creating=creating
        )

    async def _confirm(self, plan: Plan) -> set[str]:
        """The keys a killed publish may have written that are there with the right bytes."""
        objects = {o.key: o for o in plan.uploads if o.key in plan.check}

        async def check(item: BucketObject) -> str | None:
            found = await self._bounded(lambda: self.bucket.head(item.key))
            if found is None or found[0] != item.size:
                return None
            if item.key == item.source:  # a content-addressed name: its size tells enough
                return item.key
            # A logical name holds whichever build's bytes were put last: the asset's hash that
            # the publish stores with it says which (Azure's ETags are opaque). Objects stored
            # without it: the MD5 that S3-compatible stores give as the ETag of an object
            # uploaded in one piece.
            if found[2]:
                return item.key if found[2] == item.sha256 else None
            digest = hashlib.md5(self._read(item), usedforsecurity=False).hexdigest()
            return item.key if found[1].strip('"') == digest else None

        results = await asyncio.gather(*(check(o) for o in objects.values()))
        return {key for key in results if key is not None}

    async def _upload_all(self, items: list[BucketObject], done: list[int], total: int) -> None:
        async def one(item: BucketObject) -> None:
            data: bytes | Path = (
                self.output / item.source if item.size > STREAMED else self._read(item)
            )
            attributes = item.attributes
            if item.key != item.source:  # a logical name: which asset's bytes it holds
                attributes[ASSET_METADATA] = item.sha256
            await self._bounded(
                lambda: self.bucket.put(item.key, data, attributes, immutable=item.immutable)
            )
            done[0] += 1
            if self.progress:
                self.progress("upload", done[0], total)

        await _gather_all(one(item) for item in items)

    async def _bounded(self, work: Callable[[], Awaitable[T]]) -> T:
        """``work()`` once a connection is free: the request is made only then, so one
        cancelled while it waits (a failure elsewhere, Ctrl-C) leaves no coroutine unawaited."""
        if self.limit is None:
            return await work()
        async with self.limit:
            return await work()

    def _read(self, item: BucketObject) -> bytes:
        try:
            return (self.output / item.source).read_bytes()
        except OSError as exc:
            raise PublishError(
                f"cannot read {self.output / item.source}: {exc.strerror}; run "
                "`staticserve build` again"
            ) from None

    def _check_source(self, item: BucketObject) -> None:
        """The file holds what the manifest promises (its size; for the identity file, its
        sha256 too), so no object is ever stored under a name its bytes do not match."""
        path = self.output / item.source
        try:
            size = path.stat().st_size
            digest = _sha256(path) if item.content_encoding is None else item.sha256
        except OSError as exc:
            raise PublishError(
                f"cannot read {path}: {exc.strerror}; run `staticserve build` again"
            ) from None
        if size != item.size or digest != item.sha256:
            raise PublishError(
                f"{path} does not hold the bytes the manifest records (changed since the "
                "build?); run `staticserve build` again, then publish"
            )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _every_key(manifest: Manifest, max_age: int) -> set[str]:
    from .objects import hashed_objects, logical_objects

    return set(hashed_objects(manifest, max_age)) | set(logical_objects(manifest, max_age))


async def _gather_all(works: Iterable[Awaitable[None]]) -> None:
    """Run ``works`` together; on the first failure cancel the others and raise it."""
    tasks = [asyncio.ensure_future(w) for w in works]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
