"""Hostile conditional, range and negotiation fields: never a 5xx, always the RFC's status.

Each generated request carries any mix of ``Accept-Encoding``, ``If-None-Match``,
``If-Modified-Since``, ``Range`` and ``If-Range`` fields (huge, malformed, repeated, with
non-ASCII bytes) and goes to uvicorn, gunicorn and wsgiref over a socket. The generators know
what each value means (a strategy yields the bytes and their meaning), and a small model of RFC
9110 §13.2.2 (preconditions, in order) and §14 (ranges) says which status must come back:

- If-None-Match matching the selected representation's tag (weak comparison) -> 304 (the
  selected representation is identity when a Range is honoured: the part is cut from it);
- else, without If-None-Match, a valid If-Modified-Since at or after Last-Modified -> 304;
- else a single valid byte range (If-Range absent or a strong match) -> 206, or 416 when it is
  unsatisfiable; several ranges, malformed ones and other units are ignored -> 200.

The selected representation is learnt from a reference request with the same Accept-Encoding
(and checked: its coding must be acceptable and its bytes must decode to the file).
Field lines repeated on the wire are one comma-joined value (RFC 9110 §5.3) on every server.

Where the RFC leaves the server a choice, the model names the choice staticserve documents in
``staticserve/core/headers.py``: a list field longer than 4096 bytes, a date longer than 64 and
a Range longer than 100 are ignored, and malformed members of If-None-Match are skipped.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from staticserve.manifest import Asset, Manifest

from ..conftest import examples as fast_examples
from .conftest import (
    SERVERS,
    RawReply,
    Server,
    Site,
    cpu_ticks,
    make_site,
    raw_request,
    record,
)

Lines = list[tuple[bytes, bytes]]


@dataclass
class Target:
    url: bytes
    asset: Asset
    content: bytes
    last_modified: int

    @property
    def tag(self) -> str:
        return self.asset.sha256[:16]

    def etag(self, coding: str = "identity") -> bytes:
        return (f'"{self.tag}"' if coding == "identity" else f'"{self.tag}-{coding}"').encode()


@dataclass
class Setup:
    site: Site
    servers: list[Server]
    targets: list[Target]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("headers")
    site = make_site(base / "project")
    manifest = Manifest.load(site.out)
    created = datetime.strptime(manifest.created, "%Y-%m-%dT%H:%M:%SZ")
    last_modified = calendar.timegm(created.timetuple())
    targets = []
    for logical, hashed in [
        ("css/app.css", True),
        ("css/app.css", False),
        ("media/clip.mp4", True),
    ]:
        asset = manifest.assets[logical]
        path = asset.path if hashed else logical
        content = (site.out / asset.path).read_bytes()
        targets.append(Target(b"/static/" + path.encode(), asset, content, last_modified))
    assert targets[0].asset.encodings, "the CSS must have precompressed variants"
    servers = []
    try:
        for kind in SERVERS:
            servers.append(Server(kind, site, "production", base / f"{kind}.log"))
        yield Setup(site, servers, targets)
    finally:
        for server in servers:
            server.stop()
    for server in servers:
        assert "Traceback" not in server.log_text(), server.log_text()[-3000:]


# -- value generators: (bytes, meaning) ---------------------------------------------------------

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
LONG_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_VCHARS = bytes(range(0x21, 0x7F)) + bytes(range(0x80, 0x100))


def http_date(seconds: int, form: str) -> bytes:
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    day, month = moment.weekday(), MONTHS[moment.month - 1]
    clock = f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    if form == "imf":
        text = f"{DAYS[day]}, {moment.day:02d} {month} {moment.year} {clock} GMT"
    elif form == "rfc850":
        text = f"{LONG_DAYS[day]}, {moment.day:02d}-{month}-{moment.year % 100:02d} {clock} GMT"
    else:  # asctime
        text = f"{DAYS[day]} {month} {moment.day:2d} {clock} {moment.year}"
    return text.encode()


def broken_date(seconds: int, how: str) -> bytes:
    """A date made invalid by the grammar (RFC 9110 §5.6.7), whatever the server's clock."""
    good = http_date(seconds, "imf").decode()
    broken = {
        "zone": good.replace("GMT", "UTC"),
        "no comma": good.replace(",", ""),
        "lower-case month": good.replace(good[8:11], good[8:11].lower()),
        "two-digit year": good[:12] + good[14:],
        "hour 24": good[:17] + "24" + good[19:],
        "day 32": good[:5] + "32" + good[7:],
        "words": "yesterday, around noon",
    }[how]
    return broken.encode()


