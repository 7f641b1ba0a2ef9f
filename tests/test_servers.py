"""The HTTP behaviour through every server we support, at the site root and under a sub-path.

uvicorn, hypercorn and granian run the ASGI site (``tests/site_asgi.py``); gunicorn, uWSGI and
waitress run the WSGI one (``tests/site_wsgi.py``); each as a real process on 127.0.0.1. Every
server is checked three ways: the middleware at the site root; the site mounted inside the app
(Starlette ``Mount`` / werkzeug ``DispatcherMiddleware`` at ``/sub``); the app mounted by the
server (``--root-path``, ``--url-path-prefix``, ``SCRIPT_NAME``, ``--mount``, ``--url-prefix``).
Paths in the tables are the site's own; a test asks for the URL a browser would use (the mount
point + the path), and ``Deployment.wire`` turns it into what that server is sent.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass

import brotli
import httpx
import pytest

from .conftest import BIG, CREATED_HTTP, CSS, Build
from .servers import DEPLOYMENTS, Deployment, ServerPool
from .test_http import HOSTILE

IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes  # as sent: not decompressed


@dataclass
class Live:
    """One deployment, running: requests take the site's paths."""

    deployment: Deployment
    url: str
    build: Build
    client: httpx.Client

    def get(self, path: str, **headers: str) -> Reply:
        return self.request("GET", path.encode(), **headers)

    def request(self, method: str, path: bytes, **headers: str) -> Reply:
        """``path`` of the site, sent as the browser's URL path would reach the server."""
        return self.request_url(method, self.deployment.base.encode() + path, **headers)

    def request_url(self, method: str, url_path: bytes, **headers: str) -> Reply:
        """A URL path from the site root (as a page links it), sent byte for byte."""
        target = self.deployment.wire(url_path)
        fields = {name.replace("_", "-"): value for name, value in headers.items()}
        request = httpx.Request(method, self.url + "/", extensions={"target": target})
        request.headers.pop("accept-encoding", None)  # only what the test says
        request.headers.update(fields)
        response = self.client.send(request, stream=True)
        try:
            return Reply(response.status_code, response.headers, b"".join(response.iter_raw()))
        finally:
            response.close()

    def hashed(self, logical: str) -> str:
        return self.build.hashed(logical)


@pytest.fixture(scope="module")
def pool(static_build: Build, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerPool]:
    servers = ServerPool(static_build.root, tmp_path_factory.mktemp("server_logs"))
    yield servers
    servers.close()


@pytest.fixture(scope="module", params=DEPLOYMENTS, ids=[d.id for d in DEPLOYMENTS])
def live(request: pytest.FixtureRequest, pool: ServerPool, static_build: Build) -> Iterator[Live]:
    deployment: Deployment = request.param
    idle = 10 if deployment.server.keeps_connections else 0
    with httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=idle)) as client:
        yield Live(deployment, pool.get(deployment).url, static_build, client)


# -- content negotiation -----------------------------------------------------------------------

NEGOTIATION = [
    ("brotli preferred", "gzip, deflate, br", "br"),
    ("gzip when brotli is not offered", "gzip", "gzip"),
    ("gzip;q=0 refuses gzip", "gzip;q=0, identity", None),
    ("no field means identity", "", None),
]
DECODE = {"br": brotli.decompress, "gzip": gzip.decompress, None: lambda body: body}


@pytest.mark.parametrize(
    ("accept", "coding"), [c[1:] for c in NEGOTIATION], ids=[c[0] for c in NEGOTIATION]
)
def test_content_negotiation(live: Live, accept: str, coding: str | None) -> None:
    headers = {"accept_encoding": accept} if accept else {}
    reply = live.get(live.hashed("css/app.css"), **headers)
    assert reply.status == 200
    assert reply.headers.get("content-encoding") == coding
    assert reply.headers["vary"] == "Accept-Encoding"
    assert reply.headers["cache-control"] == IMMUTABLE
    assert int(reply.headers["content-length"]) == len(reply.body)
    assert DECODE[coding](reply.body) == CSS


# -- conditional requests ----------------------------------------------------------------------


def test_if_none_match_gets_a_304_that_keeps_the_headers(live: Live) -> None:
    tag = live.build.etag("css/app.css", "br")
    reply = live.get(live.hashed("css/app.css"), accept_encoding="br", if_none_match=tag)
    assert (reply.status, reply.body) == (304, b"")
    assert reply.headers["etag"] == tag
    assert reply.headers["vary"] == "Accept-Encoding"
    assert reply.headers["cache-control"] == IMMUTABLE
    assert reply.headers["access-control-allow-origin"] == "*"


