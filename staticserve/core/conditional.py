"""Conditional requests (RFC 9110 §13): If-None-Match, If-Modified-Since and If-Range."""

from __future__ import annotations

from collections.abc import Mapping

from .headers import parse_entity_tags, parse_http_date

__all__ = ["if_range_allows", "is_not_modified"]

_OWS = b" \t"


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