def garbage(max_size: int = 40) -> st.SearchStrategy[bytes]:
    """Printable and non-ASCII bytes with no digit, quote or comma: no date, tag or range."""
    alphabet = [b for b in _VCHARS if chr(b) not in '0123456789",'] + [0x20]
    return st.lists(st.sampled_from(alphabet), min_size=1, max_size=max_size).map(
        lambda bs: bytes(bs).strip() or b"x"
    )


# Range: ("single", first, last) | ("ignore",)
def _number(value: int, zeros: int) -> bytes:
    return b"0" * zeros + b"%d" % value


@st.composite
def single_range(draw: st.DrawFn) -> tuple[bytes, tuple[object, ...]]:
    length = 200 * 1024
    small = st.integers(0, 7000)
    around = st.integers(length - 5, length + 5)
    huge = st.integers(10**15, 10**19)
    first = draw(st.one_of(small, around, huge))
    kind = draw(st.sampled_from(["first-last", "first-", "suffix"]))
    zeros = draw(st.sampled_from([0, 0, 0, 3, 40]))
    unit = draw(st.sampled_from([b"bytes", b"bytes", b"Bytes", b"BYTES"]))
    trailing = draw(st.sampled_from([b"", b"", b",", b", ,"]))
    if kind == "first-last":
        last = first + draw(st.one_of(st.integers(0, 100), st.integers(0, 10**7)))
        spec = _number(first, zeros) + b"-" + _number(last, 0)
        meaning: tuple[object, ...] = ("single", first, last)
    elif kind == "first-":
        spec, meaning = _number(first, zeros) + b"-", ("single", first, None)
    else:
        spec, meaning = b"-" + _number(first, zeros), ("single", None, first)
    return unit + b"=" + spec + trailing, meaning


@st.composite
def multiple_ranges(draw: st.DrawFn) -> tuple[bytes, tuple[object, ...]]:
    count = draw(st.integers(2, 6))
    specs = [b"%d-%d" % (i * 10, i * 10 + draw(st.integers(0, 9))) for i in range(count)]
    separator = draw(st.sampled_from([b",", b", ", b" ,\t"]))
    return b"bytes=" + separator.join(specs), ("ignore",)


INVALID_RANGES = [
    b"bytes=abc", b"bytes=5-3", b"bytes=--1", b"bytes=1-2-3", b"bytes 0-1", b"bytes=", b"bytes=-",
    b"=0-1", b"items=0-1", b"bytes=0x10-", b"bytes=+1-2", b"bytes=1 -2", b"bytes=1-+2",
    b"bytes=\xd9\xa3-5", b"bytes=0-1;q=1", b"none", b"bytes=0-0,-", b"bytes=-1-",
]  # fmt: skip
range_values = st.one_of(
    single_range(),
    multiple_ranges(),
    st.just((b"bytes=" + b"0-0," * 1999 + b"0-0", ("ignore",))),  # two thousand ranges
    st.sampled_from(INVALID_RANGES).map(lambda v: (v, ("ignore",))),
    garbage().map(lambda v: (v, ("ignore",))),
)


# If-Range: (bytes, kind) where kind names what it is compared with
@st.composite
def if_range_values(draw: st.DrawFn) -> tuple[bytes, str]:
    kind = draw(
        st.sampled_from(
            ["etag", "br-etag", "weak-etag", "other-etag", "date", "date+1", "garbage", "huge"]
        )
    )
    form = draw(st.sampled_from(["imf", "rfc850", "asctime"]))
    if kind == "garbage":
        return draw(garbage()), kind
    return {"huge": b'"' + b"a" * 5000 + b'"'}.get(kind, b""), kind + ":" + form


