"""Request header parsers (RFC 9110). Each returns a value or ``None`` and never raises.

Every parser bounds its work by the length of the field first, so a hostile field costs no more
than an ordinary one.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

__all__ = [
    "ByteRange",
    "EntityTags",
    "format_http_date",
    "parse_accept_encoding",
    "parse_entity_tags",
    "parse_http_date",
    "parse_range",
]

# Longest field each parser reads; longer ones are ignored (None) rather than parsed.
MAX_LIST_FIELD = 4096
MAX_DATE_FIELD = 64
# A single byte range is at most "bytes=" + two 20-digit numbers; a longer field is a list of
# ranges (answered with the full 200) or garbage. RFC 9110 §14.2: a server MAY ignore Range.
MAX_RANGE_FIELD = 100
MAX_CODINGS = 32

# RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_"
#                          / "`" / "|" / "~" / DIGIT / ALPHA
_TCHAR = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_OWS = b" \t"

# RFC 9110 §8.4.1.3: a recipient SHOULD consider "x-gzip" to be equivalent to "gzip".
_CODING_ALIASES = {"x-gzip": "gzip"}


def _is_token(value: bytes) -> bool:
    return bool(value) and not value.translate(None, _TCHAR)


# -- Accept-Encoding ---------------------------------------------------------------------------


def parse_accept_encoding(value: bytes) -> dict[str, int] | None:
    """Content coding (lower case) -> weight in thousandths (RFC 9110 §12.5.3, §12.4.2).

    Members with a bad token or weight are skipped; the first mention of a coding wins.
    ``None`` when the field is too long to be a real client's.
    """
    if len(value) > MAX_LIST_FIELD:
        return None
    weights: dict[str, int] = {}
    for member in value.split(b",", MAX_CODINGS)[:MAX_CODINGS]:
        coding, _, params = member.partition(b";")
        # RFC 9110 §12.5.3: content-coding tokens are case-insensitive.
        coding = coding.strip(_OWS).lower()
        weight = _weight(params)
        if _is_token(coding) and weight is not None:
            name = coding.decode("ascii")
            weights.setdefault(_CODING_ALIASES.get(name, name), weight)
    return weights


def _weight(params: bytes) -> int | None:
    """The ``q`` parameter in thousandths; 1000 when absent, None when malformed."""
    for param in params.split(b";"):
        name, _, raw = param.partition(b"=")
        if name.strip(_OWS).lower() == b"q":
            return _qvalue(raw.strip(_OWS))
    return 1000


def _qvalue(raw: bytes) -> int | None:
    # RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
    whole, _, fraction = raw.partition(b".")
    if whole not in (b"0", b"1") or len(fraction) > 3 or (fraction and not fraction.isdigit()):
        return None
    weight = int(whole) * 1000 + int(fraction.ljust(3, b"0") or b"0")
    return weight if weight <= 1000 else None


# -- entity tags -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntityTags:
    """A parsed If-None-Match / If-Match field: ``*`` or a set of opaque tags.

    ``opaque`` holds each tag with its quotes and without ``W/``: what weak comparison compares.
    ``strong`` holds the tags that were not marked ``W/``: the only ones strong comparison can
    match (RFC 9110 §8.8.3.2).
    """

    wildcard: bool
    opaque: frozenset[bytes]
    strong: frozenset[bytes] = frozenset()


WILDCARD = EntityTags(wildcard=True, opaque=frozenset())


def parse_entity_tags(value: bytes) -> EntityTags | None:
    """``*`` or ``1#entity-tag`` (RFC 9110 §8.8.3, §13.1.2); malformed members are skipped.

    ``None`` when no member is a valid entity tag.
    """
    if len(value) > MAX_LIST_FIELD:
        return None
    if value.strip(_OWS) == b"*":
        return WILDCARD
    found = _scan_entity_tags(value)
    if not found:
        return None
    return EntityTags(
        wildcard=False,
        opaque=frozenset(tag for tag, _ in found),
        strong=frozenset(tag for tag, weak in found if not weak),
    )


def _scan_entity_tags(value: bytes) -> list[tuple[bytes, bool]]:
    """Each valid member as (opaque tag with its quotes, marked weak)."""
    # A comma may sit inside a tag (etagc includes %x2C), so scan quote to quote instead of
    # splitting on commas. Every turn of the loop moves past at least one byte.
    found: list[tuple[bytes, bool]] = []
    position, end = 0, len(value)
    while position < end:
        while position < end and value[position] in b" \t,":
            position += 1
        weak = value.startswith(b"W/", position)
        if weak:
            position += 2
        closing = value.find(b'"', position + 1) if value.startswith(b'"', position) else -1
        if closing < 0:
            position = _next_member(value, position)
            continue
        tag = value[position : closing + 1]
        if _is_opaque_tag(tag):
            found.append((tag, weak))
        position = closing + 1
    return found


def _next_member(value: bytes, position: int) -> int:
    comma = value.find(b",", position)
    return len(value) if comma < 0 else comma + 1


def _is_opaque_tag(tag: bytes) -> bool:
    # RFC 9110 §8.8.3: etagc = %x21 / %x23-7E / obs-text (no DQUOTE, no controls, no space)
    return all(byte == 0x21 or 0x23 <= byte != 0x7F for byte in tag[1:-1])


# -- HTTP dates --------------------------------------------------------------------------------

_MONTHS = {
    name: number
    for number, name in enumerate(b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)
}
_MONTH_NAMES = {number: name for name, number in _MONTHS.items()}
_DAY_NAMES = tuple(b"Mon Tue Wed Thu Fri Sat Sun".split())
_LONG_DAY_NAMES = tuple(day + b"day" for day in b"Mon Tues Wednes Thurs Fri Satur Sun".split())
_FIFTY_YEARS = int(50 * 365.2425 * 86400)


def parse_http_date(value: bytes, now: int | None = None) -> int | None:
    """Seconds since the epoch for an HTTP-date (RFC 9110 §5.6.7), or None.

    Accepts IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``) and the two obsolete forms a
    recipient MUST accept: rfc850-date (``Sunday, 06-Nov-94 08:49:37 GMT``) and asctime-date
    (``Sun Nov  6 08:49:37 1994``). ``now`` settles the century of a two-digit year.
    """
    if len(value) > MAX_DATE_FIELD:
        return None
    parts = value.split()
    fields = _DATE_FORMS.get(len(parts))
    return fields(parts, now) if fields is not None else None


def _imf_fixdate(parts: list[bytes], now: int | None) -> int | None:
    weekday, day, month, year, clock, zone = parts
    if weekday[:-1] not in _DAY_NAMES or not weekday.endswith(b",") or zone != b"GMT":
        return None
    if len(day) != 2 or len(year) != 4:
        return None
    return _timestamp(year, month, day, clock)


def _rfc850_date(parts: list[bytes], now: int | None) -> int | None:
    weekday, date, clock, zone = parts
    if weekday[:-1] not in _LONG_DAY_NAMES or not weekday.endswith(b",") or zone != b"GMT":
        return None
    day, month, short_year = [*date.split(b"-"), b"", b""][:3]
    if len(day) != 2 or len(short_year) != 2 or not short_year.isdigit():
        return None
    if now is None:  # no clock to compare with: the POSIX pivot (69 -> 2069, 70 -> 1970)
        year = int(short_year) + (1900 if int(short_year) >= 70 else 2000)
        return _timestamp(b"%d" % year, month, day, clock)
    year = datetime.fromtimestamp(now, tz=timezone.utc).year // 100 * 100 + int(short_year)
    stamp = _timestamp(b"%d" % year, month, day, clock)
    # RFC 9110 §5.6.7: a two-digit year that appears to be more than 50 years in the future
    # is the most recent year in the past that had the same last two digits.
    if stamp is not None and stamp > now + _FIFTY_YEARS:
        stamp = _timestamp(b"%d" % (year - 100), month, day, clock)
    return stamp


def _asctime_date(parts: list[bytes], now: int | None) -> int | None:
    weekday, month, day, clock, year = parts
    if weekday not in _DAY_NAMES or len(year) != 4:
        return None
    return _timestamp(year, month, day, clock)


_DATE_FORMS = {6: _imf_fixdate, 4: _rfc850_date, 5: _asctime_date}


def _timestamp(year: bytes, month: bytes, day: bytes, clock: bytes) -> int | None:
    hour, minute, second = ([*clock.split(b":"), b"", b""])[:3]
    numbers = (year, day, hour, minute, second)
    if month not in _MONTHS or not all(n.isdigit() and len(n) <= 4 for n in numbers):
        return None
    if len(hour) != 2 or len(minute) != 2 or len(second) != 2:
        return None
    y, d, h, m, s = (int(n) for n in numbers)
    mon = _MONTHS[month]
    # second = 2DIGIT allows a leap second (60); calendar.timegm counts it as the next second.
    if not (1 <= y <= 9999 and h < 24 and m < 60 and s <= 60):
        return None
    if not 1 <= d <= calendar.monthrange(y, mon)[1]:
        return None
    return calendar.timegm((y, mon, d, h, m, s, 0, 0, 0))


@lru_cache(maxsize=8)
def format_http_date(seconds: int) -> bytes:
    """IMF-fixdate for ``seconds`` (RFC 9110 §5.6.7), independent of the locale.

    Cached: callers ask for the same second many times in a row.
    """
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return b"%s, %02d %s %04d %02d:%02d:%02d GMT" % (
        _DAY_NAMES[moment.weekday()],
        moment.day,
        _MONTH_NAMES[moment.month],
        moment.year,
        moment.hour,
        moment.minute,
        moment.second,
    )


# -- Range -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ByteRange:
    """One byte range (RFC 9110 §14.1.2): ``first-last``, ``first-`` or the suffix ``-last``.

    ``first is None`` means a suffix range of ``last`` bytes; ``last is None`` means "to the end".
    """

    first: int | None
    last: int | None

    def __post_init__(self) -> None:
        if self.first is None and self.last is None:
            raise ValueError("a byte range needs a first or a last position")
        if self.first is not None and self.last is not None and self.last < self.first:
            raise ValueError("a byte range cannot end before it starts")


def parse_range(value: bytes) -> ByteRange | None:
    """The single byte range of a Range field, or None to ignore the field (then: 200).

    None for other units, malformed syntax and lists of several ranges (answered in full, which
    RFC 9110 §14.2 allows: "A server MAY ignore the Range header field").
    """
    if len(value) > MAX_RANGE_FIELD:
        return None
    unit, equals, ranges = value.partition(b"=")
    # RFC 9110 §14.1: range units are compared case-insensitively.
    if not equals or unit.strip(_OWS).lower() != b"bytes":
        return None
    spec, _, rest = ranges.partition(b",")
    if rest.strip(b" \t,"):  # RFC 9110 §5.6.1: empty list elements do not count
        return None
    first, dash, last = spec.strip(_OWS).partition(b"-")
    if not dash or not (first or last):
        return None
    if (first and not first.isdigit()) or (last and not last.isdigit()):
        return None
    start, end = (int(first) if first else None), (int(last) if last else None)
    # RFC 9110 §14.1.1: a range whose last-pos is less than its first-pos is invalid.
    if start is not None and end is not None and end < start:
        return None
    return ByteRange(start, end)
