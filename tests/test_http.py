"""Every HTTP behaviour, once, against both adapters.

``asgi`` runs Starlette under uvicorn and ``wsgi`` runs Flask under wsgiref, both on 127.0.0.1
with a real client; the ``-inprocess`` ids run the same checks through httpx's ASGI/WSGI
transports. Bodies are compared as raw bytes (no automatic decompression).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import brotli
import httpx
import pytest

from staticserve.errors import ManifestError
from staticserve.manifest import MANIFEST_NAME

from .conftest import (
    CREATED,
    CREATED_HTTP,
    CSS,
    JS,
    STREAM_CHUNKS,
    Build,
    LiveServer,
    start_uvicorn,
    wrap,
    write_build,
)

try:  # Python 3.14+, else the backport the zstd extra installs
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the interpreter
    from backports import zstd


YEAR = 365 * 24 * 3600
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes


class Site:
    """One adapter behind one transport; ``serve()`` picks the middleware options."""

    def __init__(self, kind: str, build: Build, apps: dict[str, Any], server: LiveServer | None):
        self.kind = kind
        self.adapter = kind.split("-")[0]
        self.build = build
        self.bare = apps[self.adapter]
        self.server = server
        self.app: Any = None
        self.serve()

    def serve(self, root: Path | None = None, **options: Any) -> Any:
        """Wrap the framework app with these options and route requests to it."""
        return self.use(wrap(self.adapter, self.bare, root or self.build.root, **options))

    def use(self, app: Any) -> Any:
        self.app = app
        if self.server is not None:
            self.server.switch.target = app
        return app

    def get(self, path: str, **headers: str) -> Reply:
        return self.request("GET", path, headers)

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        target: bytes | None = None,
    ) -> Reply:
        fields = {k.replace("_", "-"): v for k, v in (headers or {}).items()}
        request = httpx.Request(
            method,
            "http://testserver" + path,
            headers=fields,
            content=content,
            extensions={"target": target} if target else {},
        )
        request.headers.pop("accept-encoding", None)  # only what the test says
        for name, value in fields.items():
            request.headers[name] = value
        if self.adapter == "asgi" and self.server is None:
            return asyncio.run(self._send_async(request))
        transport: httpx.BaseTransport = (
            httpx.WSGITransport(app=self.app) if self.server is None else httpx.HTTPTransport()
        )
        if self.server is not None:
            request.url = request.url.copy_with(
                scheme="http", host="127.0.0.1", port=self.server.port
            )
        with httpx.Client(transport=transport) as client:
            response = client.send(request, stream=True)
            try:
                return Reply(response.status_code, response.headers, b"".join(response.iter_raw()))
            finally:
                response.close()

    async def _send_async(self, request: httpx.Request) -> Reply:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.send(request, stream=True)
            body = b"".join([chunk async for chunk in response.aiter_raw()])
            await response.aclose()
            return Reply(response.status_code, response.headers, body)


@pytest.fixture(params=["asgi", "wsgi", "asgi-inprocess", "wsgi-inprocess"])
def site(
    request: pytest.FixtureRequest,
    static_build: Build,
    framework_apps: dict[str, Any],
    live_servers: dict[str, LiveServer],
) -> Site:
    kind: str = request.param
    return Site(kind, static_build, framework_apps, live_servers.get(kind))


@pytest.fixture(params=["asgi", "wsgi"])
def live_site(
    request: pytest.FixtureRequest,
    static_build: Build,
    framework_apps: dict[str, Any],
    live_servers: dict[str, LiveServer],
) -> Site:
    """Real sockets only: for raw request targets and disconnects."""
    return Site(request.param, static_build, framework_apps, live_servers[request.param])


def decoded(reply: Reply) -> bytes:
    coding = reply.headers.get("content-encoding")
    decoders = {"br": brotli.decompress, "gzip": gzip.decompress, "zstd": zstd.decompress}
    return decoders[coding](reply.body) if coding else reply.body


# -- caching -----------------------------------------------------------------------------------


def test_hashed_names_are_cached_for_a_year_with_expires(site: Site) -> None:
    before = int(time.time())
    reply = site.get(site.build.hashed("css/app.css"))
    assert reply.status == 200
    assert reply.headers["cache-control"] == IMMUTABLE
    expires = httpx_date(reply.headers["expires"])
    assert before + YEAR <= expires <= int(time.time()) + YEAR
    assert reply.headers["last-modified"] == CREATED_HTTP


def test_expires_follows_the_clock_not_the_first_request(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The adapters read the clock once per request; plans are prepared once a second.
    start = 1_800_000_000
    clock = [start]
    monkeypatch.setattr(f"staticserve.{site.adapter}.time", lambda: clock[0] + 0.25)
    url = site.build.hashed("css/app.css")
    tag = site.build.etag("css/app.css")
    for step in (0, 1, 1, 3600, 10 * YEAR, 0):
        clock[0] = start + step
        replies = {
            "GET": site.get(url),
            "GET br": site.get(url, accept_encoding="br"),
            "HEAD": site.request("HEAD", url),
            "304": site.get(url, if_none_match=tag),
            "206": site.get(url, range="bytes=0-0"),
            "416": site.get(url, range="bytes=999999-"),
        }
        assert {
            name: httpx_date(r.headers["expires"]) for name, r in replies.items()
        } == dict.fromkeys(replies, start + step + YEAR), step


def test_logical_names_get_a_short_max_age_and_no_expires(site: Site) -> None:
    reply = site.get("/static/css/app.css")
    assert reply.body == CSS
    assert reply.headers["cache-control"] == "public, max-age=60"
    assert "expires" not in reply.headers


def test_the_short_max_age_is_configurable(site: Site) -> None:
    site.serve(max_age=5)
    assert site.get("/static/css/app.css").headers["cache-control"] == "public, max-age=5"


def httpx_date(value: str) -> int:
    from email.utils import parsedate_to_datetime

    return int(parsedate_to_datetime(value).timestamp())


# -- content negotiation -----------------------------------------------------------------------

NEGOTIATION = [
    ("brotli preferred", "css/app.css", "gzip, deflate, br", "br"),
    ("gzip when brotli is not offered by the client", "css/app.css", "gzip", "gzip"),
    ("gzip;q=0 refuses gzip", "css/app.css", "gzip;q=0, identity", None),
    ("br;q=0 falls back to gzip", "css/app.css", "br;q=0, gzip", "gzip"),
    ("identity;q=0 still gets a coding", "css/app.css", "identity;q=0, gzip", "gzip"),
    ("*;q=0 refuses every coding: identity anyway", "css/app.css", "*;q=0", None),
    ("zstd accepted but not built: brotli", "css/app.css", "zstd, br", "br"),
    ("zstd built and smallest", "js/app.js", "gzip, br, zstd", None),  # see test below
    ("a file without variants ignores the field", "img/logo.png", "br, gzip", None),
    ("no field means identity", "css/app.css", "", None),
    ("a higher q wins over a smaller variant", "css/app.css", "br;q=0.1, gzip;q=1", "gzip"),
    ("identity with the highest q wins", "css/app.css", "gzip;q=0.5, identity;q=1", None),
    ("equal q: the smallest variant", "css/app.css", "gzip;q=0.5, br;q=0.5", "br"),
]


@pytest.mark.parametrize(
    ("logical", "accept", "coding"),
    [c[1:] for c in NEGOTIATION if c[0] != "zstd built and smallest"],
    ids=[c[0] for c in NEGOTIATION if c[0] != "zstd built and smallest"],
)
def test_content_negotiation(site: Site, logical: str, accept: str, coding: str | None) -> None:
    headers = {"accept_encoding": accept} if accept else {}
    reply = site.get(site.build.hashed(logical), **headers)
    assert reply.headers.get("content-encoding") == coding
    assert int(reply.headers["content-length"]) == len(reply.body)
    assert decoded(reply) == site.build.contents[logical]


def test_the_smallest_acceptable_variant_wins(site: Site) -> None:
    asset = site.build.asset("js/app.js")
    smallest = min(asset.encodings, key=lambda coding: asset.encodings[coding])
    reply = site.get(site.build.hashed("js/app.js"), accept_encoding="gzip, br, zstd")
    assert reply.headers["content-encoding"] == smallest
    assert decoded(reply) == JS


def test_brotli_preferred(site: Site) -> None:
    reply = site.get(site.build.hashed("css/app.css"), accept_encoding="gzip, deflate, br, zstd")
    assert reply.headers["content-encoding"] == "br"
    assert brotli.decompress(reply.body) == CSS


def test_vary_is_sent_on_every_response_of_a_file_with_variants(site: Site) -> None:
    url = site.build.hashed("css/app.css")
    etag = site.build.etag("css/app.css")
    replies = [
        site.get(url),
        site.get(url, accept_encoding="br"),
        site.get(url, if_none_match=etag),
        site.get(url, range="bytes=0-0"),
        site.get(url, range="bytes=999999-"),
        site.request("HEAD", url),
    ]
    assert [r.status for r in replies] == [200, 200, 304, 206, 416, 200]
    assert all(r.headers["vary"] == "Accept-Encoding" for r in replies)


def test_a_file_without_variants_sends_no_vary(site: Site) -> None:
    assert "vary" not in site.get(site.build.hashed("img/logo.png")).headers


def test_a_file_with_a_single_compressed_variant_sends_vary(site: Site) -> None:
    # The earlier build's stylesheet was kept with a gzip variant only.
    path = site.build.retained_path
    assert list(site.build.manifest.retained[path].encodings) == ["gzip"]
    url = "/static/" + path
    identity = site.get(url)
    replies = [
        identity,
        site.get(url, accept_encoding="gzip"),
        site.get(url, if_none_match=identity.headers["etag"]),
        site.get(url, range="bytes=0-0"),
        site.get(url, if_match='"0123456789abcdef"'),
        site.request("HEAD", url),
    ]
    assert [r.status for r in replies] == [200, 200, 304, 206, 412, 200]
    assert replies[1].headers["content-encoding"] == "gzip"
    assert all(r.headers.get_list("vary") == ["Accept-Encoding"] for r in replies)


def test_a_configured_vary_is_merged_with_accept_encoding_never_replacing_it(site: Site) -> None:
    site.serve(headers={"*": {"Vary": "Origin"}, ".css": {"Vary": "origin, Accept-Language"}})
    url = site.build.hashed("css/app.css")
    br_tag = site.build.etag("css/app.css", "br")
    replies = {
        "200 br": site.get(url, accept_encoding="br"),
        "200 identity": site.get(url),
        "HEAD": site.request("HEAD", url, {"accept_encoding": "br"}),
        "206": site.get(url, range="bytes=0-0", accept_encoding="br"),
        "304": site.get(url, accept_encoding="br", if_none_match=br_tag),
        "412": site.get(url, accept_encoding="br", if_match='"0123456789abcdef"'),
        "416": site.get(url, range="bytes=999999-"),
    }
    assert replies["200 br"].headers["content-encoding"] == "br"
    assert {name: r.status for name, r in replies.items()} == {
        "200 br": 200,
        "200 identity": 200,
        "HEAD": 200,
        "206": 206,
        "304": 304,
        "412": 412,
        "416": 416,
    }
    # One field, so that a shared cache keys on Accept-Encoding as well as on Origin.
    assert {name: r.headers.get_list("vary") for name, r in replies.items()} == {
        name: ["Accept-Encoding, Origin, Accept-Language"] for name in replies
    }
    # A file without variants gets the configured field alone.
    logo = site.get(site.build.hashed("img/logo.png"))
    assert logo.headers.get_list("vary") == ["Origin"]


# -- validators and conditional requests -------------------------------------------------------


def test_etags_differ_per_encoding_and_come_from_the_content_hash(site: Site) -> None:
    url = site.build.hashed("css/app.css")
    digest = hashlib.sha256(CSS).hexdigest()[:16]
    tags = {
        coding: site.get(url, accept_encoding=coding).headers["etag"]
        for coding in ("identity", "br", "gzip")
    }
    assert tags == {"identity": f'"{digest}"', "br": f'"{digest}-br"', "gzip": f'"{digest}-gzip"'}


IF_NONE_MATCH = [
    ("our tag", "{tag}", 304),
    ("our tag, weak", "W/{tag}", 304),
    ("our tag in a list", '"nope", {tag}, "other"', 304),
    ("the wildcard", "*", 304),
    ("another tag", '"nope"', 200),
]


@pytest.mark.parametrize(
    ("field", "status"), [c[1:] for c in IF_NONE_MATCH], ids=[c[0] for c in IF_NONE_MATCH]
)
def test_if_none_match(site: Site, field: str, status: int) -> None:
    reply = site.get(
        site.build.hashed("css/app.css"),
        if_none_match=field.format(tag=site.build.etag("css/app.css")),
    )
    assert reply.status == status


def test_a_304_keeps_etag_caching_vary_and_cors_and_has_no_body(site: Site) -> None:
    url = site.build.hashed("css/app.css")
    reply = site.get(url, accept_encoding="br", if_none_match=site.build.etag("css/app.css", "br"))
    assert reply.status == 304
    assert reply.body == b""
    assert reply.headers["etag"] == site.build.etag("css/app.css", "br")
    assert reply.headers["cache-control"] == IMMUTABLE
    assert "expires" in reply.headers
    assert reply.headers["vary"] == "Accept-Encoding"
    assert reply.headers["access-control-allow-origin"] == "*"
    assert reply.headers["last-modified"] == CREATED_HTTP


def test_if_modified_since_applies_only_without_if_none_match(site: Site) -> None:
    url = "/static/css/app.css"
    assert site.get(url, if_modified_since=CREATED_HTTP).status == 304
    assert site.get(url, if_modified_since="Thu, 01 Jan 2026 00:00:00 GMT").status == 200
    assert site.get(url, if_modified_since=CREATED_HTTP, if_none_match='"nope"').status == 200


# -- preconditions: If-Match and If-Unmodified-Since (RFC 9110 §13.1.1, §13.1.4) -------------

OLD_TAG = '"0123456789abcdef"'
EARLIER_HTTP = "Thu, 01 Jan 2026 00:00:00 GMT"  # before the build's Last-Modified

IF_MATCH = [
    ("our tag", "{tag}", 200),
    ("our tag in a list", '"nope", {tag}', 200),
    ("the wildcard", "*", 200),
    ("another tag", OLD_TAG, 412),
    ("our tag, weak: strong comparison fails", "W/{tag}", 412),
]


@pytest.mark.parametrize(
    ("field", "status"), [c[1:] for c in IF_MATCH], ids=[c[0] for c in IF_MATCH]
)
def test_if_match(site: Site, field: str, status: int) -> None:
    reply = site.get(
        site.build.hashed("css/app.css"), if_match=field.format(tag=site.build.etag("css/app.css"))
    )
    assert reply.status == status
    assert reply.body == (CSS if status == 200 else b"")


def test_if_match_compares_the_tag_of_the_variant_that_would_be_sent(site: Site) -> None:
    url = site.build.hashed("css/app.css")
    br_tag = site.build.etag("css/app.css", "br")
    assert site.get(url, accept_encoding="br", if_match=br_tag).status == 200
    assert site.get(url, if_match=br_tag).status == 412  # identity would be sent
    # A range is served from identity: the br tag would splice identity bytes onto br ones.
    ranged = site.get(url, accept_encoding="br", range="bytes=10-", if_match=br_tag)
    assert ranged.status == 412
    ranged = site.get(url, range="bytes=10-", if_match=site.build.etag("css/app.css"))
    assert (ranged.status, ranged.body) == (206, CSS[10:])


def test_if_unmodified_since(site: Site) -> None:
    url = "/static/css/app.css"
    assert site.get(url, if_unmodified_since=CREATED_HTTP).status == 200
    assert site.get(url, if_unmodified_since=EARLIER_HTTP).status == 412
    assert site.get(url, if_unmodified_since="yesterday").status == 200  # invalid: ignored
    tag = site.build.etag("css/app.css")
    # RFC 9110 §13.1.4: ignored when If-Match is present.
    assert site.get(url, if_unmodified_since=EARLIER_HTTP, if_match=tag).status == 200


def test_preconditions_are_evaluated_in_the_rfc_order(site: Site) -> None:
    url = site.build.hashed("css/app.css")
    tag = site.build.etag("css/app.css")
    assert site.get(url, if_match=OLD_TAG, if_none_match=tag).status == 412
    assert site.get(url, if_match=tag, if_none_match=tag).status == 304
    assert site.get(url, if_unmodified_since=EARLIER_HTTP, if_none_match=tag).status == 412
    assert site.get(url, if_match=OLD_TAG, range="bytes=999999-").status == 412
    assert site.request("HEAD", url, {"if_match": OLD_TAG}).status == 412
    assert site.request("POST", url, {"if_match": OLD_TAG}, content=b"x").status == 405


def test_a_412_carries_validators_vary_and_cors_and_is_never_stored(site: Site) -> None:
    reply = site.get(site.build.hashed("css/app.css"), accept_encoding="br", if_match=OLD_TAG)
    assert reply.status == 412
    assert reply.body == b""
    assert reply.headers["content-length"] == "0"
    assert reply.headers["etag"] == site.build.etag("css/app.css", "br")
    assert reply.headers["last-modified"] == CREATED_HTTP
    assert reply.headers["vary"] == "Accept-Encoding"
    assert reply.headers["access-control-allow-origin"] == "*"
    assert reply.headers["cache-control"] == "no-store"
    assert "expires" not in reply.headers
    assert "content-encoding" not in reply.headers


def test_a_resumed_download_of_a_file_changed_by_a_deploy_gets_412_not_spliced_bytes(
    site: Site, fresh_static_build: Build
) -> None:
    site.serve(fresh_static_build.root, reload_interval=0.1)
    url = "/static/css/app.css"  # a logical name: its content changes with the next build
    first = site.get(url)
    tag, modified = first.headers["etag"], first.headers["last-modified"]
    # The download broke after 100 bytes; resuming it before the deploy continues it.
    before = site.get(url, range="bytes=100-", if_match=tag)
    assert (before.status, first.body[:100] + before.body) == (206, CSS)
    new = publish_next_build(fresh_static_build, created="2026-03-04T05:06:07Z")
    assert wait_for(lambda: site.get(url).body == NEW_CSS)
    for conditions in ({"if_match": tag}, {"if_unmodified_since": modified}):
        resumed = site.get(url, range="bytes=100-", **conditions)
        assert (resumed.status, resumed.body) == (412, b""), conditions
        assert resumed.headers["etag"] == new.etag("css/app.css")  # what to start again with


# -- ranges ------------------------------------------------------------------------------------

RANGES = [
    ("first byte", "bytes=0-0", 0, 1),
    ("last byte", "bytes=-1", -1, None),
    ("a middle slice", "bytes=100-199", 100, 200),
    ("from an offset to the end", "bytes=4000-", 4000, None),
    ("a suffix", "bytes=-500", -500, None),
    ("a last position past the end", "bytes=5000-999999999", 5000, None),
]


@pytest.mark.parametrize(
    ("field", "start", "stop"), [c[1:] for c in RANGES], ids=[c[0] for c in RANGES]
)
@pytest.mark.parametrize("logical", ["media/clip.mp4", "css/app.css"], ids=["on-disk", "in-memory"])
def test_single_ranges_get_206(
    site: Site, logical: str, field: str, start: int, stop: int | None
) -> None:
    content = site.build.contents[logical]
    reply = site.get(site.build.hashed(logical), range=field, accept_encoding="br, gzip")
    expected = content[start:stop]
    first = start % len(content)
    assert reply.status == 206
    assert reply.body == expected
    assert reply.headers["content-range"] == (
        f"bytes {first}-{first + len(expected) - 1}/{len(content)}"
    )
    assert reply.headers["content-length"] == str(len(expected))
    assert "content-encoding" not in reply.headers  # ranges are of the identity representation
    assert reply.headers["accept-ranges"] == "bytes"


def test_an_unsatisfiable_range_gets_416_with_length_caching_and_cors(site: Site) -> None:
    reply = site.get(site.build.hashed("media/clip.mp4"), range="bytes=307200-")
    assert reply.status == 416
    assert reply.headers["content-range"] == "bytes */307200"
    assert reply.headers["cache-control"] == IMMUTABLE
    assert "expires" in reply.headers
    assert reply.headers["access-control-allow-origin"] == "*"
    assert reply.body == b""


@pytest.mark.parametrize(
    "field",
    ["bytes=abc", "bytes=5-3", "items=0-1", "bytes=0-1,5-6", "bytes=" + "0-1," * 1000],
    ids=["letters", "backwards", "unknown unit", "two ranges", "a thousand ranges"],
)
def test_malformed_and_multiple_ranges_get_the_whole_file(site: Site, field: str) -> None:
    reply = site.get(site.build.hashed("css/app.css"), range=field)
    assert reply.status == 200
    assert reply.body == CSS


def test_if_range_with_the_current_tag_or_date_allows_the_range(site: Site) -> None:
    url = site.build.hashed("media/clip.mp4")
    assert (
        site.get(url, range="bytes=0-0", if_range=site.build.etag("media/clip.mp4")).status == 206
    )
    assert site.get(url, range="bytes=0-0", if_range=CREATED_HTTP).status == 206


def test_if_range_with_an_old_tag_gets_the_whole_file(site: Site) -> None:
    url = site.build.hashed("media/clip.mp4")
    reply = site.get(url, range="bytes=0-0", if_range='"0123456789abcdef"')
    assert reply.status == 200
    assert len(reply.body) == 307200


def test_every_asset_response_says_it_accepts_ranges(site: Site) -> None:
    for logical in ("css/app.css", "img/logo.png", "media/clip.mp4"):
        assert site.get(site.build.hashed(logical)).headers["accept-ranges"] == "bytes"


# -- methods, content types, extra headers -----------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_other_methods_on_a_served_path_get_405_with_allow(site: Site, method: str) -> None:
    reply = site.request(method, site.build.hashed("css/app.css"), content=b"x")
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, HEAD"


def test_head_sends_the_same_headers_and_no_body(site: Site) -> None:
    url = site.build.hashed("css/app.css")
    get, head = (
        site.get(url, accept_encoding="br"),
        site.request("HEAD", url, {"accept_encoding": "br"}),
    )
    assert head.status == 200
    assert head.body == b""
    ignore = {"date", "expires", "server", "connection"}
    assert {k: v for k, v in head.headers.items() if k not in ignore} == {
        k: v for k, v in get.headers.items() if k not in ignore
    }


CONTENT_TYPES = {
    "css/app.css": "text/css; charset=utf-8",
    "js/app.js": "text/javascript; charset=utf-8",
    "js/app.js.map": "application/json",
    "img/logo.png": "image/png",
    "img/my logo.svg": "image/svg+xml",
    "fonts/icons.woff2": "font/woff2",
    "media/clip.mp4": "video/mp4",
    "data/site.webmanifest": "application/manifest+json",
    "robots.txt": "text/plain; charset=utf-8",
}


@pytest.mark.parametrize(("logical", "expected"), CONTENT_TYPES.items(), ids=list(CONTENT_TYPES))
def test_content_types(site: Site, logical: str, expected: str) -> None:
    reply = site.get(site.build.hashed(logical))
    assert reply.headers["content-type"] == expected
    assert reply.headers["x-content-type-options"] == "nosniff"


def test_names_that_need_quoting_are_served(site: Site) -> None:
    url = site.build.hashed("img/my logo.svg")
    assert "%20" in url
    assert site.get(url).body == site.build.contents["img/my logo.svg"]


def test_an_empty_file_is_served_empty(site: Site) -> None:
    reply = site.get("/static/data/empty.txt")
    assert (reply.status, reply.body, reply.headers["content-length"]) == (200, b"", "0")


def test_cors_can_be_switched_off_or_set(site: Site) -> None:
    site.serve(allow_origin=None)
    assert "access-control-allow-origin" not in site.get("/static/css/app.css").headers
    site.serve(allow_origin="https://example.com")
    reply = site.get("/static/css/app.css")
    assert reply.headers["access-control-allow-origin"] == "https://example.com"


def test_extra_headers_apply_per_glob_and_extension(site: Site) -> None:
    site.serve(
        headers={
            "fonts/*": {"Cross-Origin-Resource-Policy": "cross-origin"},
            ".css": {"Cache-Control": "no-cache"},
        }
    )
    font = site.get(site.build.hashed("fonts/icons.woff2"))
    assert font.headers["cross-origin-resource-policy"] == "cross-origin"
    assert site.get("/static/css/app.css").headers["cache-control"] == "no-cache"
    assert "cross-origin-resource-policy" not in site.get("/static/robots.txt").headers


def test_the_index_file_serves_directory_paths_when_enabled(site: Site) -> None:
    assert site.get("/static/docs/").body.startswith(b"app 404")
    site.serve(index_file="index.html")
    reply = site.get("/static/docs/")
    assert reply.body == site.build.contents["docs/index.html"]
    assert reply.headers["content-type"] == "text/html; charset=utf-8"


def test_a_folder_without_its_slash_redirects_to_it_keeping_the_query(site: Site) -> None:
    site.serve(index_file="index.html")
    reply = site.get("/static/docs?lang=en&x=%20")
    assert reply.status == 302
    # Relative, so that it resolves under whatever path the app is mounted at.
    assert reply.headers["location"] == "docs/?lang=en&x=%20"
    assert reply.headers["cache-control"] == "public, max-age=60"
    assert reply.headers["content-length"] == "0"
    followed = site.get(urljoin("/static/docs?lang=en", reply.headers["location"]))
    assert followed.body == site.build.contents["docs/index.html"]
    assert site.get("/static/docs").headers["location"] == "docs/"
    assert site.request("HEAD", "/static/docs").status == 302


def test_without_an_index_file_a_folder_path_still_reaches_the_app(site: Site) -> None:
    assert site.get("/static/docs").body == b"app 404: /static/docs"
    site.serve(index_file="index.html")
    assert site.get("/static/css").body == b"app 404: /static/css"  # no css/index.html


# -- what is and is not served -----------------------------------------------------------------


def test_the_manifest_is_never_served(site: Site) -> None:
    assert (site.build.root / MANIFEST_NAME).exists()
    reply = site.get(f"/static/{MANIFEST_NAME}")
    assert reply.status == 404
    assert reply.body == f"app 404: /static/{MANIFEST_NAME}".encode()


def test_files_on_disk_but_not_in_the_manifest_are_not_served(site: Site) -> None:
    (site.build.root / "stray.txt").write_text("not published")
    assert site.get("/static/stray.txt").body == b"app 404: /static/stray.txt"


def test_the_retained_file_of_an_earlier_build_is_still_served(site: Site) -> None:
    reply = site.get("/static/" + site.build.retained_path, accept_encoding="gzip")
    assert reply.status == 200
    assert reply.headers["cache-control"] == IMMUTABLE
    assert gzip.decompress(reply.body).startswith(b"/* the previous build's styles */")


def test_unknown_paths_under_the_prefix_can_get_a_404_instead_of_the_app(site: Site) -> None:
    site.serve(fall_through=False)
    reply = site.get("/static/missing.css")
    assert reply.status == 404
    assert reply.body == b"Not Found\n"
    assert site.get("/api/data").status == 200  # outside the prefix: still the app


# -- fall-through ------------------------------------------------------------------------------

FALL_THROUGH = [
    ("a JSON route", "GET", "/api/data", None),
    ("a POST with a body", "POST", "/api/echo", b"payload " * 5000),
    ("a POST to a JSON route", "POST", "/api/data", b"{}"),
    ("a streamed response", "GET", "/api/stream", None),
    ("the app's 404 under the prefix", "GET", "/static/missing.css", None),
    ("a path that only starts like the prefix", "GET", "/staticfoo/app.css", None),
]


@pytest.mark.parametrize(
    ("method", "path", "content"), [c[1:] for c in FALL_THROUGH], ids=[c[0] for c in FALL_THROUGH]
)
def test_everything_else_reaches_the_app_byte_for_byte(
    site: Site, method: str, path: str, content: bytes | None
) -> None:
    wrapped = site.request(method, path, content=content)
    site.use(site.bare)
    bare = site.request(method, path, content=content)
    ignore = {"date", "server"}
    assert (wrapped.status, wrapped.body) == (bare.status, bare.body)
    assert [h for h in wrapped.headers.multi_items() if h[0] not in ignore] == [
        h for h in bare.headers.multi_items() if h[0] not in ignore
    ]
    if path == "/api/stream":
        assert wrapped.body == b"".join(STREAM_CHUNKS)


HOSTILE = [
    ("dot-dot", b"/static/../static/css/app.css"),
    ("encoded dot-dot", b"/static/%2e%2e/%2e%2e/etc/passwd"),
    ("double-encoded dot-dot", b"/static/%252e%252e/etc/passwd"),
    ("encoded slash", b"/static/css%2fapp.css"),
    ("backslash", b"/static/css\\app.css"),
    ("encoded backslash", b"/static/..%5c..%5cetc/passwd"),
    ("encoded NUL", b"/static/css/app.css%00.png"),
    ("double slash", b"/static//css/app.css"),
    ("dotfile", b"/static/.env"),
    ("the manifest via dot-dot", b"/static/css/../staticserve.json"),
    ("overlong UTF-8", b"/static/%c0%ae%c0%ae/etc/passwd"),
    ("invalid UTF-8", b"/static/%ff%fe.css"),
    ("a huge path", b"/static/" + b"a/" * 3000 + b"app.css"),
]


@pytest.mark.parametrize("target", [c[1] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_paths_fall_through_to_the_app_and_never_500(
    live_site: Site, target: bytes
) -> None:
    reply = live_site.request("GET", "/", target=target)
    assert reply.status < 500
    assert reply.body != CSS
    assert b"root:" not in reply.body
    if reply.status == 404:  # servers may refuse some targets with a 400 themselves
        assert reply.body.startswith(b"app 404")


# -- deploys -----------------------------------------------------------------------------------

NEW_CSS = b"/* the next build */\n" + CSS


def publish_next_build(build: Build, created: str = CREATED) -> Build:
    previous = build.asset("css/app.css")
    return write_build(
        build.root,
        {"css/app.css": (NEW_CSS, ("br", "gzip"))},
        retained={previous.path: previous},
        generation=3,
        created=created,
    )


def wait_for(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_new_build_is_picked_up_and_old_hashed_files_stay(
    site: Site, fresh_static_build: Build
) -> None:
    site.serve(fresh_static_build.root, reload_interval=0.1)
    old_url = fresh_static_build.hashed("css/app.css")
    assert site.get("/static/css/app.css").body == CSS
    new = publish_next_build(fresh_static_build)
    assert wait_for(lambda: site.get("/static/css/app.css").body == NEW_CSS)
    assert site.get(new.hashed("css/app.css")).body == NEW_CSS
    assert site.get(old_url).body == CSS  # retained by the new manifest
    assert site.app.static_url("css/app.css") == new.hashed("css/app.css")


def test_a_new_build_reaches_pages_even_when_no_static_request_arrives(
    site: Site, fresh_static_build: Build
) -> None:
    # Browsers cache hashed files for a year: after a deploy, pages may be the only requests.
    site.serve(fresh_static_build.root, reload_interval=0.1)
    new = publish_next_build(fresh_static_build)
    assert wait_for(lambda: site.app.static_url("css/app.css") == new.hashed("css/app.css"))
    assert site.app.integrity("css/app.css") == new.asset("css/app.css").integrity


def test_reloading_can_be_switched_off(site: Site, fresh_static_build: Build) -> None:
    site.serve(fresh_static_build.root, reload_interval=0)
    publish_next_build(fresh_static_build)
    time.sleep(0.2)
    assert site.get("/static/css/app.css").body == CSS
    assert site.app.reload() is True  # on demand
    assert site.get("/static/css/app.css").body == NEW_CSS


def test_a_corrupt_new_manifest_keeps_the_old_build_in_service(
    site: Site, fresh_static_build: Build, caplog: pytest.LogCaptureFixture
) -> None:
    site.serve(fresh_static_build.root, reload_interval=0.1)
    (fresh_static_build.root / MANIFEST_NAME).write_text("{ not json")
    time.sleep(0.2)
    assert site.get("/static/css/app.css").body == CSS
    assert wait_for(lambda: "still serving the previous build" in caplog.text)
    assert site.get("/static/css/app.css").body == CSS


def test_a_new_builds_urls_are_served_the_moment_it_is_published(
    site: Site, fresh_static_build: Build
) -> None:
    # A page rendered by a process that already reloaded sends the browser to one that has not.
    site.serve(fresh_static_build.root, reload_interval=3600)
    assert site.get("/static/css/app.css").body == CSS
    new = publish_next_build(fresh_static_build)
    reply = site.get(new.hashed("css/app.css"), accept_encoding="br")
    assert reply.status == 200
    assert brotli.decompress(reply.body) == NEW_CSS
    assert site.get("/static/css/app.css").body == NEW_CSS  # the whole new build is in service
    assert site.get(fresh_static_build.hashed("css/app.css")).body == CSS  # retained


def test_a_miss_after_a_corrupt_new_manifest_keeps_the_old_build(
    site: Site, fresh_static_build: Build, caplog: pytest.LogCaptureFixture
) -> None:
    site.serve(fresh_static_build.root, reload_interval=3600)
    (fresh_static_build.root / MANIFEST_NAME).write_text("{ not json")
    assert site.get("/static/css/app.0123456789ab.css").status == 404  # the app's
    assert "still serving the previous build" in caplog.text
    assert site.get("/static/css/app.css").body == CSS


def test_misses_look_for_a_new_build_at_most_once_per_interval(
    site: Site, fresh_static_build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    from staticserve import catalog

    clock = [1000.0]
    monkeypatch.setattr(catalog, "monotonic", lambda: clock[0])
    stats: list[Path] = []
    signature = catalog._signature

    def counted(path: Path) -> Any:
        stats.append(path)
        return signature(path)

    monkeypatch.setattr(catalog, "_signature", counted)
    site.serve(fresh_static_build.root, reload_interval=3600)
    junk = [f"/static/junk-{i}.css" for i in range(10)]
    for path in junk:
        assert site.get(path).status == 404
    assert stats == [fresh_static_build.root / MANIFEST_NAME]  # one stat for ten misses
    clock[0] += catalog.NEW_BUILD_CHECK_INTERVAL
    for path in junk:
        site.get(path)
    assert len(stats) == 2
    assert site.get("/static/css/app.css").body == CSS  # hits never stat
    assert len(stats) == 2


def test_a_new_builds_urls_are_served_when_the_build_returns_while_unknown_urls_keep_coming(
    live_site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real build into the served folder, a stream of misses all along: each new hashed URL
    asked for the moment ``build()`` returns is served, never handed to the app."""
    import threading

    import staticserve

    monkeypatch.chdir(tmp_path)
    (tmp_path / "assets").mkdir()
    style = tmp_path / "assets" / "app.css"
    style.write_text("body { color: black }\n")
    staticserve.build(sources=["assets"], output="out", encodings=[])
    live_site.serve(tmp_path / "out", reload_interval=3600)
    stop = threading.Event()
    misses = 0

    def junk() -> None:  # a miss every few milliseconds, bounded in time and count
        nonlocal misses
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline and misses < 20_000:
            live_site.get(f"/static/junk-{misses}.css")
            misses += 1

    worker = threading.Thread(target=junk)
    worker.start()
    try:
        for deploy in range(6):
            style.write_text(f"body {{ color: #{deploy:06x} }}\n")
            staticserve.build(sources=["assets"], output="out", encodings=[])
            reply = live_site.get(staticserve.Manifest.load("out").static_url("app.css"))
            assert reply.status == 200, f"deploy {deploy}: {reply.body[:60]!r}"
            assert reply.body == style.read_bytes()
    finally:
        stop.set()
        worker.join()
    assert misses > 6