# If-None-Match members: (bytes, kind)
@st.composite
def inm_member(draw: st.DrawFn) -> tuple[bytes, str]:
    kind = draw(
        st.sampled_from(
            ["ours", "ours-weak", "other", "other-obs-text", "star", "token", "unclosed"]
        )
    )
    other = draw(st.sampled_from([b'"0123456789abcdef"', b'"x"', b'""', b'"a,b"', b'"W/x"']))
    value = {
        "other": other,
        "other-obs-text": b'"\x80\xfe\xff"',
        "star": b"*",
        "token": draw(garbage(12)).replace(b" ", b"-"),
        "unclosed": b'"unclosed',
    }.get(kind, b"")
    return value, kind


@st.composite
def inm_values(draw: st.DrawFn) -> tuple[list[tuple[bytes, str]], bytes]:
    """Members and the separator they are joined with; ``*`` alone is the wildcard."""
    if draw(st.integers(0, 9)) == 0:
        return [(b"*", "wildcard")], b""
    if draw(st.integers(0, 19)) == 0:
        return [(b'"' + b"f" * 5000 + b'"', "huge")], b""
    members = draw(st.lists(inm_member(), min_size=1, max_size=5))
    return members, draw(st.sampled_from([b", ", b",", b" , ", b",,"]))


# If-Modified-Since: (bytes, timestamp or None when invalid)
@st.composite
def ims_values(draw: st.DrawFn, last_modified: int) -> tuple[bytes, int | None]:
    kind = draw(st.sampled_from(["valid", "valid", "broken", "garbage", "huge"]))
    offset = draw(st.sampled_from([-400 * 86400, -86400, -1, 0, 0, 1, 3600, 3 * 365 * 86400]))
    moment = last_modified + offset
    if kind == "valid":
        return http_date(moment, draw(st.sampled_from(["imf", "rfc850", "asctime"]))), moment
    if kind == "broken":
        how = draw(
            st.sampled_from(
                ["zone", "no comma", "lower-case month", "two-digit year", "hour 24", "day 32"]
            )
        )
        return broken_date(moment, how), None
    if kind == "huge":
        return http_date(moment, "imf") + b" " * 10 + b"x" * 100, None
    return draw(garbage()), None


CODINGS = [b"br", b"gzip", b"x-gzip", b"zstd", b"deflate", b"identity", b"*", b"BR", b"Gzip"]
QVALUES = [b"", b";q=0", b";q=0.0", b";q=0.5", b";q=1", b";q=1.000", b";q=0.001", b"; q=0.8"]
BAD_QVALUES = [b";q=2", b";q=1.5", b";q=-1", b";q=0.0001", b";q=abc", b";q="]


@st.composite
def accept_encoding_values(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["list", "list", "list", "garbage", "huge", "non-ascii"]))
    if kind == "garbage":
        return draw(garbage())
    if kind == "huge":
        return b", ".join([b"gzip;q=0.5"] * 500)
    if kind == "non-ascii":
        return b"br\xff\xfe, gz\xe9ip, " + draw(st.sampled_from(CODINGS))
    members = draw(
        st.lists(
            st.tuples(st.sampled_from(CODINGS), st.sampled_from(QVALUES + BAD_QVALUES)).map(
                b"".join
            ),
            min_size=1,
            max_size=6,
        )
    )
    return draw(st.sampled_from([b", ", b","])).join(members)


@st.composite
def requests(draw: st.DrawFn, last_modified: int) -> dict[str, object]:
    """A request: the field lines of each kind (0-3 lines each) and what they mean."""

    def lines(strategy: st.SearchStrategy[object]) -> list[object]:
        count = draw(st.sampled_from([0, 0, 1, 1, 1, 2, 3]))
        return [draw(strategy) for _ in range(count)]

    return {
        "method": draw(st.sampled_from([b"GET", b"GET", b"GET", b"HEAD"])),
        "target": draw(st.integers(0, 2)),
        "accept": lines(accept_encoding_values()),
        "inm": lines(inm_values()),
        "ims": lines(ims_values(last_modified)),
        "range": lines(range_values),
        "if_range": lines(if_range_values()),
        "server": draw(st.integers(0, len(SERVERS) - 1)),
    }