def test_if_modified_since_gets_a_304_only_without_if_none_match(live: Live) -> None:
    assert live.get("/static/css/app.css", if_modified_since=CREATED_HTTP).status == 304
    reply = live.get("/static/css/app.css", if_modified_since=CREATED_HTTP, if_none_match='"x"')
    assert (reply.status, reply.body) == (200, CSS)


# -- ranges: media/clip.mp4 (300 KiB) is sent from disk, css/app.css from memory ---------------

RANGES = [
    ("a suffix of a file on disk", "media/clip.mp4", "bytes=-7", -7, None),
    ("from an offset of a file on disk", "media/clip.mp4", "bytes=300000-", 300000, None),
    ("a middle slice of a file on disk", "media/clip.mp4", "bytes=1000-1999", 1000, 2000),
    ("all of a file on disk", "media/clip.mp4", "bytes=0-", 0, None),
    ("a suffix of a file in memory", "css/app.css", "bytes=-7", -7, None),
    ("from an offset in a file in memory", "css/app.css", "bytes=100-", 100, None),
]


@pytest.mark.parametrize(
    ("logical", "field", "start", "stop"), [c[1:] for c in RANGES], ids=[c[0] for c in RANGES]
)
def test_a_range_gets_exactly_its_bytes(
    live: Live, logical: str, field: str, start: int, stop: int | None
) -> None:
    content = live.build.contents[logical]
    reply = live.get(live.hashed(logical), range=field)
    expected = content[start:stop]
    first = start % len(content)
    assert reply.status == 206
    assert reply.headers["content-range"] == (
        f"bytes {first}-{first + len(expected) - 1}/{len(content)}"
    )
    assert reply.headers["content-length"] == str(len(expected))
    assert reply.body == expected


def test_a_large_file_is_sent_whole(live: Live) -> None:
    reply = live.get(live.hashed("media/clip.mp4"))
    assert (reply.status, reply.headers["content-length"]) == (200, str(len(BIG)))
    assert reply.body == BIG


def test_an_unsatisfiable_range_gets_416(live: Live) -> None:
    reply = live.get(live.hashed("media/clip.mp4"), range=f"bytes={len(BIG)}-")
    assert (reply.status, reply.body) == (416, b"")
    assert reply.headers["content-range"] == f"bytes */{len(BIG)}"


# -- methods -----------------------------------------------------------------------------------


@pytest.mark.parametrize("logical", ["css/app.css", "media/clip.mp4"])
def test_head_gets_the_headers_of_get_and_no_body(live: Live, logical: str) -> None:
    url = live.hashed(logical)
    get = live.get(url, accept_encoding="br")
    head = live.request("HEAD", url.encode(), accept_encoding="br")
    assert (head.status, head.body) == (200, b"")
    ignore = {"date", "expires", "server", "connection", "keep-alive", "transfer-encoding"}
    assert {k: v for k, v in head.headers.items() if k not in ignore} == {
        k: v for k, v in get.headers.items() if k not in ignore
    }


def test_a_post_to_a_served_file_gets_405_with_allow(live: Live) -> None:
    reply = live.request("POST", live.hashed("css/app.css").encode())
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, HEAD"


# -- the app -----------------------------------------------------------------------------------


def test_other_paths_reach_the_app(live: Live) -> None:
    assert json.loads(live.get("/api/data").body) == {"ok": True}
    missing = live.get("/static/missing.css")
    assert (missing.status, missing.body[:8]) == (404, b"app 404:")


@pytest.mark.parametrize("page", ["/page", "/template"], ids=["static_url", "jinja2"])
def test_static_url_gives_a_url_that_works_from_the_site_root(live: Live, page: str) -> None:
    url = live.deployment.base + live.hashed("css/app.css")
    asset = live.build.asset("css/app.css")
    reply = live.get(page)
    assert reply.status == 200
    if page == "/page":
        assert reply.body.decode() == url
    else:
        assert f'href="{url}" integrity="{asset.integrity}"'.encode() in reply.body
    fetched = live.request_url("GET", url.encode())
    assert (fetched.status, fetched.body) == (200, CSS)


@pytest.mark.parametrize("target", [c[1] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_paths_get_a_clean_status_and_no_file(live: Live, target: bytes) -> None:
    reply = live.request("GET", target)
    assert reply.status < 500
    assert reply.body != CSS
    assert b"root:" not in reply.body
    if reply.status == 404:  # servers may refuse some targets with a 400 themselves
        assert reply.body.startswith(b"app 404")
