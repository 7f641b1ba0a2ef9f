"""What a build is in a bucket: one object per file the middleware serves, with its fields.

Pure: a manifest in, object records out. The fields are the middleware's own, from the same
rules (``core.content_types`` and ``core.resource``'s cache policies): a hashed name is
``immutable`` for a year with an Expires a year ahead, a logical name is short-lived; every
precompressed variant is an object of its own (``css/app.3f2a9c1d7e4b.css.br``) with its
``Content-Encoding``, so that a CDN or an edge rule picks it by ``Accept-Encoding``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ..core.content_types import content_type_for
from ..core.resource import IDENTITY, IMMUTABLE, CachePolicy
from ..manifest import ENCODING_SUFFIXES, MANIFEST_NAME, Asset, Manifest

__all__ = [
    "STATE_KEY",
    "BucketObject",
    "assets_digest",
    "hashed_objects",
    "logical_objects",
]

# The publish's own record in the bucket, beside the manifest (the build reserves the name
# ``.staticserve/`` at the output root, so no asset can take it).
STATE_KEY = ".staticserve/publish.json"
RESERVED_KEYS = frozenset({MANIFEST_NAME, STATE_KEY})


@dataclass(frozen=True, slots=True)
class BucketObject:
    """One object to store: ``key`` (below the bucket prefix) holds the output file ``source``.

    ``sha256`` is the content hash of the identity file of the asset; for the identity object
    it is the hash of these very bytes, for a variant the asset's (variants carry their size).
    """

    key: str
    source: str
    size: int
    sha256: str
    content_type: str
    cache_control: str
    content_encoding: str | None
    immutable: bool

    @property
    def attributes(self) -> dict[str, str]:
        """The object's stored fields, as the client library names them."""
        fields = {"Content-Type": self.content_type, "Cache-Control": self.cache_control}
        if self.content_encoding is not None:
            fields["Content-Encoding"] = self.content_encoding
        return fields


def _forms(asset: Asset) -> Iterator[tuple[str, str, int]]:
    """(coding, suffix, size) of the identity file and of each variant, identity first."""
    yield IDENTITY, "", asset.size
    for coding, size in sorted(asset.encodings.items()):
        yield coding, ENCODING_SUFFIXES[coding], size


def _objects(asset: Asset, name: str, policy: CachePolicy) -> Iterator[BucketObject]:
    content_type = content_type_for(asset.logical).decode("ascii")
    for coding, suffix, size in _forms(asset):
        yield BucketObject(
            key=name + suffix,
            source=asset.path + suffix,
            size=size,
            sha256=asset.sha256,
            content_type=content_type,
            cache_control=policy.cache_control.decode("ascii"),
            content_encoding=None if coding == IDENTITY else coding,
            immutable=policy.expires_after is not None,
        )


def hashed_objects(manifest: Manifest, max_age: int) -> dict[str, BucketObject]:
    """The objects under the content-addressed names of the manifest's files (and variants):
    the current files first, then the retained files of earlier builds.

    As the catalog serves them: immutable when the name carries the content hash (a name kept
    as the logical one is not, unless it carries the hash), retained files always."""
    found: dict[str, BucketObject] = {}
    for asset in manifest.retained.values():
        found.update((o.key, o) for o in _objects(asset, asset.path, IMMUTABLE))
    short = CachePolicy.short(max_age)
    for asset in manifest.assets.values():
        policy = IMMUTABLE if asset.hashed else short
        found.update((o.key, o) for o in _objects(asset, asset.path, policy))
    return {key: found[key] for key in sorted(found) if key not in RESERVED_KEYS}


def logical_objects(manifest: Manifest, max_age: int) -> dict[str, BucketObject]:
    """The objects under the logical names (``css/app.css`` and its variants): the current
    build's bytes, short-lived, replaced by each publish that changes them."""
    short = CachePolicy.short(max_age)
    found: dict[str, BucketObject] = {}
    for logical, asset in manifest.assets.items():
        if logical != asset.path:
            found.update((o.key, o) for o in _objects(asset, logical, short))
    return {key: found[key] for key in sorted(found) if key not in RESERVED_KEYS}


def assets_digest(manifest: Manifest) -> str:
    """A hash of what the build serves (prefix and current files), not of its history: a
    build and the bucket's copy of it (other generations, other retained files) agree."""
    assets: Mapping[str, object] = {
        logical: (a.path, a.size, a.sha256, a.integrity, sorted(a.encodings.items()), a.hashed)
        for logical, a in sorted(manifest.assets.items())
    }
    text = json.dumps([manifest.prefix, assets], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
