"""plan_response: a table of requests against a small in-memory catalog, then properties."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from staticserve.core import (
    IMMUTABLE,
    CachePolicy,
    FileSlice,
    Request,
    Resource,
    ResponsePlan,
    VariantSource,
    build_resource,
    plan_response,
)
from staticserve.core.headers import format_http_date
from staticserve.core.resource import ONE_YEAR

NOW = 1_767_400_000
MODIFIED = 1_767_323_045  # Fri, 02 Jan 2026 03:04:05 GMT
BODY = b"0123456789" * 10  # 100 bytes
BR = b"b" * 30
GZIP = b"g" * 40
ZSTD = b"z" * 35
VIDEO = FileSlice("/srv/clip.mp4", 0, 1000, 1000)


def resource(
    *codings: str, cache: CachePolicy = IMMUTABLE, origin: bytes | None = b"*"
) -> Resource:
    bodies = {"identity": BODY, "br": BR, "gzip": GZIP, "zstd": ZSTD}
    variants = [
        VariantSource(c, "abc" if c == "identity" else f"abc-{c}", len(bodies[c]), bodies[c])
        for c in ("identity", *codings)
    ]
    return build_resource(
        variants,
        content_type=b"text/css; charset=utf-8",
        cache=cache,
        last_modified=MODIFIED,
        allow_origin=origin,
    )


@dataclass
class Catalog:
    entries: dict[bytes, Resource] = field(default_factory=dict)

    def find(self, path: bytes) -> Resource | None:
        return self.entries.get(path)


def make_catalog() -> Catalog:
    """A fresh catalog: each plan is made from resources built for it, so that no answer is
    remembered from another test (resources cache their negotiated choices)."""
    return Catalog(
        {
            b"/static/app.abc.css": resource("br", "gzip"),
            b"/static/app.css": resource("br", "gzip", cache=CachePolicy.short(60)),
            b"/static/all.css": resource("br", "gzip", "zstd"),
            b"/static/one.css": resource("gzip"),
            b"/static/plain.txt": resource(origin=None),
            b"/static/~me.css": resource(),
            b"/static/docs/": resource(cache=CachePolicy.short(60)),  # a folder's index file
            b"/static/my%20docs/": resource(cache=CachePolicy(b"no-cache")),
            b"/static/clip.mp4": build_resource(
                [VariantSource("identity", "vid", 1000, VIDEO)],
                content_type=b"video/mp4",
                cache=IMMUTABLE,
                last_modified=MODIFIED,
            ),
        }
    )


CATALOG = make_catalog()
PATHS = sorted(CATALOG.entries)


def plan(path: str, method: str = "GET", now: int = NOW, **headers: str) -> ResponsePlan | None:
    fields = {k.replace("_", "-").encode(): v.encode() for k, v in headers.items()}
    return plan_response(Request(method, path.encode(), fields, now), make_catalog())


def field_of(result: ResponsePlan | None, name: bytes) -> bytes | None:
    assert result is not None
    return dict(result.headers).get(name)


CASES = [
    # (id, plan arguments, status, content-encoding, body)
    ("a plain GET gets identity", ("/static/app.abc.css",), {}, 200, None, BODY),
    (
        "brotli is preferred as the smallest",
        ("/static/app.abc.css",),
        {"accept_encoding": "gzip, br"},
        200,
        b"br",
        BR,
    ),
    (
        "gzip when brotli is refused",
        ("/static/app.abc.css",),
        {"accept_encoding": "gzip, br;q=0"},
        200,
        b"gzip",
        GZIP,
    ),
    (
        "gzip;q=0 refuses gzip",
        ("/static/app.abc.css",),
        {"accept_encoding": "gzip;q=0"},
        200,
        None,
        BODY,
    ),
    (
        "the wildcard accepts brotli",
        ("/static/app.abc.css",),
        {"accept_encoding": "*"},
        200,
        b"br",
        BR,
    ),
    (
        "the least weight still accepts",
        ("/static/app.abc.css",),
        {"accept_encoding": "br;q=0.001"},
        200,
        b"br",
        BR,
    ),
    (
        "*;q=0 leaves identity anyway",
        ("/static/app.abc.css",),
        {"accept_encoding": "*;q=0"},
        200,
        None,
        BODY,
    ),
    (
        "identity;q=0 with gzip gets gzip",
        ("/static/app.abc.css",),
        {"accept_encoding": "identity;q=0, gzip"},
        200,
        b"gzip",
        GZIP,
    ),
    (
        "a higher q wins over a smaller variant",
        ("/static/all.css",),
        {"accept_encoding": "gzip;q=1, zstd;q=0.5"},
        200,
        b"gzip",
        GZIP,
    ),
    (
        "br;q=0.1 loses to gzip;q=1",
        ("/static/app.abc.css",),
        {"accept_encoding": "br;q=0.1, gzip;q=1"},
        200,
        b"gzip",
        GZIP,
    ),
    (
        "identity competes: its higher q wins",
        ("/static/app.abc.css",),
        {"accept_encoding": "gzip;q=0.5, identity;q=1"},
        200,
        None,
        BODY,
    ),
    (
        "equal q: the smallest variant",
        ("/static/all.css",),
        {"accept_encoding": "gzip;q=0.5, zstd;q=0.5"},
        200,
        b"zstd",
        ZSTD,
    ),
    (
        "an empty field means identity",
        ("/static/app.abc.css",),
        {"accept_encoding": ""},
        200,
        None,
        BODY,
    ),
    (
        "HEAD has the headers and no body",
        ("/static/app.abc.css", "HEAD"),
        {"accept_encoding": "br"},
        200,
        b"br",
        b"",
    ),
    ("an escaped tilde finds its file", ("/static/%7Eme.css",), {}, 200, None, BODY),
    ("POST is not allowed", ("/static/app.abc.css", "POST"), {}, 405, None, b""),
    ("a lower-case method is another method", ("/static/app.abc.css", "get"), {}, 405, None, b""),
    (
        "If-None-Match with our tag is not modified",
        ("/static/app.abc.css",),
        {"if_none_match": '"abc"'},
        304,
        None,
        b"",
    ),
    (
        "a 304 of a logical name (no Expires) is empty",
        ("/static/app.css",),
        {"if_none_match": '"abc"'},
        304,
        None,
        b"",
    ),
    (
        "the br tag matches the br response",
        ("/static/app.abc.css",),
        {"if_none_match": '"abc-br"', "accept_encoding": "br"},
        304,
        None,
        b"",
    ),
    (
        "the br tag does not match identity",
        ("/static/app.abc.css",),
        {"if_none_match": '"abc-br"'},
        200,
        None,
        BODY,
    ),
    ("a first-byte range", ("/static/app.abc.css",), {"range": "bytes=0-0"}, 206, None, b"0"),
    ("a last-byte range", ("/static/app.abc.css",), {"range": "bytes=-1"}, 206, None, b"9"),
    (
        "a range is of identity even when br is accepted",
        ("/static/app.abc.css",),
        {"range": "bytes=0-4", "accept_encoding": "br"},
        206,
        None,
        b"01234",
    ),
    ("an unsatisfiable range", ("/static/app.abc.css",), {"range": "bytes=100-"}, 416, None, b""),
    (
        "a malformed range is ignored",
        ("/static/app.abc.css",),
        {"range": "bytes=x-y"},
        200,
        None,
        BODY,
    ),
    (
        "several ranges get everything",
        ("/static/app.abc.css",),
        {"range": "bytes=0-1,3-4"},
        200,
        None,
        BODY,
    ),
    ("HEAD ignores Range", ("/static/app.abc.css", "HEAD"), {"range": "bytes=0-0"}, 200, None, b""),
    ("HEAD of a logical name has no body", ("/static/app.css", "HEAD"), {}, 200, None, b""),
    ("GET of a logical name", ("/static/app.css",), {"accept_encoding": "br"}, 200, b"br", BR),
    (
        "If-Range with our tag allows the range",
        ("/static/app.abc.css",),
        {"range": "bytes=0-0", "if_range": '"abc"'},
        206,
        None,
        b"0",
    ),
    (
        "If-Range with an old tag sends everything",
        ("/static/app.abc.css",),
        {"range": "bytes=0-0", "if_range": '"old"'},
        200,
        None,
        BODY,
    ),
    (
        "If-Range with the Last-Modified date",
        ("/static/app.abc.css",),
        {"range": "bytes=0-0", "if_range": "Fri, 02 Jan 2026 03:04:05 GMT"},
        206,
        None,
        b"0",
    ),
    # Preconditions (RFC 9110 §13.2.2): If-Match, else If-Unmodified-Since, then If-None-Match,
    # else If-Modified-Since, then If-Range.
    ("If-Match with our tag", ("/static/app.abc.css",), {"if_match": '"abc"'}, 200, None, BODY),
    ("If-Match with the wildcard", ("/static/app.abc.css",), {"if_match": "*"}, 200, None, BODY),
    ("If-Match with an old tag", ("/static/app.abc.css",), {"if_match": '"old"'}, 412, None, b""),
    (
        "If-Match compares strongly",
        ("/static/app.abc.css",),
        {"if_match": 'W/"abc"'},
        412,
        None,
        b"",
    ),
    (
        "If-Match with the tag of the negotiated variant",
        ("/static/app.abc.css",),
        {"if_match": '"abc-br"', "accept_encoding": "br"},
        200,
        b"br",
        BR,
    ),
    (
        "If-Match with the br tag when identity is selected",
        ("/static/app.abc.css",),
        {"if_match": '"abc-br"'},
        412,
        None,
        b"",
    ),
    (
        "a HEAD with an old If-Match tag",
        ("/static/app.abc.css", "HEAD"),
        {"if_match": '"old"'},
        412,
        None,
        b"",
    ),
    (
        "If-Match is evaluated before If-None-Match",
        ("/static/app.abc.css",),
        {"if_match": '"old"', "if_none_match": '"abc"'},
        412,
        None,
        b"",
    ),
    (
        "If-Match holds, If-None-Match matches",
        ("/static/app.abc.css",),
        {"if_match": '"abc"', "if_none_match": '"abc"'},
        304,
        None,
        b"",
    ),
    (
        "a resumed download of changed content",
        ("/static/app.abc.css",),
        {"range": "bytes=50-", "if_match": '"old"'},
        412,
        None,
        b"",
    ),
    (
        "a resumed download of the same content",
        ("/static/app.abc.css",),
        {"range": "bytes=50-", "if_match": '"abc"'},
        206,
        None,
        BODY[50:],
    ),
    (
        "a range is of identity, so the br tag fails If-Match",
        ("/static/app.abc.css",),
        {"range": "bytes=50-", "if_match": '"abc-br"', "accept_encoding": "br"},
        412,
        None,
        b"",
    ),
    (
        "a range is of identity, so identity's tag passes If-Match",
        ("/static/app.abc.css",),
        {"range": "bytes=50-", "if_match": '"abc"', "accept_encoding": "br"},
        206,
        None,
        BODY[50:],
    ),
    (
        "a range ignored for If-Range: If-Match compares the negotiated variant",
        ("/static/app.abc.css",),
        {
            "range": "bytes=0-0",
            "if_range": '"old"',
            "if_match": '"abc-br"',
            "accept_encoding": "br",
        },
        200,
        b"br",
        BR,
    ),
    (
        "If-Match fails before the range is found unsatisfiable",
        ("/static/app.abc.css",),
        {"range": "bytes=500-", "if_match": '"old"'},
        412,
        None,
        b"",
    ),
    (
        "If-Unmodified-Since an earlier date",
        ("/static/app.abc.css",),
        {"range": "bytes=50-", "if_unmodified_since": "Thu, 01 Jan 2026 00:00:00 GMT"},
        412,
        None,
        b"",
    ),
    (
        "If-Unmodified-Since the Last-Modified date",
        ("/static/app.abc.css",),
        {"range": "bytes=50-", "if_unmodified_since": "Fri, 02 Jan 2026 03:04:05 GMT"},
        206,
        None,
        BODY[50:],
    ),
    (
        "If-Unmodified-Since is ignored beside If-Match",
        ("/static/app.abc.css",),
        {"if_match": '"abc"', "if_unmodified_since": "Thu, 01 Jan 2026 00:00:00 GMT"},
        200,
        None,
        BODY,
    ),
    (
        "an invalid If-Unmodified-Since is ignored",
        ("/static/app.abc.css",),
        {"if_unmodified_since": "yesterday"},
        200,
        None,
        BODY,
    ),
    (
        "other methods ignore preconditions",
        ("/static/app.abc.css", "PUT"),
        {"if_match": '"old"'},
        405,
        None,
        b"",
    ),
    (
        "a range of a file on disk is a file slice",
        ("/static/clip.mp4",),
        {"range": "bytes=10-19"},
        206,
        None,
        FileSlice("/srv/clip.mp4", 10, 10, 1000),
    ),
]


@pytest.mark.parametrize(
    ("args", "headers", "status", "coding", "body"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_plans_follow_the_table(
    args: tuple[str, ...],
    headers: dict[str, str],
    status: int,
    coding: bytes | None,
    body: bytes | FileSlice,
) -> None:
    result = plan(*args, **headers)
    assert result is not None
    assert (result.status, field_of(result, b"content-encoding"), result.body) == (
        status,
        coding,
        body,
    )


@pytest.mark.parametrize(
    "path",
    ["/static/missing.css", "/static/../static/app.css", "/other/app.css", "/static/app.abc.css/"],
)
def test_unknown_paths_are_not_ours(path: str) -> None:
    assert plan(path) is None


REDIRECTS = [
    ("no query", b"/static/docs", b"", b"docs/"),
    ("the query kept", b"/static/docs", b"a=1&b=%20", b"docs/?a=1&b=%20"),
    ("an encoded name", b"/static/my%20docs", b"", b"my%20docs/"),
    ("an odd spelling of it", b"/static/my docs", b"", b"my%20docs/"),
    ("a query byte a field cannot carry", b"/static/docs", b"q=\xe9\x7f", b"docs/?q=%E9%7F"),
]


@pytest.mark.parametrize(
    ("path", "query", "location"), [c[1:] for c in REDIRECTS], ids=[c[0] for c in REDIRECTS]
)
def test_a_folder_path_without_its_slash_redirects(
    path: bytes, query: bytes, location: bytes
) -> None:
    result = plan_response(Request("GET", path, {}, NOW, query), CATALOG)
    assert result is not None
    assert result.status == 302
    assert field_of(result, b"location") == location
    assert field_of(result, b"content-length") == b"0"
    assert result.body == b""


@pytest.mark.parametrize("mount", ["", "/app", "/a/b"])
def test_the_redirect_resolves_under_any_mount(mount: str) -> None:
    # The core sees the path below the mount; the browser resolves the relative Location
    # against the URL it asked for (RFC 3986 §5.2), mount included.
    result = plan_response(Request("GET", b"/static/docs", {}, NOW, b"x=1"), CATALOG)
    location = field_of(result, b"location")
    assert location is not None
    asked = f"https://example.com{mount}/static/docs?x=1"
    assert urljoin(asked, location.decode()) == f"https://example.com{mount}/static/docs/?x=1"


def test_the_redirect_is_cached_as_briefly_as_the_index_it_leads_to() -> None:
    assert field_of(plan("/static/docs"), b"cache-control") == b"public, max-age=60"
    assert field_of(plan("/static/my%20docs"), b"cache-control") == b"no-cache"
    assert plan("/static/docs", "HEAD").status == 302  # type: ignore[union-attr]
    assert plan("/static/docs", "POST").status == 405  # type: ignore[union-attr]
    assert plan("/static/app.css/x") is None
    assert plan("/static/../static/docs") is None


def test_a_405_says_which_methods_are_allowed() -> None:
    assert field_of(plan("/static/app.css", "DELETE"), b"allow") == b"GET, HEAD"


def test_hashed_files_expire_a_year_from_now() -> None:
    result = plan("/static/app.abc.css")
    assert field_of(result, b"cache-control") == b"public, max-age=31536000, immutable"
    assert field_of(result, b"expires") == b"Sun, 03 Jan 2027 00:26:40 GMT"


def test_logical_names_have_a_short_max_age_and_no_expires() -> None:
    result = plan("/static/app.css")
    assert field_of(result, b"cache-control") == b"public, max-age=60"
    assert field_of(result, b"expires") is None


@pytest.mark.parametrize("accept", ["", "br", "gzip", "identity"])
def test_vary_is_on_every_response_of_a_file_with_variants(accept: str) -> None:
    for extra in ({}, {"if_none_match": '"abc"'}, {"range": "bytes=0-0"}, {"range": "bytes=999-"}):
        assert field_of(plan("/static/app.css", accept_encoding=accept, **extra), b"vary") == (
            b"Accept-Encoding"
        )


def test_a_file_without_variants_has_no_vary() -> None:
    assert field_of(plan("/static/plain.txt"), b"vary") is None


EVERY_STATUS = {
    "200": ({}, 200),
    "200 gzip": ({"accept_encoding": "gzip"}, 200),
    "304": ({"if_none_match": '"abc"'}, 304),
    "206": ({"range": "bytes=0-0"}, 206),
    "416": ({"range": "bytes=999-"}, 416),
    "412": ({"if_match": '"old"'}, 412),
}


@pytest.mark.parametrize(("headers", "status"), EVERY_STATUS.values(), ids=list(EVERY_STATUS))
def test_a_file_with_a_single_compressed_variant_has_vary(
    headers: dict[str, str], status: int
) -> None:
    # Identity and gzip only: the answer still depends on Accept-Encoding.
    result = plan("/static/one.css", **headers)
    assert result is not None
    assert (result.status, field_of(result, b"vary")) == (status, b"Accept-Encoding")


def test_expires_follows_the_clock_on_every_dated_answer() -> None:
    path = b"/static/app.abc.css"
    for now in (NOW, NOW + 1, NOW + 1, NOW + 3600, NOW + 86400 * 400, NOW):
        expected = format_http_date(now + ONE_YEAR)
        for method, extra in (
            ("GET", {}),
            ("HEAD", {}),
            ("GET", {b"accept-encoding": b"br"}),
            ("GET", {b"if-none-match": b'"abc"'}),
            ("GET", {b"range": b"bytes=0-0"}),
            ("GET", {b"range": b"bytes=999-"}),
        ):
            result = plan_response(Request(method, path, extra, now), CATALOG)
            assert field_of(result, b"expires") == expected, (now - NOW, method, extra)


def test_a_412_has_validators_vary_and_cors_but_no_body_and_is_never_stored() -> None:
    result = plan("/static/app.abc.css", accept_encoding="br", if_match='"old"')
    assert result is not None
    assert (result.status, result.body) == (412, b"")
    # RFC 9110 §15.5.13 asks for no field; the ETag and Last-Modified of the selected
    # representation let a client restart its download, Vary and CORS keep caches and
    # cross-origin readers correct, and no-store keeps a cache from serving it to others.
    assert list(result.headers) == [
        (b"content-length", b"0"),
        (b"etag", b'"abc-br"'),
        (b"last-modified", b"Fri, 02 Jan 2026 03:04:05 GMT"),
        (b"cache-control", b"no-store"),
        (b"vary", b"Accept-Encoding"),
        (b"access-control-allow-origin", b"*"),
        (b"x-content-type-options", b"nosniff"),
    ]


def test_configured_cache_fields_do_not_make_a_412_storable() -> None:
    custom = build_resource(
        [VariantSource("identity", "abc", 3, b"abc")],
        content_type=b"text/plain; charset=utf-8",
        cache=IMMUTABLE,
        extra_headers=[(b"cache-control", b"public, max-age=600"), (b"x-extra", b"1")],
    )
    request = Request("GET", b"/x", {b"if-match": b'"old"'}, NOW)
    result = plan_response(request, Catalog({b"/x": custom}))
    assert result is not None
    assert result.status == 412
    assert field_of(result, b"cache-control") == b"no-store"
    assert field_of(result, b"expires") is None
    assert field_of(result, b"x-extra") == b"1"


VARY_MERGES = [
    ("a configured field is added", 2, [b"Origin"], b"Accept-Encoding, Origin"),
    (
        "names already there are not repeated, whatever their case",
        2,
        [b"accept-encoding, Origin, ORIGIN"],
        b"Accept-Encoding, Origin",
    ),
    (
        "several rules add up in order",
        2,
        [b"Origin", b"Accept-Language", b"origin"],
        b"Accept-Encoding, Origin, Accept-Language",
    ),
    ("empty members are dropped", 2, [b" Origin ,, "], b"Accept-Encoding, Origin"),
    ("the wildcard stands alone", 2, [b"Origin", b"*"], b"*"),
    ("a file without variants gets the configured field only", 1, [b"Origin"], b"Origin"),
    ("an empty configured field leaves the default", 2, [b""], b"Accept-Encoding"),
]


@pytest.mark.parametrize(
    ("variants", "configured", "expected"),
    [c[1:] for c in VARY_MERGES],
    ids=[c[0] for c in VARY_MERGES],
)
@pytest.mark.parametrize(("headers", "status"), EVERY_STATUS.values(), ids=list(EVERY_STATUS))
def test_a_configured_vary_is_merged_on_every_status(
    variants: int,
    configured: list[bytes],
    expected: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    sources = [
        VariantSource("identity", "abc", 100, BODY),
        VariantSource("gzip", "abc-gzip", 40, GZIP),
    ]
    custom = build_resource(
        sources[:variants],
        content_type=b"text/css; charset=utf-8",
        cache=IMMUTABLE,
        last_modified=MODIFIED,
        extra_headers=[(b"vary", value) for value in configured],
    )
    fields = {k.replace("_", "-").encode(): v.encode() for k, v in headers.items()}
    result = plan_response(Request("GET", b"/x", fields, NOW), Catalog({b"/x": custom}))
    assert result is not None
    assert result.status == status
    assert [value for name, value in result.headers if name == b"vary"] == (
        [expected] if expected else []
    )


def test_a_304_keeps_validators_caching_vary_and_cors_but_no_content_fields() -> None:
    result = plan("/static/app.abc.css", if_none_match='"abc"')
    assert result is not None
    names = [name for name, _ in result.headers]
    assert names == [
        b"etag",
        b"last-modified",
        b"cache-control",
        b"vary",
        b"access-control-allow-origin",
        b"expires",
    ]


def test_a_416_names_the_length_and_keeps_caching_and_cors() -> None:
    result = plan("/static/app.abc.css", range="bytes=500-")
    assert field_of(result, b"content-range") == b"bytes */100"
    assert field_of(result, b"access-control-allow-origin") == b"*"
    assert field_of(result, b"cache-control") == b"public, max-age=31536000, immutable"
    assert field_of(result, b"expires") is not None


def test_a_206_describes_the_part() -> None:
    result = plan("/static/app.abc.css", range="bytes=10-19")
    assert field_of(result, b"content-range") == b"bytes 10-19/100"
    assert field_of(result, b"content-length") == b"10"
    assert field_of(result, b"etag") == b'"abc"'


EVERY_KIND_OF_ANSWER = [
    {},
    {"accept_encoding": "br"},
    {"accept_encoding": "gzip"},
    {"if_none_match": '"abc"'},
    {"if_none_match": '"abc-br"', "accept_encoding": "br"},
    {"range": "bytes=1-2"},
    {"range": "bytes=999-"},
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE"])
def test_every_header_name_is_lower_case(path: str, method: str) -> None:
    # ASGI servers and HTTP/2 (RFC 9113 §8.2.1) take field names in lower case only.
    for headers in EVERY_KIND_OF_ANSWER:
        result = plan(path.decode(), method, **headers)
        assert result is not None
        names = [name for name, _ in result.headers]
        assert names == [name.lower() for name in names], (headers, names)


# The fields every answer about the identity of /static/app.abc.css carries, in their order.
IDENTITY_VALIDATORS_AND_CACHING = (
    (b"etag", b'"abc"'),
    (b"accept-ranges", b"bytes"),
    (b"access-control-allow-origin", b"*"),
    (b"x-content-type-options", b"nosniff"),
    (b"last-modified", b"Fri, 02 Jan 2026 03:04:05 GMT"),
    (b"cache-control", b"public, max-age=31536000, immutable"),
    (b"vary", b"Accept-Encoding"),
    (b"expires", b"Sun, 03 Jan 2027 00:26:40 GMT"),
)


def test_a_206_has_the_fields_of_the_identity_200_with_the_part_s_length() -> None:
    result = plan("/static/app.abc.css", range="bytes=10-19", accept_encoding="br")
    assert result is not None
    assert result.headers == (
        (b"content-type", b"text/css; charset=utf-8"),
        *IDENTITY_VALIDATORS_AND_CACHING,
        (b"content-range", b"bytes 10-19/100"),
        (b"content-length", b"10"),
    )


def test_a_416_is_empty_and_keeps_validators_caching_and_cors() -> None:
    result = plan("/static/app.abc.css", range="bytes=500-")
    assert result is not None
    assert (result.status, result.body) == (416, b"")
    assert result.headers == (
        (b"content-range", b"bytes */100"),
        (b"content-length", b"0"),
        *IDENTITY_VALIDATORS_AND_CACHING,
    )


def test_a_200_lists_its_fields_in_a_fixed_order() -> None:
    result = plan("/static/app.abc.css", accept_encoding="br")
    assert result is not None
    assert result.headers == (
        (b"content-type", b"text/css; charset=utf-8"),
        (b"content-length", b"30"),
        (b"content-encoding", b"br"),
        (b"etag", b'"abc-br"'),
        (b"last-modified", b"Fri, 02 Jan 2026 03:04:05 GMT"),
        (b"cache-control", b"public, max-age=31536000, immutable"),
        (b"vary", b"Accept-Encoding"),
        (b"accept-ranges", b"bytes"),
        (b"access-control-allow-origin", b"*"),
        (b"x-content-type-options", b"nosniff"),
        (b"expires", b"Sun, 03 Jan 2027 00:26:40 GMT"),
    )


def test_expires_moves_with_the_clock_on_one_resource() -> None:
    catalog = make_catalog()

    def expires(now: int, headers: dict[bytes, bytes] | None = None) -> bytes | None:
        request = Request("GET", b"/static/app.abc.css", headers or {}, now)
        return field_of(plan_response(request, catalog), b"expires")

    assert expires(NOW) == b"Sun, 03 Jan 2027 00:26:40 GMT"
    assert expires(NOW) == b"Sun, 03 Jan 2027 00:26:40 GMT"
    assert expires(NOW + 1) == b"Sun, 03 Jan 2027 00:26:41 GMT"
    assert expires(NOW + 1, {b"if-none-match": b'"abc"'}) == b"Sun, 03 Jan 2027 00:26:41 GMT"
    assert expires(NOW) == b"Sun, 03 Jan 2027 00:26:40 GMT"


def test_a_file_with_one_compressed_form_varies_by_accept_encoding() -> None:
    result = plan_response(Request("GET", b"/x", {}, NOW), Catalog({b"/x": resource("br")}))
    assert field_of(result, b"vary") == b"Accept-Encoding"


def test_a_compressed_form_no_smaller_than_the_file_is_not_preferred() -> None:
    # Among codings of equal q-value the smallest wins; at equal size, identity.
    same_size = build_resource(
        [VariantSource("identity", "abc", 3, b"abc"), VariantSource("br", "abc-br", 3, b"xyz")],
        content_type=b"text/plain; charset=utf-8",
        cache=IMMUTABLE,
    )
    fields = {b"accept-encoding": b"br, identity"}
    result = plan_response(Request("GET", b"/x", fields, NOW), Catalog({b"/x": same_size}))
    assert result is not None
    assert (field_of(result, b"content-encoding"), result.body) == (None, b"abc")


def test_a_plan_with_a_status_the_core_never_sends_cannot_be_made() -> None:
    # a folder's redirect is a 302; a 301 would be kept by browsers past the next build
    with pytest.raises(ValueError, match=r"^the core never answers 301$"):
        ResponsePlan(301, (), b"")


def test_a_file_with_one_form_is_not_negotiated() -> None:
    result = plan("/static/plain.txt", accept_encoding="br, gzip")
    assert result is not None
    assert field_of(result, b"vary") is None
    assert field_of(result, b"content-encoding") is None


def test_if_range_reads_a_two_digit_year_against_the_clock() -> None:
    # RFC 9110 §5.6.7: in 2026, "75" is 2075 (less than 50 years ahead), not 1975.
    in_2075 = 3313526400  # Tue, 01 Jan 2075 00:00:00 GMT
    dated = build_resource(
        [VariantSource("identity", "abc", 3, b"abc")],
        content_type=b"text/plain; charset=utf-8",
        cache=IMMUTABLE,
        last_modified=in_2075,
    )
    fields = {b"range": b"bytes=0-0", b"if-range": b"Tuesday, 01-Jan-75 00:00:00 GMT"}
    result = plan_response(Request("GET", b"/x", fields, NOW), Catalog({b"/x": dated}))
    assert result is not None
    assert (result.status, result.body) == (206, b"a")


def test_extra_headers_replace_defaults_of_the_same_name() -> None:
    custom = build_resource(
        [VariantSource("identity", "abc", 3, b"abc")],
        content_type=b"text/plain; charset=utf-8",
        cache=IMMUTABLE,
        extra_headers=[(b"cache-control", b"no-store"), (b"x-extra", b"1")],
    )
    result = plan_response(Request("GET", b"/x", {}, NOW), Catalog({b"/x": custom}))
    assert field_of(result, b"cache-control") == b"no-store"
    assert field_of(result, b"x-extra") == b"1"


def test_variants_without_identity_are_refused() -> None:
    with pytest.raises(
        ValueError, match=r"^a resource needs its identity \(uncompressed\) variant$"
    ):
        build_resource([VariantSource("br", "a-br", 2, b"xx")], content_type=b"x", cache=IMMUTABLE)


@pytest.mark.parametrize(
    ("tag", "length", "body", "message"),
    [
        ("", 2, b"xx", "entity tag text '' must be"),
        ("a b", 2, b"xx", "entity tag text 'a b' must be"),
        ('a"b', 2, b"xx", "must be letters"),
        ("é", 2, b"xx", "must be letters"),
        ("a-b.c_D9", 3, b"xx", "identity body has 2 bytes, expected 3"),
    ],
)
def test_a_variant_with_a_bad_tag_or_length_cannot_be_made(
    tag: str, length: int, body: bytes, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        VariantSource("identity", tag, length, body)


def test_a_resource_must_hold_its_identity_representation() -> None:
    one, other = resource(), resource()
    with pytest.raises(
        ValueError, match=r"^the identity representation must be one of the representations$"
    ):
        Resource(
            representations=one.representations,
            identity=other.representations[0].__class__("identity", b'"x"', 1, b"x", (), (), ()),
            last_modified=None,
            expires_after=None,
            partial_headers=(),
            unsatisfiable_headers=(),
        )


@pytest.mark.parametrize(
    ("offset", "length", "size"), [(90, 20, 100), (-1, 5, 100), (0, -1, 100), (101, 0, 100)]
)
def test_a_file_slice_cannot_reach_outside_the_file(offset: int, length: int, size: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        FileSlice("/x", offset, length, size)


@pytest.mark.parametrize(("offset", "length"), [(0, 0), (100, 0), (0, 100), (99, 1)])
def test_a_file_slice_may_be_empty_or_the_whole_file(offset: int, length: int) -> None:
    assert FileSlice("/x", offset, length, 100).length == length


HEADER_NAMES = st.sampled_from(
    [
        b"accept-encoding",
        b"if-match",
        b"if-unmodified-since",
        b"if-none-match",
        b"if-modified-since",
        b"range",
        b"if-range",
    ]
)


@given(
    st.sampled_from(PATHS),
    st.sampled_from(["GET", "HEAD", "POST", "OPTIONS"]),
    st.dictionaries(HEADER_NAMES, st.binary(max_size=80)),
)
def test_any_header_values_give_a_valid_plan(
    path: bytes, method: str, headers: dict[bytes, bytes]
) -> None:
    result = plan_response(Request(method, path, headers, NOW), make_catalog())
    assert result is not None
    assert result.status in (200, 206, 304, 405, 412, 416)
    if isinstance(result.body, bytes) and result.status in (200, 206) and method == "GET":
        assert field_of(result, b"content-length") == b"%d" % len(result.body)


# -- near misses of catalog entries ------------------------------------------------------------
#
# Each mutation turns an entry's path into another spelling and says what a user expects of it:
# the entry itself (an equivalent spelling, RFC 3986 §6.2.2) or nothing at all (None: the
# request goes on to the wrapped app). Every generated example has one of the two outcomes by
# construction, so both are checked on every run.

ENTRIES = sorted(CATALOG.entries)
UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
Mutation = tuple[bytes, bytes | None]  # (the path requested, the entry it must serve, or None)


def _positions(path: bytes, allowed: bytes, start: int = 1) -> list[int]:
    """Where a character of ``allowed`` stands for itself (not inside a ``%XX`` escape)."""
    escaped = {j for i in range(len(path)) if path[i : i + 1] == b"%" for j in (i + 1, i + 2)}
    return [i for i in range(start, len(path)) if path[i] in allowed and i not in escaped]


@st.composite
def near_misses(draw: st.DrawFn) -> tuple[str, bytes, Mutation]:
    entry = draw(st.sampled_from(ENTRIES))
    kind = draw(st.sampled_from(sorted(_MUTATIONS)))
    return kind, entry, _MUTATIONS[kind](draw, entry)


def _escaped_unreserved(draw: st.DrawFn, entry: bytes) -> Mutation:
    # RFC 3986 §2.3: an escaped unreserved character is the character itself.
    i = draw(st.sampled_from(_positions(entry, UNRESERVED)))
    escape = draw(st.sampled_from([b"%%%02X", b"%%%02x"])) % entry[i]
    return entry[:i] + escape + entry[i + 1 :], entry


def _case_changed(draw: st.DrawFn, entry: bytes) -> Mutation:
    i = draw(st.sampled_from(_positions(entry, bytes(range(65, 91)) + bytes(range(97, 123)))))
    return entry[:i] + entry[i : i + 1].swapcase() + entry[i + 1 :], None


def _climbing(draw: st.DrawFn, entry: bytes) -> Mutation:
    i = draw(st.sampled_from(_positions(entry, b"/", start=0)))
    climb = draw(st.sampled_from([b"/x/..", b"/.", b"/%2e%2e/static", b"/..%2F", b"/%2E"]))
    return entry[:i] + climb + entry[i:], None


def _encoded_slash(draw: st.DrawFn, entry: bytes) -> Mutation:
    i = draw(st.sampled_from(_positions(entry, b"/")))
    return entry[:i] + draw(st.sampled_from([b"%2f", b"%2F", b"%5c", b"\\"])) + entry[i + 1 :], None


def _doubled_slash(draw: st.DrawFn, entry: bytes) -> Mutation:
    i = draw(st.sampled_from(_positions(entry, b"/", start=0)))
    return entry[:i] + b"/" + entry[i:], None


def _suffixed(draw: st.DrawFn, entry: bytes) -> Mutation:
    suffix = draw(st.sampled_from([b".", b"/", b"%2e", b"%00", b"%00.png", b"~", b";x", b"%20"]))
    return entry + suffix, None


def _shortened(draw: st.DrawFn, entry: bytes) -> Mutation:
    cut = draw(st.integers(min_value=1, max_value=4))
    return entry[:-cut], None


_MUTATIONS = {
    "escaped unreserved character": _escaped_unreserved,
    "case changed": _case_changed,
    "climbing segment": _climbing,
    "encoded or back slash": _encoded_slash,
    "doubled slash": _doubled_slash,
    "suffixed": _suffixed,
    "shortened": _shortened,
}


@given(near_misses())
def test_near_misses_of_catalog_entries_serve_that_entry_or_nothing(
    case: tuple[str, bytes, Mutation],
) -> None:
    kind, entry, (path, expected) = case
    event(kind)
    assert path != entry
    result = plan_response(Request("GET", path, {}, NOW), CATALOG)
    if expected is None and path + b"/" in CATALOG.entries:
        # A folder's URL without its slash: redirected to the folder, never served as it.
        assert result is not None
        assert (result.status, dict(result.headers)[b"location"][-1:]) == (302, b"/")
    elif expected is None:
        assert result is None, f"{path!r} ({kind} of {entry!r}) was served"
    else:
        assert result == plan_response(Request("GET", expected, {}, NOW), CATALOG)
        assert result is not None
        assert result.status == 200