# -- the model ----------------------------------------------------------------------------------

_ETAG = rb'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'


def accepted(field: bytes | None, coding: str) -> bool:
    """May ``coding`` be sent for this Accept-Encoding (RFC 9110 §12.5.3)? Malformed members
    are skipped; identity is always acceptable as the fallback (§12.5.3 lets the server send
    it when nothing else is)."""
    if coding == "identity" or field is None:
        return coding == "identity"
    names = {coding, "x-gzip"} if coding == "gzip" else {coding}
    granted, star = False, False
    for member in field.split(b","):
        name, _, params = member.partition(b";")
        token = name.strip(b" \t").lower()
        match = re.fullmatch(rb"[ \t]*q[ \t]*=[ \t]*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)[ \t]*", params)
        if params and not match:
            continue
        weight = float(match.group(1)) if match else 1.0
        try:
            text = token.decode("ascii")
        except UnicodeDecodeError:
            continue
        if text in names:
            granted = granted or weight > 0
        elif text == "*":
            star = star or weight > 0
    return granted or star


def inm_outcome(members: list[tuple[bytes, str]], raw: bytes, selected: bytes) -> set[bool]:
    """Whether If-None-Match fails the precondition (True: 304), as a set of allowed answers."""
    kinds = {kind for _, kind in members}
    if raw.strip(b" \t") == b"*":  # RFC 9110 §13.1.2: "*" alone matches any representation
        return {True}
    if "huge" in kinds:
        return {False}  # longer than the parser reads: no tag can match
    opaque = {m.removeprefix(b"W/") for m, kind in members if kind not in ("token", "star")}
    matched = selected in opaque
    if "unclosed" in kinds:  # the field is invalid; how the rest parses is the server's choice
        return {matched, False, True}
    return {matched}


def expected_statuses(request: dict[str, object], target: Target, selected: bytes) -> set[int]:
    inm = request["inm"]
    ims = request["ims"]
    ranges = request["range"]
    assert isinstance(inm, list)
    assert isinstance(ims, list)
    assert isinstance(ranges, list)
    honoured = range_honoured(request)
    if honoured:  # a part is cut from identity: the representation the validators describe
        selected = target.etag()
    # RFC 9110 §13.2.2 step 3: If-None-Match, then (step 4) If-Modified-Since without it.
    if inm:
        members = [m for value in inm for m in value[0]]
        raw = b",".join(_joined(value) for value in inm)
        not_modified = inm_outcome(members, raw, selected)
    elif len(ims) == 1 and ims[0][1] is not None:
        not_modified = {target.last_modified <= ims[0][1]}
    else:  # absent, invalid, or several lines (RFC 9110 §13.1.3: more than one member)
        not_modified = {False}
    allowed = {304} if True in not_modified else set()
    if False not in not_modified:
        return allowed
    if not honoured:
        return allowed | {200}
    _, first, last = ranges[0][1]
    return allowed | {_partial_status(first, last, len(target.content))}  # type: ignore[arg-type]


def range_honoured(request: dict[str, object]) -> bool:
    """True when the request's Range is answered (206 or 416) rather than ignored (200)."""
    ranges = request["range"]
    if_ranges = request["if_range"]
    assert isinstance(ranges, list)
    assert isinstance(if_ranges, list)
    # RFC 9110 §14.2: Range applies to GET only; §13.1.5: a failed If-Range means "ignore it".
    return not (
        request["method"] == b"HEAD"
        or len(ranges) != 1
        or ranges[0][1][0] != "single"
        or (if_ranges and not (len(if_ranges) == 1 and _if_range_matches(if_ranges[0][1])))
        or len(ranges[0][0]) > 100  # staticserve ignores ranges longer than a single one can be
    )


