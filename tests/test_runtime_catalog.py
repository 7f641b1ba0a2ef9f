"""The catalog: a build is indexed at startup and each URL prepared on its first request."""

from __future__ import annotations

import asyncio
import io
import os
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jinja2
import pytest

from staticserve import StaticServe, StaticServeWSGI
from staticserve.catalog import Catalog
from staticserve.core.response import FileSlice
from staticserve.integrations.jinja2 import install
from staticserve.manifest import MANIFEST_NAME
from staticserve.options import ServeOptions

from .conftest import CSS, JS, Build, write_build


def catalog(build: Build, **options: object) -> Catalog:
    return Catalog(build.root, ServeOptions(**options))  # type: ignore[arg-type]


# Every file the process opens, through open(), io.open, Path.read_bytes, os.open or anything
# else, raises the "open" audit event (PEP 578). A hook cannot be removed once added, so one
# hook serves the whole session and records only while a test holds a recorder.
_recorders: list[tuple[str, list[str]]] = []


def _on_audit(event: str, args: tuple[Any, ...]) -> None:
    if event != "open" or not _recorders or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    path = os.path.abspath(os.fsdecode(args[0]))
    for root, opened in _recorders:
        if path.startswith(root):
            opened.append(os.path.relpath(path, root))


sys.addaudithook(_on_audit)


@pytest.fixture
def opened_in() -> Iterator[Callable[[Path], list[str]]]:
    """``opened_in(root)``: a list that fills with every file opened under ``root`` from now
    until the test ends (relative names, in order, each time it is opened)."""
    mine: list[tuple[str, list[str]]] = []

    def start(root: Path) -> list[str]:
        recorder: tuple[str, list[str]] = (os.path.abspath(root) + os.sep, [])
        mine.append(recorder)
        _recorders.append(recorder)
        return recorder[1]

    yield start
    for recorder in mine:
        _recorders.remove(recorder)


def test_opened_in_sees_every_way_of_opening_a_file(
    tmp_path: Path, opened_in: Callable[[Path], list[str]]
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    opened = opened_in(tmp_path)
    (tmp_path / "f").read_bytes()
    with open(tmp_path / "f", "rb"), io.open(tmp_path / "f", "rb"):  # noqa: UP020
        pass
    os.close(os.open(tmp_path / "f", os.O_RDONLY))
    assert opened == ["f", "f", "f", "f"]


def test_loading_a_build_opens_no_file_but_the_manifest(
    static_build: Build, opened_in: Callable[[Path], list[str]]
) -> None:
    opened = opened_in(static_build.root)
    catalog(static_build)
    assert opened == [MANIFEST_NAME]


def test_a_file_is_read_once_for_its_logical_and_hashed_urls(
    static_build: Build, opened_in: Callable[[Path], list[str]]
) -> None:
    found = catalog(static_build)
    opened = opened_in(static_build.root)
    logical = found.find(b"/static/css/app.css")
    hashed = found.find(static_build.hashed("css/app.css").encode())
    assert logical is not None
    assert hashed is not None
    assert logical.identity.body == CSS
    assert hashed.identity.body is logical.identity.body  # the same bytes, held once
    path = static_build.asset("css/app.css").path
    assert sorted(opened) == sorted([path, path + ".br", path + ".gz"])  # identity, br, gzip
    assert found.find(b"/static/css/app.css") is logical  # prepared once
    assert len(opened) == 3


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
    fresh_static_build: Build, opened_in: Callable[[Path], list[str]]
) -> None:
    found = catalog(fresh_static_build, reload_interval=0)
    before = found.find(b"/static/js/app.js")
    assert before is not None
    write_build(fresh_static_build.root, {"js/app.js": (JS, ("br", "gzip", "zstd"))}, generation=2)
    opened = opened_in(fresh_static_build.root)
    assert found.reload() is True
    after = found.find(b"/static/js/app.js")
    assert after is not None
    assert after is not before
    assert after.identity.body is before.identity.body
    assert opened == [MANIFEST_NAME]  # the new manifest, and no file it names


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


# -- reloads, and files that are not what the manifest says ------------------------------------


def test_static_url_takes_a_logical_path_with_or_without_its_leading_slash(
    static_build: Build,
) -> None:
    found = catalog(static_build)
    expected = static_build.hashed("css/app.css")
    assert found.static_url("css/app.css") == expected
    assert found.static_url("/css/app.css") == expected
    with pytest.raises(KeyError, match=r"'css/missing\.css' is not in the manifest"):
        found.static_url("css/missing.css")


def test_reload_without_a_new_build_changes_nothing(fresh_static_build: Build) -> None:
    found = catalog(fresh_static_build, reload_interval=0)
    before = found.find(b"/static/css/app.css")
    assert found.reload() is False
    assert found.find(b"/static/css/app.css") is before


def test_a_broken_manifest_is_refused_once_and_the_previous_build_stays(
    fresh_static_build: Build, caplog: pytest.LogCaptureFixture
) -> None:
    root = fresh_static_build.root
    found = catalog(fresh_static_build, reload_interval=0)
    (root / MANIFEST_NAME).write_text("{not json", encoding="utf-8")
    with caplog.at_level("INFO", logger="staticserve"):
        assert found.reload() is False
        assert found.reload() is False  # the same broken file: refused without a new warning
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"{root / MANIFEST_NAME} is not valid JSON (")
    assert warnings[0].count("staticserve build") == 1
    assert warnings[0].endswith(
        ": it is corrupt; run `staticserve build --clear` to rebuild the output from scratch; "
        "still serving the previous build"
    )
    assert found.static_url("css/app.css") == fresh_static_build.hashed("css/app.css")
    caplog.clear()
    rebuilt = write_build(root, {"css/app.css": (JS, ())}, generation=3)
    with caplog.at_level("INFO", logger="staticserve"):
        assert found.reload() is True
    assert [r.getMessage() for r in caplog.records] == [f"serving build 3 from {root}"]
    assert found.static_url("css/app.css") == rebuilt.hashed("css/app.css")


