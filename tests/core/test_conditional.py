"""Conditional requests and byte ranges, as tables (RFC 9110 §13, §14)."""

from __future__ import annotations

import pytest

from staticserve.core.conditional import if_range_allows, is_not_modified
from staticserve.core.headers import ByteRange
from staticserve.core.ranges import content_range, resolve

ETAG = b'"0123456789abcdef"'
MODIFIED = 1_767_323_045  # Fri, 02 Jan 2026 03:04:05 GMT
NOW = MODIFIED + 1000

NOT_MODIFIED = [
    ("same tag", {b"if-none-match": ETAG}, True),
    ("weak form of the same tag", {b"if-none-match": b'W/"0123456789abcdef"'}, True),
    ("tag in a list", {b"if-none-match": b'"x", "0123456789abcdef"'}, True),
    ("wildcard", {b"if-none-match": b"*"}, True),
    ("other tag", {b"if-none-match": b'"other"'}, False),
    ("the br tag does not match identity", {b"if-none-match": b'"0123456789abcdef-br"'}, False),
    ("garbage", {b"if-none-match": b"garbage"}, False),
    (
        "modified since an older date",
        {b"if-modified-since": b"Thu, 01 Jan 2026 00:00:00 GMT"},
        False,
    ),
    (
        "not modified since that very date",
        {b"if-modified-since": b"Fri, 02 Jan 2026 03:04:05 GMT"},
        True,
    ),
    (
        "not modified since a later date",
        {b"if-modified-since": b"Sat, 03 Jan 2026 00:00:00 GMT"},
        True,
    ),
    ("an invalid date is ignored", {b"if-modified-since": b"yesterday"}, False),
    (
        "If-Modified-Since is ignored when If-None-Match is present",
        {b"if-none-match": b'"other"', b"if-modified-since": b"Sat, 03 Jan 2026 00:00:00 GMT"},
        False,
    ),
    ("no conditions", {}, False),
]


@pytest.mark.parametrize(
    ("headers", "expected"), [c[1:] for c in NOT_MODIFIED], ids=[c[0] for c in NOT_MODIFIED]
)
def test_not_modified_follows_rfc_9110(headers: dict[bytes, bytes], expected: bool) -> None:
    assert is_not_modified(headers, ETAG, MODIFIED, NOW) is expected


def test_without_last_modified_dates_never_match() -> None:
    headers = {b"if-modified-since": b"Sat, 03 Jan 2026 00:00:00 GMT"}
    assert not is_not_modified(headers, ETAG, None, NOW)


IF_RANGE = [
    ("absent", None, True),
    ("same strong tag", ETAG, True),
    ("weak tag never matches", b'W/"0123456789abcdef"', False),
    ("other tag", b'"other"', False),
    ("exact Last-Modified date", b"Fri, 02 Jan 2026 03:04:05 GMT", True),
    ("later date", b"Sat, 03 Jan 2026 00:00:00 GMT", False),
    ("garbage", b"garbage", False),
]


@pytest.mark.parametrize(
    ("field", "expected"), [c[1:] for c in IF_RANGE], ids=[c[0] for c in IF_RANGE]
)
def test_if_range_needs_a_strong_tag_or_the_exact_date(field: bytes | None, expected: bool) -> None:
    assert if_range_allows(field, ETAG, MODIFIED, NOW) is expected


RESOLVED = [
    ("first byte", ByteRange(0, 0), 100, (0, 1)),
    ("last byte", ByteRange(None, 1), 100, (99, 100)),
    ("middle", ByteRange(10, 19), 100, (10, 20)),
    ("open end", ByteRange(90, None), 100, (90, 100)),
    ("last position past the end is clamped", ByteRange(90, 500), 100, (90, 100)),
    ("suffix longer than the file is the whole file", ByteRange(None, 500), 100, (0, 100)),
    ("first position at the end", ByteRange(100, None), 100, None),
    ("first position past the end", ByteRange(200, 300), 100, None),
    ("zero-length suffix", ByteRange(None, 0), 100, None),
    ("any range of an empty file", ByteRange(0, 0), 0, None),
    ("a suffix of an empty file", ByteRange(None, 5), 0, None),
]


@pytest.mark.parametrize(
    ("byte_range", "length", "expected"), [c[1:] for c in RESOLVED], ids=[c[0] for c in RESOLVED]
)
def test_ranges_resolve_against_the_length(
    byte_range: ByteRange, length: int, expected: tuple[int, int] | None
) -> None:
    assert resolve(byte_range, length) == expected


def test_content_range_names_first_and_last_byte_and_length() -> None:
    assert content_range(0, 1, 100) == b"bytes 0-0/100"