def _if_range_matches(kind: str) -> bool:
    return kind.split(":")[0] in ("etag", "date")


def _partial_status(first: int | None, last: int | None, length: int) -> int:
    if first is None:
        return 206 if last and length else 416
    return 206 if first < length else 416


def _partial_span(first: int | None, last: int | None, length: int) -> tuple[int, int]:
    if first is None:
        return max(length - (last or 0), 0), length
    return first, length if last is None or last >= length else last + 1


def _joined(value: tuple[list[tuple[bytes, str]], bytes]) -> bytes:
    members, separator = value
    return separator.join(m for m, _ in members)


def field_lines(request: dict[str, object], target: Target) -> Lines:
    out: Lines = []
    for value in request["accept"]:  # type: ignore[attr-defined]
        out.append((b"Accept-Encoding", value))
    for value in request["inm"]:  # type: ignore[attr-defined]
        members = [(target.etag() if kind == "ours" else m, kind) for m, kind in value[0]]
        members = [
            (b"W/" + target.etag() if kind == "ours-weak" else m, kind) for m, kind in members
        ]
        value[0][:] = members
        out.append((b"If-None-Match", _joined(value)))
    for value, _ in request["ims"]:  # type: ignore[attr-defined]
        out.append((b"If-Modified-Since", value))
    for value, _ in request["range"]:  # type: ignore[attr-defined]
        out.append((b"Range", value))
    for index, (value, kind) in enumerate(request["if_range"]):  # type: ignore[attr-defined]
        out.append((b"If-Range", value or _if_range_value(kind, target)))
        request["if_range"][index] = (out[-1][1], kind)  # type: ignore[index]
    return out


def _if_range_value(kind: str, target: Target) -> bytes:
    name, _, form = kind.partition(":")
    return {
        "etag": target.etag(),
        "br-etag": target.etag("br"),
        "weak-etag": b"W/" + target.etag(),
        "other-etag": b'"0000000000000000"',
        "date": http_date(target.last_modified, form or "imf"),
        "date+1": http_date(target.last_modified + 1, form or "imf"),
    }[name]


# -- the check ----------------------------------------------------------------------------------

counts = {"examples": 0, "requests": 0}


def exercise(setup: Setup, request: dict[str, object]) -> None:
    target = setup.targets[request["target"]]  # type: ignore[index]
    server = setup.servers[request["server"]]  # type: ignore[index]
    lines = field_lines(request, target)
    # Within every server's limit on a request head (gunicorn: 8190 bytes a field; h11: 16 KiB).
    assume(sum(len(n) + len(v) + 4 for n, v in lines) <= 12_000)
    counts["examples"] += 1
    accept = [(n, v) for n, v in lines if n == b"Accept-Encoding"]
    where = f"{server.kind} {target.url.decode()} {lines!r}"[:3000]

    reference = raw_request(server.port, target.url, accept)
    assert reference.status == 200, where
    selected = reference.header(b"etag") or b""
    coding = (reference.header(b"content-encoding") or b"identity").decode()
    combined_accept = b",".join(v for _, v in accept) if accept else None
    assert accepted(combined_accept, coding), f"{where}: sent {coding}"
    assert selected == target.etag(coding), where
    assert reference.decoded() == target.content, where
    assert (reference.header(b"vary") is not None) == bool(target.asset.encodings), where

    method = request["method"]
    assert isinstance(method, bytes)
    reply = raw_request(server.port, target.url, lines, method=method)
    counts["requests"] += 2
    allowed = expected_statuses(request, target, selected)
    assert reply.status in allowed, f"{where}: got {reply.status}, expected {sorted(allowed)}"
    assert reply.framing_ok, where
    check_reply(reply, method, target, reference, where, ranged=range_honoured(request))
    if reply.status == 206:  # the part the model expects
        _, first, last = request["range"][0][1]  # type: ignore[index]
        start, stop = _partial_span(first, last, len(target.content))
        assert reply.body == target.content[start:stop], where