def test_a_missing_file_is_served_from_disk_later_and_a_resized_one_as_it_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    build = write_build(tmp_path / "out", {"css/app.css": (CSS, ()), "js/app.js": (JS, ())})
    css = build.asset("css/app.css").path
    js = build.asset("js/app.js").path
    (build.root / css).unlink()
    (build.root / js).write_bytes(JS + b"// grown\n")
    found = catalog(build)
    with caplog.at_level("WARNING", logger="staticserve"):
        missing = found.find(build.hashed("css/app.css").encode())
        grown = found.find(build.hashed("js/app.js").encode())
        found.find(b"/static/img/logo.png")  # not in this build: no warning
    assert missing is not None
    assert grown is not None
    assert isinstance(missing.identity.body, FileSlice)  # read at request time
    assert grown.identity.body == JS + b"// grown\n"
    messages = sorted(r.getMessage() for r in caplog.records)
    assert len(messages) == 2, messages
    assert messages[0].startswith(f"cannot read {css} ([Errno 2] No such file or directory")
    assert messages[0].endswith("); it will be read at request time")
    assert messages[1] == (
        f"{js} has {len(JS) + 9} bytes but the manifest says {len(JS)}; serving the file as it is"
    )


def test_a_small_file_grown_on_disk_past_the_memory_limits_is_not_read_whole(
    tmp_path: Path,
) -> None:
    """A file the manifest says is small, grown on disk (replaced by a dump, say): holding it
    as it is would take memory_total and more. Read no further than may be held, not held,
    and sent from disk, which refuses a file that is not the size the build recorded."""
    build = write_build(tmp_path / "out", {"css/app.css": (CSS, ())})
    path = build.root / build.asset("css/app.css").path
    path.write_bytes(b"x" * 4_000_000)
    found = catalog(build, memory_total=1_000_000)
    tracemalloc.start()
    try:
        resource = found.find(build.hashed("css/app.css").encode())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert resource is not None
    assert peak < 1_000_000  # read no further than the memory_limit (and a byte), not 4 MB
    assert found.held_bytes == 0
    assert isinstance(resource.identity.body, FileSlice)
    app = StaticServeWSGI(None, build.root, memory_total=1_000_000)
    reply = httpx.Client(transport=httpx.WSGITransport(app=app)).get(
        "http://testserver" + build.hashed("css/app.css")
    )
    assert reply.status_code == 404


def test_a_file_exactly_at_the_memory_limits_is_held_in_memory(tmp_path: Path) -> None:
    build = write_build(tmp_path / "out", {"css/app.css": (CSS, ())})
    found = catalog(build, memory_limit=len(CSS), memory_total=len(CSS))
    resource = found.find(b"/static/css/app.css")
    assert resource is not None
    assert resource.identity.body == CSS


def test_an_index_file_at_the_root_answers_for_the_prefix(tmp_path: Path) -> None:
    page = b"<!doctype html><title>home</title>"
    build = write_build(tmp_path / "out", {"index.html": (page, ())})
    found = catalog(build, index_file="index.html")
    resource = found.find(b"/static/")
    assert resource is not None
    assert resource.identity.body == page


def test_a_build_made_for_another_prefix_is_served_with_a_warning(
    static_build: Build, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="staticserve"):
        catalog(static_build, prefix="/assets")
    assert [r.getMessage() for r in caplog.records] == [
        "the build was made for the URL prefix '/static/' but is served under '/assets/'; "
        "absolute references inside CSS/JS may not resolve"
    ]


def test_a_missing_or_unreadable_manifest_says_what_to_do(tmp_path: Path) -> None:
    from staticserve.errors import ManifestError

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ManifestError) as missing:
        Catalog(empty, ServeOptions())
    assert str(missing.value) == (
        f"no manifest at {empty / MANIFEST_NAME}: run `staticserve build` to create it, "
        "or pass the build's output folder as root="
    )
    (tmp_path / "odd" / MANIFEST_NAME).mkdir(parents=True)
    with pytest.raises(ManifestError) as unreadable:
        Catalog(tmp_path / "odd", ServeOptions())
    assert str(unreadable.value) == (
        f"cannot read {tmp_path / 'odd' / MANIFEST_NAME}: Is a directory"
    )


def test_a_cut_variant_is_not_served_and_the_file_itself_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A variant whose bytes are not the size the manifest records (cut in place: an entry of
    the compression cache it is linked to, edited by hand, or a disk) would be a broken body
    under Content-Encoding: that coding is not offered, the file itself and its other
    variants are."""
    build = write_build(tmp_path / "out", {"js/app.js": (JS, ("br", "gzip"))})
    asset = build.asset("js/app.js")
    cut = build.root / asset.variant_path("br")
    cut.write_bytes(cut.read_bytes()[:-3])
    found = catalog(build)
    with caplog.at_level("WARNING", logger="staticserve"):
        resource = found.find(build.hashed("js/app.js").encode())
    assert resource is not None
    assert sorted(r.coding for r in resource.representations) == ["gzip", "identity"]
    assert [r.getMessage() for r in caplog.records] == [
        f"{asset.variant_path('br')} has {asset.encodings['br'] - 3} bytes but the manifest "
        f"says {asset.encodings['br']}; not serving it (the file itself and its other variants are)"
    ]