@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda root: (root / MANIFEST_NAME).unlink(), "no manifest at"),
        (lambda root: (root / MANIFEST_NAME).write_text("{ not json"), "is not valid JSON"),
        (
            lambda root: (root / MANIFEST_NAME).write_text(
                '{"version": 1, "assets": {"../x": {}}}'
            ),
            "malformed",
        ),
    ],
    ids=["missing", "not JSON", "malformed entry"],
)
def test_a_missing_or_corrupt_manifest_at_startup_says_what_to_do(
    adapter: str, damage: Any, message: str, fresh_static_build: Build
) -> None:
    damage(fresh_static_build.root)
    with pytest.raises(ManifestError) as error:
        wrap(adapter, object(), fresh_static_build.root)
    assert message in str(error.value)
    assert str(fresh_static_build.root / MANIFEST_NAME) in str(error.value)
    assert "staticserve build" in str(error.value)


def test_static_url_and_integrity_use_the_middleware_prefix(site: Site) -> None:
    app = site.serve(prefix="/assets/")
    asset = site.build.asset("css/app.css")
    assert app.static_url("css/app.css") == "/assets/" + asset.path
    assert app.integrity("css/app.css") == (
        "sha384-" + base64.b64encode(hashlib.sha384(CSS).digest()).decode()
    )
    assert site.get("/assets/" + asset.path).body == CSS
    with pytest.raises(KeyError, match="not in the manifest"):
        app.static_url("css/missing.css")