def check_reply(
    reply: RawReply,
    method: bytes,
    target: Target,
    reference: RawReply,
    where: str,
    *,
    ranged: bool = False,
) -> None:
    length = len(target.content)
    if reply.status == 304:
        assert reply.body == b"", where
        # The tag of what would have been sent: identity's when a range was to be cut.
        expected = target.etag() if ranged else reference.header(b"etag")
        assert reply.header(b"etag") == expected, where
        assert reply.header(b"vary") == reference.header(b"vary"), where
        assert reply.header(b"cache-control") == reference.header(b"cache-control"), where
    elif reply.status == 200:
        assert reply.header(b"etag") == reference.header(b"etag"), where
        assert reply.header(b"content-length") == reference.header(b"content-length"), where
        assert reply.body == (b"" if method == b"HEAD" else reference.body), where
    elif reply.status == 206:
        span = re.fullmatch(rb"bytes (\d+)-(\d+)/(\d+)", reply.header(b"content-range") or b"")
        assert span is not None, where
        first, last, total = (int(g) for g in span.groups())
        assert total == length, where
        assert first <= last < length, where
        assert reply.body == target.content[first : last + 1], where
        assert reply.header(b"content-encoding") is None, where
        assert reply.header(b"etag") == target.etag(), where
    elif reply.status == 416:
        assert reply.header(b"content-range") == b"bytes */%d" % length, where
        assert reply.body == b"", where


def _fuzz(setup: Setup, examples: int) -> None:
    last_modified = setup.targets[0].last_modified

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=requests(last_modified))
    def run(request: dict[str, object]) -> None:
        exercise(setup, request)

    before = dict(counts)
    run()
    record("hostile headers: generated requests", counts["examples"] - before["examples"])
    record("hostile headers: HTTP exchanges", counts["requests"] - before["requests"])
    assert counts["examples"] - before["examples"] >= examples


def test_generated_hostile_headers(setup: Setup) -> None:
    _fuzz(setup, fast_examples(300))


@pytest.mark.slow
def test_many_generated_hostile_headers(setup: Setup) -> None:
    _fuzz(setup, 6000)


# -- fixed cases that the model must get right (so the model itself is tested) -----------------


@pytest.mark.parametrize("server_index", range(len(SERVERS)), ids=list(SERVERS))
def test_fixed_cases(setup: Setup, server_index: int) -> None:
    server = setup.servers[server_index]
    css, clip = setup.targets[0], setup.targets[2]
    lm = css.last_modified
    cases: list[tuple[Target, Lines, int]] = [
        (css, [], 200),
        (css, [(b"If-None-Match", css.etag())], 304),
        (css, [(b"If-None-Match", b"W/" + css.etag())], 304),
        (css, [(b"If-None-Match", b"*")], 304),
        (css, [(b"If-None-Match", b'"nope"'), (b"If-Modified-Since", http_date(lm, "imf"))], 200),
        (css, [(b"If-Modified-Since", http_date(lm, "imf"))], 304),
        (css, [(b"If-Modified-Since", http_date(lm, "rfc850"))], 304),
        (css, [(b"If-Modified-Since", http_date(lm, "asctime"))], 304),
        (css, [(b"If-Modified-Since", http_date(lm - 1, "imf"))], 200),
        (css, [(b"If-Modified-Since", broken_date(lm, "zone"))], 200),
        (clip, [(b"Range", b"bytes=0-0")], 206),
        (clip, [(b"Range", b"bytes=-1")], 206),
        (clip, [(b"Range", b"bytes=-0")], 416),
        (clip, [(b"Range", b"bytes=%d-" % len(clip.content))], 416),
        (clip, [(b"Range", b"bytes=0-1,3-4")], 200),
        (clip, [(b"Range", b"bytes=0-0"), (b"If-Range", clip.etag())], 206),
        (clip, [(b"Range", b"bytes=0-0"), (b"If-Range", b"W/" + clip.etag())], 200),
        (clip, [(b"Range", b"bytes=0-0"), (b"If-Range", http_date(lm, "imf"))], 206),
        (clip, [(b"Range", b"bytes=0-0"), (b"If-Range", http_date(lm + 1, "imf"))], 200),
        (clip, [(b"Range", b"bytes=0-0"), (b"If-None-Match", clip.etag())], 304),
        # Repeated lines are one comma-joined field on every server (RFC 9110 §5.3):
        (css, [(b"If-None-Match", css.etag()), (b"If-None-Match", b'"other"')], 304),
        (css, [(b"If-None-Match", b'"other"'), (b"If-None-Match", css.etag())], 304),
        (clip, [(b"Range", b"bytes=0-0"), (b"Range", b"bytes=1-1")], 200),
        (css, [(b"If-Modified-Since", http_date(lm, "imf"))] * 2, 200),
    ]
    for target, lines, status in cases:
        reply = raw_request(server.port, target.url, lines)
        assert reply.status == status, f"{server.kind} {lines!r}: {reply.status}"
        request = _request_for(lines, target)
        assert expected_statuses(request, target, target.etag()) == {status}, lines
    # Accept-Encoding on two lines: both are read.
    split = [(b"Accept-Encoding", b"identity;q=0.5"), (b"Accept-Encoding", b"br")]
    reply = raw_request(server.port, css.url, split)
    assert reply.header(b"content-encoding") == b"br", server.kind


