"""``StaticServeMiddleware`` in Django's synchronous (WSGIHandler) and asynchronous
(ASGIHandler) stacks answers exactly as the WSGI wrapper does: the same status, header fields
and body for every request of a table that walks the core's rules (200, negotiation, Vary, CORS,
immutable + Expires, 304, 412, 206, 416, HEAD, 405, redirects, hostile paths, a large file).

Django runs in this process (tests/django_inprocess.py); the wrapper's own HTTP is pinned by
tests/test_http.py, so equality here carries those checks over to the middleware.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from staticserve.wsgi import StaticServeWSGI

from . import django_inprocess
from .conftest import Build

pytest.importorskip("django")

STACKS = ["django-wsgi", "django-asgi"]


@pytest.fixture(scope="module")
def django_settings(static_build: Build) -> Iterator[None]:
    django_inprocess.configure()
    from django.test import override_settings

    with override_settings(STATIC_ROOT=str(static_build.root)):
        yield


def handler(stack: str) -> Any:
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler

    return ASGIHandler() if stack == "django-asgi" else WSGIHandler()


def send(app: Any, stack: str, method: str, target: str, headers: dict[str, str]) -> tuple:
    """(status, header fields in order, body) of one request, no decompression."""
    request = httpx.Request(method, "http://testserver" + target, headers=headers)
    for name in ("accept-encoding", "accept", "connection", "user-agent"):
        if name not in headers:
            request.headers.pop(name, None)
    if stack == "django-asgi":

        async def run() -> tuple:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
                response = await client.send(request, stream=True)
                body = b"".join([chunk async for chunk in response.aiter_raw()])
                await response.aclose()
                return response.status_code, response.headers.raw, body

        return asyncio.run(run())
    with httpx.Client(transport=httpx.WSGITransport(app=app)) as client:
        response = client.send(request, stream=True)
        body = b"".join(response.iter_raw())
        response.close()
        return response.status_code, response.headers.raw, body


def requests_table(build: Build) -> list[tuple[str, str, dict[str, str]]]:
    css, js, big = (
        build.hashed("css/app.css"),
        build.hashed("js/app.js"),
        build.hashed("media/clip.mp4"),
    )
    tag = build.etag("css/app.css")
    return [
        ("GET", css, {}),
        ("GET", css, {"accept-encoding": "gzip, deflate, br"}),
        ("GET", css, {"accept-encoding": "gzip"}),
        ("GET", js, {"accept-encoding": "gzip, br, zstd"}),
        ("GET", "/static/css/app.css", {"accept-encoding": "br"}),
        ("GET", css, {"if-none-match": tag}),
        ("GET", css, {"if-none-match": build.etag("css/app.css", "br"), "accept-encoding": "br"}),
        ("GET", css, {"if-match": '"nope"'}),
        ("GET", css, {"range": "bytes=0-9"}),
        ("GET", css, {"range": "bytes=999999-"}),
        ("GET", css, {"range": "bytes=-5", "if-range": tag}),
        ("HEAD", css, {"accept-encoding": "br"}),
        ("POST", css, {}),
        ("DELETE", css, {}),
        ("OPTIONS", css, {"origin": "https://example.com"}),
        ("GET", css, {"origin": "https://example.com"}),
        ("GET", build.hashed("img/logo.png"), {}),
        ("GET", build.hashed("img/my logo.svg"), {}),
        ("GET", build.hashed("data/empty.txt"), {}),
        ("GET", "/static/" + build.retained_path, {}),
        ("GET", big, {}),
        ("GET", big, {"range": "bytes=1000-200000"}),
        ("HEAD", big, {}),
        ("GET", "/static/robots.txt?v=2", {}),
    ]


FALL_THROUGH = [
    "/static/missing.css",
    "/static/staticserve.json",
    "/static/%2e%2e/secret",
    "/static//css/app.css",
    "/elsewhere",
]


@pytest.mark.parametrize("stack", STACKS)
def test_every_answer_equals_the_wsgi_wrappers(
    stack: str, static_build: Build, django_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()  # one clock for both, so that Expires cannot differ by a second tick
    monkeypatch.setattr("staticserve.wsgi.time", lambda: now)
    monkeypatch.setattr("staticserve.integrations.django.middleware.time", lambda: now)
    wrapper = StaticServeWSGI(None, static_build.root)
    app = handler(stack)
    table = requests_table(static_build)
    assert len(table) > 20
    for method, target, headers in table:
        expected = send(wrapper, "wsgi", method, target, headers)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. Django's warning for a sync iterator in ASGI
            got = send(app, stack, method, target, headers)
        assert got[0] == expected[0], (method, target, headers)
        assert sorted(got[1]) == sorted(expected[1]), (method, target, headers)
        assert got[2] == expected[2], (method, target, headers)


@pytest.mark.parametrize("stack", STACKS)
def test_hashed_files_are_immutable_with_expires_and_brotli(
    stack: str, static_build: Build, django_settings: None
) -> None:
    status, fields, _ = send(
        handler(stack), stack, "GET", static_build.hashed("css/app.css"), {"accept-encoding": "br"}
    )
    headers = httpx.Headers(fields)
    assert status == 200
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "expires" in headers
    assert headers["content-encoding"] == "br"
    assert headers["vary"] == "Accept-Encoding"
    assert headers["content-type"] == "text/css; charset=utf-8"
    assert "content-disposition" not in headers


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("target", FALL_THROUGH)
def test_other_paths_reach_django(
    stack: str, target: str, static_build: Build, django_settings: None
) -> None:
    status, _, body = send(handler(stack), stack, "GET", target, {})
    assert status == 200
    assert body.startswith(b"pong ")


@pytest.mark.parametrize("stack", STACKS)
def test_unknown_paths_can_get_a_404_instead(
    stack: str, static_build: Build, django_settings: None
) -> None:
    from django.test import override_settings

    with override_settings(STATICSERVE={"fall_through": False}):
        status, _, body = send(handler(stack), stack, "GET", "/static/missing.css", {})
    assert (status, body) == (404, b"Not Found\n")


@pytest.mark.parametrize("stack", STACKS)
def test_a_file_gone_from_disk_is_a_404_not_a_500(
    stack: str, fresh_static_build: Build, django_settings: None
) -> None:
    from django.test import override_settings

    url = fresh_static_build.hashed("media/clip.mp4")
    (fresh_static_build.root / url.removeprefix("/static/")).unlink()
    with override_settings(STATIC_ROOT=str(fresh_static_build.root)):
        status, _, _ = send(handler(stack), stack, "GET", url, {})
    assert status == 404


@pytest.mark.parametrize("stack", STACKS)
def test_a_cdn_static_url_still_serves_its_path(
    stack: str, static_build: Build, django_settings: None
) -> None:
    from django.template import Context, Template
    from django.test import override_settings

    with override_settings(STATIC_URL="https://cdn.example.com/assets/"):
        app = handler(stack)
        url = static_build.hashed("css/app.css").replace("/static/", "/assets/", 1)
        status, _, body = send(app, stack, "GET", url, {})
        rendered = Template('{% load staticserve %}{% static_url "css/app.css" %}').render(
            Context()
        )
    assert status == 200
    assert body == static_build.contents["css/app.css"]
    assert rendered == "https://cdn.example.com" + url


@pytest.mark.parametrize("stack", STACKS)
def test_dev_without_a_config_file_serves_the_finders_files(
    stack: str, tmp_path: Path, django_settings: None
) -> None:
    """``STATICSERVE = {"dev": True}`` alone used to 404 every asset (it looked for a
    pyproject.toml in the working folder); now the finders are its sources."""
    from django.test import override_settings

    (tmp_path / "app.js").write_bytes(b"console.log(1)\n")
    settings = {"STATICSERVE": {"dev": True}, "STATICFILES_DIRS": [str(tmp_path)]}
    with override_settings(**settings):
        status, fields, body = send(handler(stack), stack, "GET", "/static/app.js", {})
    assert (status, body) == (200, b"console.log(1)\n")
    assert httpx.Headers(fields)["cache-control"] == "no-cache"


@pytest.mark.parametrize("stack", STACKS)
def test_debug_serves_the_finders_files_as_they_are(
    stack: str, tmp_path: Path, static_build: Build, django_settings: None
) -> None:
    from django.template import Context, Template
    from django.test import override_settings

    (tmp_path / "site").mkdir()
    (tmp_path / "site/app.css").write_bytes(b"body { color: red }\n")
    (tmp_path / "site/.secret").write_bytes(b"hidden\n")
    settings = {"DEBUG": True, "STATICFILES_DIRS": [str(tmp_path / "site")], "STATIC_ROOT": None}
    with override_settings(**settings):
        app = handler(stack)
        status, fields, body = send(app, stack, "GET", "/static/app.css", {})
        assert (status, body) == (200, b"body { color: red }\n")
        assert httpx.Headers(fields)["cache-control"] == "no-cache"
        (tmp_path / "site/app.css").write_bytes(b"body { color: blue }\n")  # an edit shows
        assert send(app, stack, "GET", "/static/app.css", {})[2] == b"body { color: blue }\n"
        assert send(app, stack, "GET", "/static/.secret", {})[2].startswith(b"pong ")
        rendered = Template('{% load staticserve %}{% static_url "app.css" %}').render(Context())
        assert rendered == "/static/app.css"
    # With a CDN's STATIC_URL, development still links the local sources, which no CDN holds.
    with override_settings(**settings, STATIC_URL="https://cdn.example.com/static/"):
        rendered = Template('{% load staticserve %}{% static_url "app.css" %}').render(Context())
        assert rendered == "/static/app.css"
