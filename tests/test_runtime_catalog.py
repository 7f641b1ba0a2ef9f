"""The catalog: a build is indexed at startup and each URL prepared on its first request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jinja2
import pytest

from staticserve import StaticServe, StaticServeWSGI
from staticserve.catalog import Catalog
from staticserve.core.response import FileSlice
from staticserve.integrations.jinja2 import install
from staticserve.options import ServeOptions

from .conftest import CSS, JS, Build, write_build


def catalog(build: Build, **options: object) -> Catalog:
    return Catalog(build.root, ServeOptions(**options))  # type: ignore[arg-type]


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    original = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        reads.append(self.name)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    return reads


def test_loading_a_build_reads_no_file_but_the_manifest(
    static_build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = count_reads(monkeypatch)
    catalog(static_build)
    assert reads == []


def test_a_file_is_read_once_for_its_logical_and_hashed_urls(
    static_build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = count_reads(monkeypatch)
    found = catalog(static_build)
    logical = found.find(b"/static/css/app.css")
    hashed = found.find(static_build.hashed("css/app.css").encode())
    assert logical is not None
    assert hashed is not None
    assert logical.identity.body == CSS
    assert hashed.identity.body is logical.identity.body  # the same bytes, held once
    assert len(reads) == 3  # identity, br, gzip
    assert found.find(b"/static/css/app.css") is logical  # prepared once
    assert len(reads) == 3


def test_unknown_paths_prepare_nothing(static_build: Build) -> None:
    found = catalog(static_build)
    assert found.find(b"/static/css/missing.css") is None
    assert found.find(b"/static/staticserve.json") is None


def test_the_memory_budget_holds_when_files_are_prepared_lazily(tmp_path: Path) -> None:
    build = write_build(tmp_path / "out", {"css/app.css": (CSS, ()), "js/app.js": (JS, ())})
    found = catalog(build, memory_total=len(CSS) + 10)
    css = found.find(b"/static/css/app.css")
    js = found.find(b"/static/js/app.js")
    assert css is not None
    assert js is not None
    assert css.identity.body == CSS  # fits the budget
    assert isinstance(js.identity.body, FileSlice)  # the budget is spent: served from disk


def test_a_reload_keeps_the_bytes_of_unchanged_files_without_reading_them_again(
    fresh_static_build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = catalog(fresh_static_build, reload_interval=0)
    before = found.find(b"/static/js/app.js")
    assert before is not None
    write_build(fresh_static_build.root, {"js/app.js": (JS, ("br", "gzip", "zstd"))}, generation=2)
    reads = count_reads(monkeypatch)
    assert found.reload() is True
    after = found.find(b"/static/js/app.js")
    assert after is not None
    assert after is not before
    assert after.identity.body is before.identity.body
    assert reads == []


# -- a deploy landing while a page renders -----------------------------------------------------

NEXT_CSS = b"/* the next build */\n" + CSS
PAGE = "{{ static_url('css/app.css') }}{{ deploy() }} {{ integrity('css/app.css') }}"


def page_app(adapter: str, render: Callable[[], str]) -> Any:
    """A bare app whose every page is ``render()``; the adapter's middleware wraps it."""
    if adapter == "asgi":

        async def asgi_page(scope: dict[str, Any], receive: Any, send: Any) -> None:
            body = render().encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})

        return asgi_page

    def wsgi_page(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = render().encode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    return wsgi_page


def fetch_page(adapter: str, app: Any, path: str = "/page") -> list[str]:
    if adapter == "asgi":

        async def fetch() -> bytes:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return (await client.get(path)).content

        return asyncio.run(fetch()).decode().split()
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://t") as client:
        return client.get(path).content.decode().split()


@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
def test_a_page_never_pairs_the_url_of_one_build_with_the_integrity_of_the_next(
    fresh_static_build: Build, adapter: str
) -> None:
    previous = fresh_static_build.asset("css/app.css")
    deploys: list[Build] = []

    def deploy() -> str:
        """The first page's deploy lands between its two helper calls."""
        if not deploys:
            deploys.append(
                write_build(
                    fresh_static_build.root,
                    {"css/app.css": (NEXT_CSS, ("br", "gzip"))},
                    retained={previous.path: previous},
                    generation=3,
                )
            )
            assert middleware.reload() is True
        return ""

    templates = jinja2.Environment(autoescape=True)
    page = templates.from_string(PAGE)
    wrap = StaticServe if adapter == "asgi" else StaticServeWSGI
    middleware = wrap(
        page_app(adapter, lambda: page.render(deploy=deploy)),
        root=fresh_static_build.root,
        reload_interval=0,
    )
    install(templates, middleware)

    first = fetch_page(adapter, middleware)
    assert first == [fresh_static_build.hashed("css/app.css"), previous.integrity]
    (new,) = deploys
    second = fetch_page(adapter, middleware)
    assert second == [new.hashed("css/app.css"), new.asset("css/app.css").integrity]
    # Outside a request the helpers answer from the newest build.
    assert middleware.integrity("css/app.css") == new.asset("css/app.css").integrity