def _request_for(lines: Lines, target: Target) -> dict[str, object]:
    """The model's view of fixed field lines."""

    request: dict[str, object] = {"method": b"GET", "accept": [], "ims": [], "range": []}
    request["inm"] = []
    request["if_range"] = []
    for name, value in lines:
        if name == b"If-None-Match":
            kind = "wildcard" if value == b"*" else "listed"
            request["inm"].append(([(value, kind)], b""))  # type: ignore[attr-defined]
        elif name == b"If-Modified-Since":
            request["ims"].append((value, _parse_date(value)))  # type: ignore[attr-defined]
        elif name == b"Range":
            match = re.fullmatch(rb"bytes=(\d*)-(\d*)", value)
            meaning: tuple[object, ...] = ("ignore",)
            if match and any(match.groups()):
                first, last = (int(g) if g else None for g in match.groups())
                meaning = ("single", first, last)
            request["range"].append((value, meaning))  # type: ignore[attr-defined]
        elif name == b"If-Range":
            if value.startswith((b'"', b"W/")):
                kind = "etag" if value == target.etag() else "other-etag"
            else:
                kind = "date" if _parse_date(value) == target.last_modified else "other-date"
            request["if_range"].append((value, kind))  # type: ignore[attr-defined]
    return request


def _parse_date(value: bytes) -> int | None:
    from email.utils import parsedate_to_datetime

    if b"GMT" not in value and not value[-4:].isdigit():
        return None
    try:
        return int(parsedate_to_datetime(value.decode()).timestamp())
    except (TypeError, ValueError):
        return None


# -- thousands of ranges cost no more than one request ------------------------------------------


def test_thousands_of_ranges_cost_no_more_than_a_plain_request(setup: Setup) -> None:
    """Measured in work, not wall time: bytes sent and the server's CPU ticks."""
    css = setup.targets[0]
    many = [(b"Range", b"bytes=" + b"0-0," * 1999 + b"0-0")]  # 8 KB, under gunicorn's field limit
    rounds = 1000
    for server in setup.servers:
        plain = raw_request(server.port, css.url)
        hostile = raw_request(server.port, css.url, many)
        # No multipart amplification: the answer is the plain 200, byte for byte.
        assert (hostile.status, hostile.body) == (200, plain.body), server.kind
        ticks = {}
        for name, lines in (("plain", []), ("many", many), ("plain again", [])):
            before = cpu_ticks(server.worker_pid)
            for _ in range(rounds):
                raw_request(server.port, css.url, lines)
            ticks[name] = cpu_ticks(server.worker_pid) - before
        baseline = max(ticks["plain"], ticks["plain again"], 1)
        record(f"hostile headers: CPU ticks for {rounds} requests ({server.kind})", ticks)
        # Generous: the 8 KB request head alone costs the server's parser something.
        assert ticks["many"] <= 2 * baseline + 10, (server.kind, ticks)
