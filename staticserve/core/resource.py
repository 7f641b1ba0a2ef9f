"""What the core serves: a resource with its representations and header blocks prepared once.

The catalog (or any other lookup) describes a file with plain facts; :func:`build_resource`
turns them into header blocks for every status the core can answer, so a request only picks
one and appends what depends on the clock or the range.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from .headers import format_http_date
from .response import Body, FileSlice, Header, ResponsePlan

__all__ = [
    "IDENTITY",
    "IMMUTABLE",
    "ONE_YEAR",
    "Body",
    "CachePolicy",
    "DatedPlans",
    "FileSlice",
    "Header",
    "Plans",
    "Representation",
    "Resource",
    "VariantSource",
    "build_resource",
    "merge_vary",
]

IDENTITY = "identity"
ONE_YEAR = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """Cache-Control for a URL, and how far ahead Expires lies (None: no Expires)."""

    cache_control: bytes
    expires_after: int | None = None

    @classmethod
    def short(cls, max_age: int) -> CachePolicy:
        """A name whose content may change with the next deploy (a logical name)."""
        return cls(b"public, max-age=%d" % max_age)


# A content-hashed name never changes content. Expires serves HTTP/1.0 caches and CDNs that
# ignore Cache-Control (RFC 9111 §5.3: Cache-Control max-age takes precedence where understood).
IMMUTABLE = CachePolicy(b"public, max-age=%d, immutable" % ONE_YEAR, ONE_YEAR)


@dataclass(frozen=True, slots=True)
class VariantSource:
    """One stored form of a file: its coding, opaque ETag text, length and body."""

    coding: str
    tag: str
    length: int
    body: Body

    def __post_init__(self) -> None:
        if not self.tag or not all((c.isascii() and c.isalnum()) or c in "-._" for c in self.tag):
            raise ValueError(f"entity tag text {self.tag!r} must be letters, digits, '-', '.', '_'")
        actual = len(self.body) if isinstance(self.body, bytes) else self.body.length
        if actual != self.length:
            raise ValueError(f"{self.coding} body has {actual} bytes, expected {self.length}")


class Plans(NamedTuple):
    """The prepared answers of one representation at one second (``now``; 0 when undated)."""

    now: int
    ok: ResponsePlan  # the 200 to a GET
    head: ResponsePlan  # the 200 to a HEAD
    not_modified: ResponsePlan  # the 304


class DatedPlans:
    """The plans of a representation with an Expires field, remade once a second.

    The only mutable state in the core: a cache whose value is swapped whole, so a reader in
    another thread sees either the previous second's plans or the new ones.
    """

    __slots__ = ("_body", "_headers", "_not_modified", "value")

    def __init__(
        self, headers: tuple[Header, ...], not_modified: tuple[Header, ...], body: Body
    ) -> None:
        self._headers = headers
        self._not_modified = not_modified
        self._body = body
        self.value: Plans | None = None

    def at(self, now: int, expires_after: int) -> Plans:
        """The plans with ``Expires: now + expires_after``."""
        value = self.value
        if value is None or value.now != now:
            expires = (b"expires", format_http_date(now + expires_after))
            headers = (*self._headers, expires)
            value = Plans(
                now,
                ResponsePlan(200, headers, self._body),
                ResponsePlan(200, headers, b""),
                ResponsePlan(304, (*self._not_modified, expires), b""),
            )
            self.value = value
        return value


@dataclass(frozen=True, slots=True)
class Representation:
    """A variant ready to send: its strong ETag, header blocks and prepared plans.

    ``plans`` holds the complete 200 and 304 answers when the resource sends no Expires;
    otherwise ``dated`` makes them once a second. ``precondition_failed`` is the 412, the same
    at every second (it carries no Expires: it is never to be stored).
    """

    coding: str
    etag: bytes
    length: int
    body: Body
    headers: tuple[Header, ...]
    not_modified_headers: tuple[Header, ...]
    precondition_failed_headers: tuple[Header, ...]
    plans: Plans = field(init=False, repr=False, compare=False)
    dated: DatedPlans = field(init=False, repr=False, compare=False)
    precondition_failed: ResponsePlan = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        failed = ResponsePlan(412, self.precondition_failed_headers, b"")
        object.__setattr__(self, "precondition_failed", failed)
        plans = Plans(
            0,
            ResponsePlan(200, self.headers, self.body),
            ResponsePlan(200, self.headers, b""),
            ResponsePlan(304, self.not_modified_headers, b""),
        )
        object.__setattr__(self, "plans", plans)
        object.__setattr__(
            self, "dated", DatedPlans(self.headers, self.not_modified_headers, self.body)
        )

    @property
    def ok(self) -> ResponsePlan:
        """The 200 to a GET when the resource sends no Expires."""
        return self.plans.ok

    @property
    def head(self) -> ResponsePlan:
        """The 200 to a HEAD when the resource sends no Expires."""
        return self.plans.head


@dataclass(frozen=True, slots=True)
class Resource:
    """Everything needed to answer for one URL.

    ``representations`` is ordered smallest first. ``partial_headers`` start a 206 (of the
    identity representation) and ``unsatisfiable_headers`` are a complete 416 block.
    ``choices`` caches the negotiated representation per raw Accept-Encoding value.
    """

    representations: tuple[Representation, ...]
    identity: Representation
    last_modified: int | None
    expires_after: int | None
    partial_headers: tuple[Header, ...]
    unsatisfiable_headers: tuple[Header, ...]
    choices: dict[bytes, Representation] = field(default_factory=dict, repr=False, compare=False)
    negotiable: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.identity not in self.representations:
            raise ValueError("the identity representation must be one of the representations")
        object.__setattr__(self, "negotiable", len(self.representations) > 1)


def build_resource(
    variants: Sequence[VariantSource],
    *,
    content_type: bytes,
    cache: CachePolicy,
    last_modified: int | None = None,
    allow_origin: bytes | None = None,
    extra_headers: Iterable[Header] = (),
) -> Resource:
    """Prepare the header blocks of every answer for a file stored as ``variants``.

    ``variants`` must include the identity coding. ``extra_headers`` (lower-case names) are
    added to every response and replace a default field of the same name, except ``vary``,
    whose names are added to the default's (see :func:`merge_vary`).
    """
    identity_source = next((v for v in variants if v.coding == IDENTITY), None)
    if identity_source is None:
        raise ValueError("a resource needs its identity (uncompressed) variant")
    extras = tuple(extra_headers)
    shared = _fields(
        (b"last-modified", format_http_date(last_modified) if last_modified is not None else None),
        (b"cache-control", cache.cache_control),
        # RFC 9110 §12.5.5: responses that depend on Accept-Encoding say so, whichever they send.
        (b"vary", b"Accept-Encoding" if len(variants) > 1 else None),
    )
    representations = tuple(
        _representation(v, content_type, shared, allow_origin, extras)
        for v in sorted(variants, key=lambda v: (v.length, v.coding != IDENTITY))
    )
    identity = next(r for r in representations if r.coding == IDENTITY)
    return Resource(
        representations=representations,
        identity=identity,
        last_modified=last_modified,
        expires_after=cache.expires_after,
        partial_headers=_partial_headers(identity, content_type, shared, allow_origin, extras),
        unsatisfiable_headers=_unsatisfiable_headers(identity, shared, allow_origin, extras),
    )


def _fields(*pairs: tuple[bytes, bytes | None]) -> tuple[Header, ...]:
    return tuple((name, value) for name, value in pairs if value is not None)


def _finish(fields: Iterable[Header], extras: tuple[Header, ...]) -> tuple[Header, ...]:
    """Apply the configured extra fields: each replaces a default of its name or is appended.

    Vary is merged instead: replacing ``Vary: Accept-Encoding`` would let a shared cache hand
    a compressed variant to a client that cannot decode it (RFC 9110 §12.5.5).
    """
    merged = dict(fields)
    for name, value in extras:
        if name == b"vary":
            vary = merge_vary(merged.get(name, b""), value)
            if vary:
                merged[name] = vary  # in the default's place when there is one
        else:
            merged[name] = value
    return tuple(merged.items())


def merge_vary(current: bytes, added: bytes) -> bytes:
    """Both Vary values as one: each field name once (compared case-insensitively), in order.

    RFC 9110 §12.5.5: Vary is a list of field names or "*", and "*" ("anything about the
    request") says everything the names could, so it stands alone.
    """
    names: dict[bytes, bytes] = {}
    for member in (current + b"," + added).split(b","):
        name = member.strip(b" \t")
        if name == b"*":
            return b"*"
        if name:
            names.setdefault(name.lower(), name)
    return b", ".join(names.values())


def _representation(
    source: VariantSource,
    content_type: bytes,
    shared: tuple[Header, ...],
    allow_origin: bytes | None,
    extras: tuple[Header, ...],
) -> Representation:
    etag = b'"%s"' % source.tag.encode("ascii")
    coding = None if source.coding == IDENTITY else source.coding.encode("ascii")
    cors = _fields((b"access-control-allow-origin", allow_origin))
    headers = _fields(
        (b"content-type", content_type),
        (b"content-length", b"%d" % source.length),
        (b"content-encoding", coding),
        (b"etag", etag),
    )
    ranges = ((b"accept-ranges", b"bytes"),)
    nosniff = ((b"x-content-type-options", b"nosniff"),)
    # RFC 9110 §15.4.5: a 304 carries ETag, Vary, Cache-Control and Expires as the 200 would;
    # Last-Modified and the CORS field keep caches and cross-origin readers working.
    return Representation(
        coding=source.coding,
        etag=etag,
        length=source.length,
        body=source.body,
        headers=_finish(headers + shared + ranges + cors + nosniff, extras),
        not_modified_headers=_finish(((b"etag", etag), *shared, *cors), extras),
        precondition_failed_headers=_precondition_failed_headers(etag, shared, cors, extras),
    )


# Fields about storing a response: a 412 gets none of the configured ones.
_CACHING = frozenset({b"cache-control", b"expires"})


def _precondition_failed_headers(
    etag: bytes, shared: tuple[Header, ...], cors: tuple[Header, ...], extras: tuple[Header, ...]
) -> tuple[Header, ...]:
    # RFC 9110 §15.5.13 requires no field of a 412. It carries the selected representation's
    # ETag and Last-Modified, so that a client whose download broke can start it again; Vary
    # and CORS, as every other answer (a cross-origin reader sees the status, not a network
    # error); no body. It is not a state of the file that a cache could reuse for anyone
    # else (a 412 is not cacheable by default, RFC 9110 §15.1): "no-store" keeps CDNs that
    # cache error responses from storing it, and no Expires is sent.
    uncached = tuple(
        (name, b"no-store" if name == b"cache-control" else value) for name, value in shared
    )
    fields = ((b"content-length", b"0"), (b"etag", etag), *uncached, *cors)
    nosniff = ((b"x-content-type-options", b"nosniff"),)
    return _finish(fields + nosniff, tuple(e for e in extras if e[0] not in _CACHING))


def _partial_headers(
    identity: Representation,
    content_type: bytes,
    shared: tuple[Header, ...],
    allow_origin: bytes | None,
    extras: tuple[Header, ...],
) -> tuple[Header, ...]:
    # RFC 9110 §15.3.7: a 206 carries the fields a 200 would, except that Content-Range and
    # Content-Length describe the part (appended per request).
    fields = _fields(
        (b"content-type", content_type),
        (b"etag", identity.etag),
        (b"accept-ranges", b"bytes"),
        (b"access-control-allow-origin", allow_origin),
        (b"x-content-type-options", b"nosniff"),
    )
    return _finish(fields + shared, extras)


def _unsatisfiable_headers(
    identity: Representation,
    shared: tuple[Header, ...],
    allow_origin: bytes | None,
    extras: tuple[Header, ...],
) -> tuple[Header, ...]:
    # RFC 9110 §15.5.17: a 416 SHOULD carry Content-Range: bytes */<current length>. Caching and
    # CORS fields stay so that players behind a CDN can read the length.
    fields = _fields(
        (b"content-range", b"bytes */%d" % identity.length),
        (b"content-length", b"0"),
        (b"etag", identity.etag),
        (b"accept-ranges", b"bytes"),
        (b"access-control-allow-origin", allow_origin),
        (b"x-content-type-options", b"nosniff"),
    )
    return _finish(fields + shared, extras)