@pytest.mark.parametrize(
    "base",
    ["https://cdn.example.com/static/", "https://cdn.example.com/static", "//cdn.example.com/s/"],
)
def test_url_base_makes_urls_absolute_while_the_prefix_is_still_served(
    site: Site, base: str
) -> None:
    import jinja2

    from staticserve.integrations.jinja2 import install

    app = site.serve(url_base=base)
    asset = site.build.asset("img/my logo.svg")
    expected = base.rstrip("/") + "/" + asset.path.replace(" ", "%20")
    assert app.static_url("img/my logo.svg#icon") == expected + "#icon"
    environment = jinja2.Environment(autoescape=True)
    install(environment, app)
    rendered = environment.from_string("{{ static_url('img/my logo.svg') }}").render()
    assert rendered == expected
    # Origin mode: the CDN pulls the same path from the app, which serves it as ever.
    reply = site.get("/static/" + asset.path.replace(" ", "%20"))
    assert (reply.status, reply.headers["cache-control"]) == (200, IMMUTABLE)
    assert reply.body == site.build.contents["img/my logo.svg"]


@pytest.mark.parametrize("suffix", ["?v=1", "#home", "?v=1#top", "?#iefix"])
@pytest.mark.parametrize("logical", ["css/app.css", "img/my logo.svg"])
def test_static_url_keeps_a_query_or_fragment(site: Site, logical: str, suffix: str) -> None:
    url = site.app.static_url(logical + suffix)
    assert url == site.build.hashed(logical) + suffix
    assert site.app.integrity(logical + suffix) == site.build.asset(logical).integrity
    assert site.get(url.partition("#")[0]).body == site.build.contents[logical]


