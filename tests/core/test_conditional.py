"""Conditional requests and byte ranges, as tables (RFC 9110 §13, §14)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staticserve.core.conditional import if_range_allows, is_not_modified, precondition_failed
from staticserve.core.headers import ByteRange, format_http_date
from staticserve.core.ranges import content_range, resolve

ETAG = b'"0123456789abcdef"'
MODIFIED = 1_767_323_045  # Fri, 02 Jan 2026 03:04:05 GMT
MODIFIED_HTTP = b"Fri, 02 Jan 2026 03:04:05 GMT"
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
    # RFC 9110 §5.6.3: only spaces and tabs are optional whitespace around a field value.
    ("our tag with spaces around", b' \t"0123456789abcdef" ', True),
    ("our tag and a form feed", b'"0123456789abcdef"\x0c', False),
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
    ("last position one past the end", ByteRange(0, 100), 100, (0, 100)),
    ("the one byte of a one-byte file, as a suffix", ByteRange(None, 1), 1, (0, 1)),
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


# -- If-Match and If-Unmodified-Since: 412 when false (RFC 9110 §13.1.1, §13.1.4) --------------

EARLIER = b"Thu, 01 Jan 2026 00:00:00 GMT"  # before MODIFIED: the file changed since
LATER = b"Sat, 03 Jan 2026 00:00:00 GMT"

PRECONDITIONS = [
    ("no conditions", {}, False),
    ("If-Match with our tag", {b"if-match": ETAG}, False),
    ("If-Match with our tag among others", {b"if-match": b'"old", ' + ETAG}, False),
    ("If-Match with the wildcard", {b"if-match": b"*"}, False),
    ("If-Match with the wildcard and spaces", {b"if-match": b"  * "}, False),
    ("If-Match with another tag", {b"if-match": b'"old"'}, True),
    ("If-Match compares strongly: our tag, weak", {b"if-match": b"W/" + ETAG}, True),
    ("If-Match: the br tag is not identity's", {b"if-match": b'"0123456789abcdef-br"'}, True),
    ("If-Match that is no tag at all", {b"if-match": b"garbage"}, True),
    ("If-Match, empty", {b"if-match": b""}, True),
    ("If-Unmodified-Since the very date", {b"if-unmodified-since": MODIFIED_HTTP}, False),
    ("If-Unmodified-Since a later date", {b"if-unmodified-since": LATER}, False),
    ("If-Unmodified-Since an earlier date", {b"if-unmodified-since": EARLIER}, True),
    ("If-Unmodified-Since, invalid, is ignored", {b"if-unmodified-since": b"yesterday"}, False),
    (
        "If-Unmodified-Since, a list of dates, is ignored",
        {b"if-unmodified-since": EARLIER + b", " + EARLIER},
        False,
    ),
    (
        "If-Unmodified-Since is ignored when If-Match is present (true)",
        {b"if-match": ETAG, b"if-unmodified-since": EARLIER},
        False,
    ),
    (
        "If-Unmodified-Since is ignored when If-Match is present (false)",
        {b"if-match": b'"old"', b"if-unmodified-since": LATER},
        True,
    ),
    (
        "If-None-Match and If-Modified-Since are not preconditions for a 412",
        {b"if-none-match": b'"old"', b"if-modified-since": EARLIER},
        False,
    ),
]


@pytest.mark.parametrize(
    ("headers", "expected"), [c[1:] for c in PRECONDITIONS], ids=[c[0] for c in PRECONDITIONS]
)
def test_precondition_failed_follows_rfc_9110(headers: dict[bytes, bytes], expected: bool) -> None:
    assert precondition_failed(headers, ETAG, MODIFIED, NOW) is expected


def test_if_unmodified_since_is_ignored_without_a_modification_date() -> None:
    # RFC 9110 §13.1.4: ignored "if the resource does not have a modification date available".
    assert not precondition_failed({b"if-unmodified-since": EARLIER}, ETAG, None, NOW)


TAG_TEXT = st.text(alphabet="abcdef0123456789-", min_size=1, max_size=20)
OWS = st.sampled_from(["", " ", "\t", "  "])


@given(st.lists(TAG_TEXT, max_size=6), st.integers(min_value=0, max_value=6), OWS)
def test_if_match_holds_exactly_when_our_strong_tag_is_listed(
    texts: list[str], index: int, space: str
) -> None:
    ours = ETAG.decode()
    others = [f'"{text}"' for text in texts if f'"{text}"' != ours]
    separator = space + "," + space

    def fails(members: list[str]) -> bool:
        field = separator.join(members).encode()
        return precondition_failed({b"if-match": field}, ETAG, MODIFIED, NOW)

    assert not fails([*others[:index], ours, *others[index:]])
    # Strong comparison: our tag marked weak matches nothing, nor does a list without it.
    assert fails([*others[:index], "W/" + ours, *others[index:]])
    if others:
        assert fails(others)


@given(st.integers(min_value=0, max_value=2 * MODIFIED))
def test_if_unmodified_since_fails_exactly_when_the_file_is_newer(since: int) -> None:
    field = format_http_date(since)
    expected = since < MODIFIED
    assert precondition_failed({b"if-unmodified-since": field}, ETAG, MODIFIED, NOW) is expected


@given(
    st.dictionaries(
        st.sampled_from([b"if-match", b"if-unmodified-since", b"if-none-match"]),
        st.binary(max_size=80),
    )
)
def test_any_precondition_fields_give_an_answer(headers: dict[bytes, bytes]) -> None:
    result = precondition_failed(headers, ETAG, MODIFIED, NOW)
    assert isinstance(result, bool)
    if b"if-match" not in headers and b"if-unmodified-since" not in headers:
        assert result is False
