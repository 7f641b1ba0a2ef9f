"""The manifest (``staticserve.json``): the only contract between the build and the server.

Pure records and JSON conversion; ``load``/``save`` helpers are the only I/O here.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

from .errors import ManifestError
from .fingerprinted import carries_own_hash

__all__ = [
    "ENCODING_SUFFIXES",
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "NEW_BUILD_CHECK_INTERVAL",
    "Asset",
    "Manifest",
    "split_reference",
]

MANIFEST_NAME = "staticserve.json"
MANIFEST_VERSION = 1

# Content-coding token -> file suffix of the precompressed variant (the conventional ones).
ENCODING_SUFFIXES: Mapping[str, str] = MappingProxyType(
    {"br": ".br", "gzip": ".gz", "zstd": ".zst"}
)


# The deploy contract between a build and the servers of its output. A server that gets a request
# under its prefix for a URL it does not know looks for a newly published manifest (one stat),
# at most once in this many seconds however many such requests arrive; a build that publishes
# a manifest returns no sooner than this after the manifest went live. So any request made
# after the build returned comes more than this long after the server's last look that could
# have missed the new manifest, and looks again: the new build's URLs are served from the
# moment the build command returns, while a flood of unknown URLs costs 20 stats a second.
NEW_BUILD_CHECK_INTERVAL = 0.05


def split_reference(
    reference: str, is_file: Callable[[str], bool] | None = None
) -> tuple[str, str]:
    """A page's reference to a file as its logical path and the ``?query#fragment`` after it.

    ``"/icons.svg#home"`` -> ``("icons.svg", "#home")``. As in any URL (RFC 3986 §3), the first
    ``?`` or ``#`` ends the path; the suffix is kept as written, as Django's ``{% static %}``
    keeps it (the ``?#iefix`` of old font CSS included). A file whose own name holds a ``?`` or
    ``#`` (``is_file`` says which names are files) is named whole: it can be addressed no other way.
    """
    whole = reference.lstrip("/")
    if is_file is not None and is_file(whole):
        return whole, ""
    end = len(reference)
    for mark in "?#":
        found = reference.find(mark, 0, end)
        if found >= 0:
            end = found
    return reference[:end].lstrip("/"), reference[end:]


def is_relative_path(name: object) -> bool:
    """True for a ``/``-separated relative path: not empty, no empty, ``.`` or ``..`` part, no
    backslash or NUL (checked with a few string searches: a build makes an Asset per file)."""
    if not isinstance(name, str) or not name or "\\" in name or "\0" in name:
        return False
    if name[0] == "/" or name[-1] == "/" or "//" in name:
        return False  # an empty part
    if "." in name:
        framed = f"/{name}/"
        return "/./" not in framed and "/../" not in framed
    return True


@dataclass(frozen=True, slots=True)
class Asset:
    """One built file: ``path`` (relative to the output root) holds the bytes of ``logical``."""

    logical: str
    path: str
    size: int
    sha256: str
    integrity: str
    encodings: Mapping[str, int] = field(default_factory=dict)
    generation: int = 0
    # The build kept the name (path == logical) because it carries a content hash already.
    fingerprinted: bool = False

    def __post_init__(self) -> None:
        for name in (self.logical, self.path):
            if not is_relative_path(name):
                raise ManifestError(f"invalid path {name!r} in manifest")
        if self.size < 0:
            raise ManifestError(f"negative size for {self.logical!r} in manifest")
        if not self.encodings.keys() <= ENCODING_SUFFIXES.keys():
            unknown = sorted(set(self.encodings) - set(ENCODING_SUFFIXES))[0]
            raise ManifestError(f"unknown encoding {unknown!r} for {self.logical!r}")

    @property
    def hashed(self) -> bool:
        """True when the file's name carries its content hash (cacheable forever): the build
        renamed it, or kept its name as hashed already, or (manifests written before the flag)
        the name carries the sha256 of these very bytes."""
        return (
            self.path != self.logical
            or self.fingerprinted
            or carries_own_hash(self.path, self.sha256)
        )

    def variant_path(self, encoding: str) -> str:
        return self.path + ENCODING_SUFFIXES[encoding]

    def to_json(self, *, with_logical: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "integrity": self.integrity,
            "encodings": dict(sorted(self.encodings.items())),
            "generation": self.generation,
        }
        if with_logical:
            data["logical"] = self.logical
        if self.fingerprinted:  # only then: manifests without kept names stay as they were
            data["fingerprinted"] = True
        return data

    @classmethod
    def from_json(cls, logical: str, data: Mapping[str, Any]) -> Asset:
        try:
            encodings = data.get("encodings", {})
            return cls(
                logical=str(logical),
                path=_str(data["path"]),
                size=_int(data["size"]),
                sha256=_str(data["sha256"]),
                integrity=_str(data["integrity"]),
                encodings={_str(k): _int(v) for k, v in encodings.items()},
                generation=_int(data.get("generation", 0)),
                fingerprinted=_bool(data.get("fingerprinted", False)),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ManifestError(f"malformed manifest entry for {logical!r}: {exc}") from None


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Manifest:
    """What one build published.

    ``assets`` maps each logical path to its current file; ``retained`` maps the hashed paths of
    earlier builds' files that are still on disk (so that cached pages keep loading) to their records.
    """

    assets: Mapping[str, Asset]
    retained: Mapping[str, Asset] = field(default_factory=dict)
    prefix: str = "/static/"
    generation: int = 1
    created: str = ""
    # Generation -> UTC time (ISO 8601) at which that earlier build stopped being the live one,
    # for the generations whose files ``retained`` still holds: how ``keep_age`` measures a
    # build's age (a page rendered while it was live may ask for its files until then and later).
    superseded: Mapping[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.prefix.startswith("/") or not self.prefix.endswith("/"):
            raise ManifestError(f"URL prefix {self.prefix!r} must start and end with '/'")

    # -- lookups -------------------------------------------------------------------------------

    def static_url(self, logical: str) -> str:
        """The hashed URL of ``logical``, e.g. ``/static/css/app.3f2a9c1d7e4b.css``.

        Characters that need it are percent-encoded (``my logo.png`` -> ``my%20logo.…png``);
        a ``?query`` or ``#fragment`` after the path is kept (``icons.svg#home``).
        """
        path, suffix = split_reference(logical, self.assets.__contains__)
        return self.prefix + quote(self._asset(path).path) + suffix

    url = static_url

    def integrity(self, logical: str) -> str:
        """The Subresource Integrity value (``sha384-…``) of ``logical`` (a suffix is ignored)."""
        return self._asset(split_reference(logical, self.assets.__contains__)[0]).integrity

    def _asset(self, logical: str) -> Asset:
        try:
            return self.assets[logical]
        except KeyError:
            raise KeyError(
                f"{logical!r} is not in the manifest; is it in a source folder?"
            ) from None

    def files(self) -> set[str]:
        """Every file (relative to the root) that this manifest needs on disk."""
        names: set[str] = set()
        for asset in (*self.assets.values(), *self.retained.values()):
            names.add(asset.path)
            names.update(asset.variant_path(encoding) for encoding in asset.encodings)
        return names

    # -- JSON ----------------------------------------------------------------------------------

    @property
    def content_hash(self) -> str:
        """A hash of everything but the creation time: equal builds have equal hashes."""
        return _hash_of(self._body())

    def _body(self) -> dict[str, Any]:
        return {
            "version": MANIFEST_VERSION,
            "prefix": self.prefix,
            "generation": self.generation,
            "assets": {k: a.to_json() for k, a in sorted(self.assets.items())},
            "retained": {k: a.to_json(with_logical=True) for k, a in sorted(self.retained.items())},
        }

    def dumps(self) -> str:
        body = self._body()  # built once: the content hash is of it, before the times join it
        content_hash = _hash_of(body)
        body["created"] = self.created
        if self.superseded:  # like created, a time: not part of the content hash
            body["superseded"] = {str(g): t for g, t in sorted(self.superseded.items())}
        body["content_hash"] = content_hash
        return _document(body)

    @classmethod
    def loads(cls, text: str | bytes, *, source: str = MANIFEST_NAME) -> Manifest:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{source} is not valid JSON ({exc}): {_CORRUPT}") from None
        if not isinstance(data, dict):
            raise ManifestError(f"{source} is not a staticserve manifest: {_CORRUPT}")
        version = data.get("version")
        if version != MANIFEST_VERSION:
            raise ManifestError(
                f"{source} has manifest version {version!r}; this staticserve reads version "
                f"{MANIFEST_VERSION}: build with the staticserve version that serves it, or "
                "run `staticserve build --clear` to rebuild the output from scratch with this one"
            )
        try:
            assets = {k: Asset.from_json(k, v) for k, v in data["assets"].items()}
            retained = {
                k: Asset.from_json(_str(v["logical"]), v)
                for k, v in data.get("retained", {}).items()
            }
            return cls(
                assets=assets,
                retained=retained,
                prefix=_str(data.get("prefix", "/static/")),
                generation=_int(data.get("generation", 1)),
                created=_str(data.get("created", "")),
                superseded={int(_str(g)): _str(t) for g, t in data.get("superseded", {}).items()},
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ManifestError(f"{source} is malformed ({exc}): {_CORRUPT}") from None

    @classmethod
    def load(cls, root: str | os.PathLike[str]) -> Manifest:
        """Read ``staticserve.json`` from a build's output directory."""
        path = Path(root) / MANIFEST_NAME
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            raise ManifestError(
                f"no manifest at {path}: run `staticserve build` to create it"
            ) from None
        except OSError as exc:
            raise ManifestError(f"cannot read {path}: {exc.strerror}") from None
        return cls.loads(text, source=str(path))


# The way out of a corrupt manifest: a plain rebuild reads the manifest first and would stop
# at the same error, --clear rebuilds without it.
_CORRUPT = "it is corrupt; run `staticserve build --clear` to rebuild the output from scratch"


def _hash_of(body: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(body).encode()).hexdigest()


def _document(body: dict[str, Any]) -> str:
    """The manifest's text: its keys sorted, one to a line, and one line to an asset (a diff or
    a grep shows whole records). Each line is encoded in one call to the json module's C
    encoder: the indenting encoder is pure Python, and took a tenth of a warm build."""
    lines = []
    for key in sorted(body):
        value = body[key]
        if key in _RECORDS and value:
            rows = ",\n".join(f"  {_line(name)}: {_line(record)}" for name, record in value.items())
            lines.append(f" {_line(key)}: {{\n{rows}\n }}")
        else:
            lines.append(f" {_line(key)}: {_line(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


_RECORDS = frozenset({"assets", "retained"})  # name -> asset, sorted by name already


def _line(data: Any) -> str:
    return _LINE.encode(data)


# One encoder for every line: json.dumps with options makes a new one at each call, which cost
# half of the time of a line.
_LINE = json.JSONEncoder(sort_keys=True, separators=(", ", ": "), ensure_ascii=False)


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
