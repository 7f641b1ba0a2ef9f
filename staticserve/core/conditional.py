"""Conditional requests (RFC 9110 §13): If-Match, If-Unmodified-Since, If-None-Match,
If-Modified-Since and If-Range.

RFC 9110 §13.2.2 sets the order: If-Match (else If-Unmodified-Since) may answer 412, then
If-None-Match (else If-Modified-Since) may answer 304, then If-Range decides whether a Range
is honoured. The plan calls these in that order.
"""

from __future__ import annotations

from collections.abc import Mapping

from .headers import parse_entity_tags, parse_http_date

__all__ = ["if_range_allows", "is_not_modified", "precondition_failed"]

_OWS = b" \t"


def precondition_failed(
    headers: Mapping[bytes, bytes], etag: bytes, last_modified: int | None, now: int
) -> bool:
    """True when a GET or HEAD must be answered 412 (RFC 9110 §13.2.2, steps 1 and 2)."""
    field = headers.get(b"if-match")
    if field is not None:
        return not _matches_strongly(field, etag)
    # RFC 9110 §13.1.4: If-Unmodified-Since is evaluated only without If-Match, and ignored
    # when it is not a valid HTTP-date or the resource has no modification date.
    field = headers.get(b"if-unmodified-since")
    if field is None or last_modified is None:
        return False
    since = parse_http_date(field, now)
    return since is not None and last_modified > since


def _matches_strongly(field: bytes, etag: bytes) -> bool:
    if field == etag:  # the common case: the client echoes our tag
        return True
    tags = parse_entity_tags(field)
    # RFC 9110 §13.1.1: "*" matches any current representation (the selected one exists);
    # listed tags use strong comparison, so a "W/" tag never matches. A field with no valid
    # tag matches nothing: the client asked for a condition we cannot confirm.
    return tags is not None and (tags.wildcard or etag in tags.strong)


def is_not_modified(
    headers: Mapping[bytes, bytes], etag: bytes, last_modified: int | None, now: int
) -> bool:
    """True when a GET or HEAD should be answered 304 (RFC 9110 §13.2.2, steps 3 and 4)."""
    field = headers.get(b"if-none-match")
    if field is not None:
        return _none_match_fails(field, etag)
    # RFC 9110 §13.1.3: If-Modified-Since is evaluated only without If-None-Match, and ignored
    # when it is not a valid HTTP-date.
    field = headers.get(b"if-modified-since")
    if field is None or last_modified is None:
        return False
    since = parse_http_date(field, now)
    return since is not None and last_modified <= since


def _none_match_fails(field: bytes, etag: bytes) -> bool:
    if field == etag:  # the common case: the client echoes our tag
        return True
    tags = parse_entity_tags(field)
    # RFC 9110 §13.1.2: "*" matches any current representation; tags use weak comparison,
    # so "W/" is dropped by the parser and only the opaque tags are compared.
    return tags is not None and (tags.wildcard or etag in tags.opaque)


def if_range_allows(field: bytes | None, etag: bytes, last_modified: int | None, now: int) -> bool:
    """True when the Range field should be honoured (RFC 9110 §13.1.5)."""
    if field is None:
        return True
    validator = field.strip(_OWS)
    # RFC 9110 §13.1.5: an entity tag is told from a date by its DQUOTE, and must match by
    # strong comparison (so a weak "W/" tag never does).
    if validator.startswith((b'"', b"W/")):
        return validator == etag
    # A date must exactly match the Last-Modified of the selected representation.
    date = parse_http_date(validator, now)
    return date is not None and date == last_modified