def test_a_file_whose_name_holds_a_hash_or_question_mark_is_named_whole(
    site: Site, tmp_path: Path
) -> None:
    files = {"a#b.css": (b"a { color: red }", ()), "q?x.css": (b"q { color: blue }", ())}
    files |= {"a.css": (b"the wrong file", ())}
    build = write_build(tmp_path / "odd", files)
    app = site.serve(build.root)
    for logical, (content, _) in files.items():
        url = app.static_url(logical)
        assert url == build.hashed(logical)
        assert site.get(url).body == content
        assert app.integrity(logical) == build.asset(logical).integrity
    # Other names still take a query or fragment off.
    assert app.static_url("a.css#b") == build.hashed("a.css") + "#b"


def test_static_url_of_an_unknown_file_with_a_query_names_the_file(site: Site) -> None:
    with pytest.raises(KeyError, match=r"'css/missing\.css' is not in the manifest"):
        site.app.static_url("css/missing.css?v=1")
    with pytest.raises(KeyError, match=r"'css/missing\.css' is not in the manifest"):
        site.app.integrity("css/missing.css#x")


# -- without an app ------------------------------------------------------------------------------


def test_without_an_app_everything_else_gets_a_plain_404(site: Site) -> None:
    site.use(wrap(site.adapter, None, site.build.root))
    assert site.get(site.build.hashed("css/app.css")).body == CSS
    for method, path in [("GET", "/"), ("POST", "/api/data"), ("GET", "/static/missing.css")]:
        reply = site.request(method, path, content=b"x" if method == "POST" else None)
        assert reply.status == 404
        assert reply.body == b"Not Found\n"
        assert reply.headers["content-length"] == str(len(reply.body))
        assert reply.headers["content-type"] == "text/plain; charset=utf-8"


