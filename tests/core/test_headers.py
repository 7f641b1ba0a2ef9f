"""Header parsers: readable case tables, then properties showing that no input escapes."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staticserve.core.headers import (
    MAX_DATE_FIELD,
    MAX_LIST_FIELD,
    MAX_RANGE_FIELD,
    ByteRange,
    EntityTags,
    format_http_date,
    parse_accept_encoding,
    parse_entity_tags,
    parse_http_date,
    parse_range,
)

SUNDAY = 784111777  # Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example
NOW = 1_767_323_045  # 2026-01-02

ACCEPT_ENCODING = [
    ("plain list", b"gzip, br", {"gzip": 1000, "br": 1000}),
    ("q values in thousandths", b"br;q=0.8, gzip;q=0.25", {"br": 800, "gzip": 250}),
    ("q=0 refuses", b"gzip;q=0", {"gzip": 0}),
    ("identity refused", b"identity;q=0", {"identity": 0}),
    ("wildcard", b"*", {"*": 1000}),
    ("coding names are case-insensitive", b"GZip, BR;Q=0.5", {"gzip": 1000, "br": 500}),
    ("whitespace around everything", b"  gzip ;  q=0.5 ,\tbr  ", {"gzip": 500, "br": 1000}),
    ("x-gzip means gzip", b"x-gzip", {"gzip": 1000}),
    ("first mention wins", b"gzip;q=0, gzip", {"gzip": 0}),
    ("q above one is malformed and skipped", b"gzip;q=1.5, br", {"br": 1000}),
    ("four decimals are malformed", b"gzip;q=0.1234, br", {"br": 1000}),
    ("a word for q is malformed", b"gzip;q=high, br", {"br": 1000}),
    ("one with a dot is fine", b"gzip;q=1.", {"gzip": 1000}),
    ("empty members are ignored", b",,gzip,,", {"gzip": 1000}),
    ("empty field accepts nothing but identity", b"", {}),
    ("a coding with a space in it is skipped", b"g zip, br", {"br": 1000}),
    ("three decimals", b"gzip;q=0.125", {"gzip": 125}),
    ("a fourth decimal is malformed even when small", b"gzip;q=0.0001, br", {"br": 1000}),
    ("a thousandth above one is malformed", b"gzip;q=1.001, br", {"br": 1000}),
    ("q after another parameter", b"gzip;level=1;q=0.5", {"gzip": 500}),
    ("a q with two equals signs is malformed", b"gzip;q=0=5, br", {"br": 1000}),
    # RFC 9110 §5.6.3: optional whitespace is spaces and tabs only, not other control bytes.
    ("a form feed is part of the coding", b"gzip\x0c, br", {"br": 1000}),
    ("a vertical tab is part of the parameter name", b"br;\x0bq=0", {"br": 1000}),
    ("a form feed is part of the q value", b"gzip;q=0\x0c, br", {"br": 1000}),
    (
        "only the first 32 members count",
        b"br, " + b", ".join(b"c%d" % i for i in range(1, 40)),
        {"br": 1000, **{f"c{i}": 1000 for i in range(1, 32)}},
    ),
]


@pytest.mark.parametrize(
    ("field", "expected"),
    [case[1:] for case in ACCEPT_ENCODING],
    ids=[case[0] for case in ACCEPT_ENCODING],
)
def test_accept_encoding_is_parsed_into_weights(field: bytes, expected: dict[str, int]) -> None:
    assert parse_accept_encoding(field) == expected


def test_an_absurdly_long_accept_encoding_is_ignored() -> None:
    assert parse_accept_encoding(b"gzip, " * 2000) is None


def tags(opaque: set[bytes], strong: set[bytes]) -> EntityTags:
    return EntityTags(False, frozenset(opaque), frozenset(strong))


def test_fields_at_their_length_limit_are_still_read() -> None:
    assert parse_accept_encoding(b"gzip".ljust(MAX_LIST_FIELD)) == {"gzip": 1000}
    assert parse_entity_tags(b'"a"'.ljust(MAX_LIST_FIELD)) == tags({b'"a"'}, {b'"a"'})
    imf = b"Sun, 06 Nov 1994 08:49:37 GMT"
    assert parse_http_date(imf.ljust(MAX_DATE_FIELD), NOW) == SUNDAY
    assert parse_range(b"bytes=1-2".ljust(MAX_RANGE_FIELD)) == ByteRange(1, 2)


ENTITY_TAGS = [
    ("one strong tag", b'"abc"', tags({b'"abc"'}, {b'"abc"'})),
    ("a weak tag loses its W/ and is not strong", b'W/"abc"', tags({b'"abc"'}, set())),
    ("a list", b'"a", W/"b" ,"c"', tags({b'"a"', b'"b"', b'"c"'}, {b'"a"', b'"c"'})),
    ("the same tag weak and strong", b'W/"a", "a"', tags({b'"a"'}, {b'"a"'})),
    ("a comma inside a tag", b'"a,b"', tags({b'"a,b"'}, {b'"a,b"'})),
    ("the wildcard", b" * ", EntityTags(True, frozenset())),
    ("garbage members are skipped", b'junk, "ok", "unclosed', tags({b'"ok"'}, {b'"ok"'})),
    ("the empty tag", b'""', tags({b'""'}, {b'""'})),
    ("leading separators", b' ,\t, "a"', tags({b'"a"'}, {b'"a"'})),
    ("a junk member then a tag", b'abc, "a"', tags({b'"a"'}, {b'"a"'})),
    ("tags without separators", b'"a""b"', tags({b'"a"', b'"b"'}, {b'"a"', b'"b"'})),
    ("a tag then a lone quote", b'"a""', tags({b'"a"'}, {b'"a"'})),
    ("a weak tag after junk", b'x,W/"b"', tags({b'"b"'}, set())),
    # RFC 9110 §8.8.3: etagc = %x21 / %x23-7E / obs-text
    ("every allowed byte", b'"!#~\x80\xff"', tags({b'"!#~\x80\xff"'}, {b'"!#~\x80\xff"'})),
    ("a one-byte tag", b'"#"', tags({b'"#"'}, {b'"#"'})),
]


@pytest.mark.parametrize(
    ("field", "expected"),
    [case[1:] for case in ENTITY_TAGS],
    ids=[case[0] for case in ENTITY_TAGS],
)
def test_entity_tag_lists_are_parsed(field: bytes, expected: EntityTags) -> None:
    assert parse_entity_tags(field) == expected


NO_TAGS = [
    b"",
    b"abc",
    b"W/abc",
    b'"a b"',
    b",,,",
    b"*\x0c",  # a form feed is no whitespace (RFC 9110 §5.6.3): not the wildcard
    b'X"a"',
    b'"a\x7fb"',  # DEL is not an etagc
    b'"\x7f"',
    b'"a\x7f"',
    b'"\x7fa"',
    b'"a, "b"',  # the space makes the first "tag" invalid, and b" is no tag
    b'"',
]


@pytest.mark.parametrize("field", NO_TAGS, ids=repr)
def test_fields_without_a_valid_tag_parse_to_none(field: bytes) -> None:
    assert parse_entity_tags(field) is None


DATES = [
    ("IMF-fixdate", b"Sun, 06 Nov 1994 08:49:37 GMT", SUNDAY),
    ("obsolete RFC 850 date", b"Sunday, 06-Nov-94 08:49:37 GMT", SUNDAY),
    ("obsolete asctime date", b"Sun Nov  6 08:49:37 1994", SUNDAY),
    ("a leap second", b"Wed, 31 Dec 2008 23:59:60 GMT", 1230768000),
    ("extra spaces are tolerated", b"  Sun,  06 Nov 1994   08:49:37 GMT ", SUNDAY),
    ("the first year", b"Mon, 01 Jan 0001 00:00:00 GMT", -62135596800),
    ("an asctime date with a one-digit day", b"Sun Nov 6 08:49:37 1994", SUNDAY),
    (
        "in 2026, a two-digit 75 is 2075: less than 50 years ahead",
        b"Wednesday, 01-Jan-75 00:00:00 GMT",
        3313526400,
    ),
]


@pytest.mark.parametrize(
    ("field", "expected"), [case[1:] for case in DATES], ids=[case[0] for case in DATES]
)
def test_http_dates_in_all_three_formats_are_parsed(field: bytes, expected: int) -> None:
    assert parse_http_date(field, NOW) == expected


BAD_DATES = [
    ("not GMT", b"Sun, 06 Nov 1994 08:49:37 PST"),
    ("February 30th", b"Thu, 30 Feb 2023 00:00:00 GMT"),
    ("hour 24", b"Sun, 06 Nov 1994 24:00:00 GMT"),
    ("unknown month", b"Sun, 06 Foo 1994 08:49:37 GMT"),
    ("unknown day name", b"Xyz, 06 Nov 1994 08:49:37 GMT"),
    ("two-digit year in IMF form", b"Sun, 06 Nov 94 08:49:37 GMT"),
    ("a number", b"784111777"),
    ("ISO 8601", b"1994-11-06T08:49:37Z"),
    ("empty", b""),
    ("too long", b"Sun, 06 Nov 1994 08:49:37 GMT" + b" " * 100),
    ("minute 60", b"Sun, 06 Nov 1994 08:60:37 GMT"),
    ("second 61", b"Sun, 06 Nov 1994 08:49:61 GMT"),
    ("a one-digit hour", b"Sun, 06 Nov 1994 8:49:37 GMT"),
    ("a one-digit minute", b"Sun, 06 Nov 1994 08:9:37 GMT"),
    ("a one-digit second", b"Sun, 06 Nov 1994 08:49:7 GMT"),
    ("no seconds", b"Sun, 06 Nov 1994 08:49 GMT"),
    ("RFC 850 without the comma", b"Sunday 06-Nov-94 08:49:37 GMT"),
    ("RFC 850 not in GMT", b"Sunday, 06-Nov-94 08:49:37 PST"),
    ("RFC 850 with a short day name", b"Sun, 06-Nov-94 08:49:37 GMT"),
    ("RFC 850 with a one-digit day", b"Sunday, 6-Nov-94 08:49:37 GMT"),
    ("RFC 850 with a four-digit year", b"Sunday, 06-Nov-1994 08:49:37 GMT"),
    ("RFC 850 with letters for a year", b"Sunday, 06-Nov-9x 08:49:37 GMT"),
    ("RFC 850 without a year", b"Sunday, 06-Nov 08:49:37 GMT"),
    ("asctime with a two-digit year", b"Sun Nov  6 08:49:37 94"),
    ("asctime with an unknown day", b"Xyz Nov  6 08:49:37 1994"),
    ("asctime with letters in the day", b"Sun Nov 6a 08:49:37 1994"),
    ("asctime with a five-digit day", b"Sun Nov 00006 08:49:37 1994"),
]


@pytest.mark.parametrize("field", [case[1] for case in BAD_DATES], ids=[c[0] for c in BAD_DATES])
def test_invalid_http_dates_parse_to_none(field: bytes) -> None:
    assert parse_http_date(field, NOW) is None


def test_a_two_digit_year_more_than_50_years_ahead_is_in_the_past() -> None:
    # RFC 9110 §5.6.7: in 2026, "76" is 1976, not 2076; "30" is 2030.
    assert parse_http_date(b"Monday, 01-Nov-76 00:00:00 GMT", NOW) == 215654400
    assert parse_http_date(b"Friday, 01-Nov-30 00:00:00 GMT", NOW) == 1919721600


def test_without_a_clock_two_digit_years_pivot_at_70() -> None:
    # The POSIX convention, when there is no current time to compare with: 69 -> 2069.
    assert parse_http_date(b"Sunday, 06-Nov-94 08:49:37 GMT") == SUNDAY
    assert parse_http_date(b"Thursday, 01-Jan-70 00:00:00 GMT") == 0
    assert parse_http_date(b"Tuesday, 01-Jan-69 00:00:00 GMT") == 3124224000
    assert parse_http_date(b"Friday, 01-Jan-71 00:00:00 GMT") == 31536000


def test_the_century_of_a_two_digit_year_comes_from_the_clock() -> None:
    in_2101 = 4133980800  # Sat, 01 Jan 2101 00:00:00 GMT
    assert parse_http_date(b"Sunday, 01-Jan-20 00:00:00 GMT", in_2101) == 4733510400  # 2120


def test_exactly_fifty_years_ahead_is_not_more_than_fifty() -> None:
    # RFC 9110 §5.6.7 moves a two-digit year back a century only when "more than 50 years in
    # the future".
    in_2076 = 3345062400  # Wed, 01 Jan 2076 00:00:00 GMT
    fifty_years = int(50 * 365.2425 * 86400)
    now = in_2076 - fifty_years
    assert parse_http_date(b"Wednesday, 01-Jan-76 00:00:00 GMT", now) == in_2076
    assert parse_http_date(b"Wednesday, 01-Jan-76 00:00:01 GMT", now) == 189302401  # 1976


def test_dates_are_formatted_as_imf_fixdate() -> None:
    assert format_http_date(SUNDAY) == b"Sun, 06 Nov 1994 08:49:37 GMT"


@given(st.integers(min_value=0, max_value=253402300799))
def test_formatted_dates_parse_back_to_the_same_second(seconds: int) -> None:
    assert parse_http_date(format_http_date(seconds)) == seconds


RANGES = [
    ("first and last", b"bytes=10-19", ByteRange(10, 19)),
    ("open-ended", b"bytes=10-", ByteRange(10, None)),
    ("suffix", b"bytes=-5", ByteRange(None, 5)),
    ("first byte only", b"bytes=0-0", ByteRange(0, 0)),
    ("last byte only", b"bytes=-1", ByteRange(None, 1)),
    ("unit is case-insensitive", b"Bytes=1-2", ByteRange(1, 2)),
    ("whitespace around the range", b"bytes= 1-2 ", ByteRange(1, 2)),
    ("an empty list element is no second range", b"bytes=1-2, ", ByteRange(1, 2)),
    ("a huge last position", b"bytes=0-99999999999999999999", ByteRange(0, 99999999999999999999)),
]


@pytest.mark.parametrize(
    ("field", "expected"), [case[1:] for case in RANGES], ids=[case[0] for case in RANGES]
)
def test_single_byte_ranges_are_parsed(field: bytes, expected: ByteRange) -> None:
    assert parse_range(field) == expected


IGNORED_RANGES = [
    ("two ranges", b"bytes=0-1,5-6"),
    ("last before first", b"bytes=5-3"),
    ("other unit", b"items=0-1"),
    ("no unit", b"0-1"),
    ("no dash", b"bytes=5"),
    ("only a dash", b"bytes=-"),
    ("letters", b"bytes=a-b"),
    ("negative", b"bytes=--1"),
    ("plus sign", b"bytes=+1-2"),
    ("empty", b""),
    ("thousands of ranges", b"bytes=" + b"0-1," * 5000),
    # RFC 9110 §5.6.3: only spaces and tabs are optional whitespace.
    ("a form feed before the unit", b"\x0cbytes=1-2"),
    ("a form feed before the range", b"bytes=\x0c1-2"),
    ("a form feed as a second member", b"bytes=1-2,\x0c"),
    ("a letter as a second member", b"bytes=1-2,X"),
]


@pytest.mark.parametrize(
    "field", [case[1] for case in IGNORED_RANGES], ids=[c[0] for c in IGNORED_RANGES]
)
def test_malformed_and_multiple_ranges_are_ignored(field: bytes) -> None:
    assert parse_range(field) is None


def test_an_impossible_byte_range_cannot_be_made() -> None:
    with pytest.raises(ValueError, match=r"^a byte range needs a first or a last position$"):
        ByteRange(None, None)
    with pytest.raises(ValueError, match=r"^a byte range cannot end before it starts$"):
        ByteRange(5, 4)


def test_a_field_of_many_ranges_costs_no_more_than_a_short_one() -> None:
    huge = b"bytes=" + b"0-1," * 100_000

    def cost(field: bytes) -> float:
        start = time.perf_counter()
        for _ in range(1000):
            parse_range(field)
        return time.perf_counter() - start

    cost(huge)  # warm up
    assert cost(huge) < cost(b"bytes=0-1") * 5 + 0.01


@given(st.binary(max_size=300))
def test_no_parser_raises_on_any_bytes(field: bytes) -> None:
    parse_accept_encoding(field)
    parse_entity_tags(field)
    parse_http_date(field, NOW)
    parse_range(field)


@given(st.text(alphabet='bytes=0123456789-, \t*;qWGMT"/:', max_size=60))
def test_no_parser_raises_on_near_valid_fields(text: str) -> None:
    field = text.encode()
    parse_accept_encoding(field)
    parse_entity_tags(field)
    parse_http_date(field, NOW)
    parsed = parse_range(field)
    assert parsed is None or parsed.first is not None or parsed.last is not None
