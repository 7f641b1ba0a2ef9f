"""The decision: a request and a lookup in, a response plan (or "not ours") out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from .conditional import if_range_allows, is_not_modified, precondition_failed
from .headers import ByteRange, format_http_date, parse_range
from .negotiate import choose
from .paths import canonical_path
from .ranges import content_range, resolve
from .request import Request
from .resource import Representation, Resource
from .response import STATUS_LINES, Body, FileSlice, Header, ResponsePlan

__all__ = [
    "NOT_ALLOWED",
    "NOT_FOUND",
    "STATUS_LINES",
    "Lookup",
    "ResponsePlan",
    "not_found",
    "plan_request",
    "plan_response",
]

_CHOICES_PER_RESOURCE = 32  # distinct Accept-Encoding values remembered per resource

# RFC 9110 §15.5.6: the origin server MUST generate an Allow field in a 405 response.
NOT_ALLOWED = ResponsePlan(405, ((b"allow", b"GET, HEAD"), (b"content-length", b"0")), b"")
_NOT_FOUND_BODY = b"Not Found\n"
NOT_FOUND = ResponsePlan(
    404,
    (
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"%d" % len(_NOT_FOUND_BODY)),
        (b"x-content-type-options", b"nosniff"),
    ),
    _NOT_FOUND_BODY,
)


class Lookup(Protocol):
    """Where resources come from: the production catalog, or a development-mode finder."""

    def find(self, path: bytes) -> Resource | None:
        """The resource for a canonical percent-encoded request path, or None."""
        ...


def plan_response(request: Request, lookup: Lookup) -> ResponsePlan | None:
    """Plan the answer to ``request``, or None when the path is not a served file."""
    method, path, headers, now, query = request
    return plan_request(method, path, headers, now, lookup, query)


def plan_request(
    method: str,
    path: bytes,
    headers: Mapping[bytes, bytes],
    now: int,
    lookup: Lookup,
    query: bytes = b"",
) -> ResponsePlan | None:
    """:func:`plan_response` for a request given as its fields (see :class:`Request`).

    What the adapters call: a request costs no allocation of its own on the hot path, which is
    a handful of dictionary lookups ending at a prepared plan.
    """
    resource = lookup.find(path)
    if resource is None:
        resource = _find_equivalent(path, lookup)
        if resource is None:
            return _folder_redirect(method, path, query, lookup)
    if method == "GET":
        head = False
    elif method == "HEAD":
        head = True
    else:
        # RFC 9110 §13.2.1: preconditions are weighed only when the answer would be 2xx.
        return NOT_ALLOWED
    selected = resource.identity
    if resource.negotiable:
        field = headers.get(b"accept-encoding")
        if field is not None:
            selected = resource.choices.get(field) or _negotiate(resource, field)
    byte_range = None
    if not head:  # RFC 9110 §14.2: Range is defined for GET only; HEAD ignores it.
        field = headers.get(b"range")
        if field is not None:
            # RFC 9110 §13.2.2 step 5 (If-Range) only decides whether the Range is honoured,
            # so it may be weighed first: an honoured Range is cut from identity, which is then
            # the selected representation, whose validators the preconditions compare.
            byte_range = _honoured_range(resource, field, headers.get(b"if-range"), now)
            if byte_range is not None:
                selected = resource.identity
    # RFC 9110 §13.2.2 steps 1-2: If-Match, else If-Unmodified-Since, may answer 412 ...
    if (b"if-match" in headers or b"if-unmodified-since" in headers) and precondition_failed(
        headers, selected.etag, resource.last_modified, now
    ):
        return selected.precondition_failed
    after = resource.expires_after
    if after is None:
        plans = selected.plans
    else:
        dated = selected.dated.value
        plans = dated if dated is not None and dated.now == now else selected.dated.at(now, after)
    # ... steps 3-4: If-None-Match, else If-Modified-Since, may answer 304 ...
    if (b"if-none-match" in headers or b"if-modified-since" in headers) and is_not_modified(
        headers, selected.etag, resource.last_modified, now
    ):
        return plans.not_modified
    # ... step 6: the answer itself. An unsatisfiable range is found only now, so a resumed
    # download whose If-Match failed gets a 412, never a 416 that a download tool could take
    # for "already complete".
    if byte_range is not None:
        return _plan_range(resource, byte_range, now)
    return plans.head if head else plans.ok


def not_found() -> ResponsePlan:
    """A plain 404, for unknown paths under the prefix when they must not reach the app."""
    return NOT_FOUND


def _find_equivalent(path: bytes, lookup: Lookup) -> Resource | None:
    """Look up the canonical spelling of an unusually encoded path (hostile ones: None)."""
    canonical = canonical_path(path)
    if canonical is None or canonical == path:
        return None
    return lookup.find(canonical)


def _folder_redirect(method: str, path: bytes, query: bytes, lookup: Lookup) -> ResponsePlan | None:
    """A 302 to ``path/`` when that is a folder an index file answers for; else None.

    Only folder URLs end in "/" in a lookup (an index file serves them), so the slash form
    being found is the whole test. Relative links inside the index page resolve against the
    folder only once the URL ends in "/", hence the redirect rather than serving it here.
    """
    canonical = canonical_path(path)
    if canonical is None or canonical.endswith(b"/"):
        return None
    index = lookup.find(canonical + b"/")
    if index is None:
        return None
    if method not in ("GET", "HEAD"):
        return NOT_ALLOWED
    # A relative reference (RFC 3986 §5.2): the last segment plus "/" resolves against the URL
    # the client asked for, so it stays right under any mount point (root_path, SCRIPT_NAME)
    # the core never sees. The canonical segment has its ":" percent-encoded, so it cannot be
    # read as a scheme. The query is kept, as WhiteNoise and ServeStatic keep it.
    location = canonical.rpartition(b"/")[2] + b"/"
    if query:
        location += b"?" + _field_safe(query)
    # 302, not 301: browsers keep a permanent redirect indefinitely, and the next build may
    # drop the folder or turn it into a file. The redirect is cached no longer than the index
    # it leads to, and carries its CORS field (a cross-origin fetch checks every hop).
    fields = dict(index.identity.headers)
    headers = [
        (b"location", location),
        (b"cache-control", fields.get(b"cache-control", b"no-cache")),
    ]
    origin = fields.get(b"access-control-allow-origin")
    if origin is not None:
        headers.append((b"access-control-allow-origin", origin))
    headers.append((b"content-length", b"0"))
    return ResponsePlan(302, tuple(headers), b"")


_FIELD_SAFE = bytes(range(0x21, 0x7F))  # visible ASCII: what a field value carries as it is


def _field_safe(query: bytes) -> bytes:
    """The query with any byte a header field should not carry percent-encoded."""
    if not query.translate(None, _FIELD_SAFE):
        return query
    return b"".join(bytes((b,)) if 0x21 <= b < 0x7F else b"%%%02X" % b for b in query)


def _negotiate(resource: Resource, field: bytes) -> Representation:
    """The representation for this Accept-Encoding value, remembered per resource."""
    choices = resource.choices
    if len(choices) >= _CHOICES_PER_RESOURCE:
        choices.clear()  # bounded: a client inventing values cannot grow it
    selected = choices[field] = choose(resource.representations, field, resource.identity)
    return selected


def _dated(headers: tuple[Header, ...], resource: Resource, now: int) -> tuple[Header, ...]:
    after = resource.expires_after
    if after is None:
        return headers
    return (*headers, (b"expires", format_http_date(now + after)))


def _honoured_range(
    resource: Resource, field: bytes, if_range: bytes | None, now: int
) -> ByteRange | None:
    """The single byte range to answer with a 206 or 416; None: ignore the field (200)."""
    byte_range = parse_range(field)
    # RFC 9110 §14.2: a server MAY ignore Range (malformed, several ranges); §13.1.5: and
    # MUST ignore it when If-Range does not match (the identity representation, whose parts
    # are sent).
    if byte_range is None or not if_range_allows(
        if_range, resource.identity.etag, resource.last_modified, now
    ):
        return None
    return byte_range


def _plan_range(resource: Resource, byte_range: ByteRange, now: int) -> ResponsePlan:
    """A 206 or 416 for a single byte range of the identity representation."""
    identity = resource.identity
    span = resolve(byte_range, identity.length)
    if span is None:
        return ResponsePlan(416, _dated(resource.unsatisfiable_headers, resource, now), b"")
    start, stop = span
    headers = (
        *_dated(resource.partial_headers, resource, now),
        (b"content-range", content_range(start, stop, identity.length)),
        (b"content-length", b"%d" % (stop - start)),
    )
    return ResponsePlan(206, headers, _part(identity.body, start, stop))


def _part(body: Body, start: int, stop: int) -> Body:
    if isinstance(body, bytes):
        return body[start:stop]
    return FileSlice(body.path, body.offset + start, stop - start, body.size, body.copy)