def test_without_an_app_uvicorn_starts_stops_and_refuses_websockets(
    static_build: Build, caplog: pytest.LogCaptureFixture
) -> None:
    from staticserve.asgi import StaticServe

    app = StaticServe(None, root=static_build.root, prefix="/static")
    server = start_uvicorn(app, lifespan="on")  # RuntimeError when the lifespan startup fails
    uvicorn_errors = logging.getLogger("uvicorn.error")
    uvicorn_errors.addHandler(caplog.handler)
    try:
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/static/css/app.css").content == CSS
            assert client.get("/").status_code == 404
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            raw.sendall(
                b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            assert raw.recv(1024).startswith(b"HTTP/1.1 403")  # refused, not upgraded
    finally:
        server.stop()
        uvicorn_errors.removeHandler(caplog.handler)
    assert not server.thread.is_alive(), "uvicorn waited for a lifespan shutdown that never came"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


# -- large files -------------------------------------------------------------------------------


def test_a_large_file_is_streamed_whole(site: Site) -> None:
    reply = site.get(site.build.hashed("media/clip.mp4"))
    assert reply.status == 200
    assert reply.body == site.build.contents["media/clip.mp4"]


def open_descriptors(path: Path) -> int:
    count = 0
    for entry in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{entry}") == str(path):
                count += 1
        except OSError:
            pass
    return count


@pytest.fixture
def huge_build(tmp_path: Path) -> Build:
    return write_build(tmp_path / "huge", {"media/huge.bin": (bytes(range(256)) * 65536, ())})


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
@pytest.mark.parametrize("ranged", [False, True], ids=["whole", "range"])
def test_a_client_leaving_mid_stream_leaks_no_file_handle(
    live_site: Site, huge_build: Build, ranged: bool
) -> None:
    live_site.serve(huge_build.root)
    path = huge_build.root / huge_build.asset("media/huge.bin").path
    extra = b"Range: bytes=1-\r\n" if ranged else b""
    target = huge_build.hashed("media/huge.bin").encode()
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", live_site.server.port)) as client:  # type: ignore[union-attr]
            client.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n")
            assert client.recv(65536).startswith(b"HTTP/1.")
            # Reset instead of a polite close, the way a browser tab that is closed goes away.
            client.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
    assert wait_for(lambda: open_descriptors(path) == 0), "a file handle stayed open"
