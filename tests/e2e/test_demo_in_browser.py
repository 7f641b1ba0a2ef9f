"""The demo in a real browser: Debian's Chromium, driven by Playwright, against a real uvicorn.

What a person would check by hand, asserted: every page loads every subresource with a 200 and
no console error, the font and images render, the ES modules ran; CSS/JS arrive compressed with
immutable caching; a second visit takes the hashed files from the browser's cache; a rebuild
under the running server is picked up without a restart while the old URLs keep working.
"""

from __future__ import annotations

import re
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from staticserve.manifest import Asset, Manifest

from .conftest import DemoServer

pytestmark = pytest.mark.browser

if TYPE_CHECKING:  # Playwright itself is imported by the fixtures, which skip without it
    from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, Response

PAGES = ("/", "/gallery", "/assets")
HASHED = re.compile(r"\.[0-9a-f]{12}(\.[A-Za-z0-9]+)+$")
COMPRESSED = {"br", "zstd"}  # what Chromium accepts beyond gzip; the build makes br at least
RELOAD_DEADLINE = 15.0  # seconds for the middleware to notice a new build (it polls each second)


@dataclass
class Visit:
    """Everything the browser reported while loading one page."""

    path: str
    responses: list[Response] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def static(self) -> list[Response]:
        return [r for r in self.responses if "/static/" in r.url]

    def on_response(self, response: Response) -> None:
        self.responses.append(response)
        if response.status != 200:
            self.failures.append(f"{response.status} {response.url}")

    def on_failed(self, request: Request) -> None:
        self.failures.append(f"request failed: {request.url} ({request.failure})")

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.failures.append(f"console: {message.text} at {message.location}")

    def on_error(self, error: Exception) -> None:
        self.failures.append(f"page error: {error}")


def visit(page: Page, server: DemoServer, path: str) -> Visit:
    """Navigate to ``path`` and wait until the page is complete; what the browser reported."""
    record = Visit(path)
    handlers: list[tuple[str, Any]] = [
        ("response", record.on_response),
        ("requestfailed", record.on_failed),
        ("console", record.on_console),
        ("pageerror", record.on_error),
    ]
    for event, handler in handlers:
        page.on(event, handler)  # type: ignore[call-overload]
    try:
        load(page, server, path)
    finally:
        for event, handler in handlers:
            page.remove_listener(event, handler)
    return record


def load(page: Page, server: DemoServer, path: str) -> None:
    """Navigate and wait until the ES modules ran, the fonts settled and the network is idle."""
    page.goto(server.url + path, wait_until="load")
    page.wait_for_selector("#module-status.ready")
    if path == "/":  # the dynamically imported module fills this in
        page.wait_for_selector("#stats[data-loaded='true']")
    page.evaluate("document.fonts.ready.then(() => null)")
    page.wait_for_load_state("networkidle")


def asset_at(manifest: Manifest, url: str) -> Asset:
    path = url.split("/static/", 1)[1].split("?")[0]
    by_path = {a.path: a for a in manifest.assets.values()}
    assert path in by_path, f"{url} is not a current file of the build"
    return by_path[path]


def png_width(path: Path) -> int:
    with open(path, "rb") as file:
        header = file.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width: int = struct.unpack(">I", header[16:20])[0]
    return width


# JavaScript run in the page ------------------------------------------------------------------

RENDERED_IMAGE = """async (url) => {
  const image = new Image();
  image.src = url;
  await image.decode();
  return image.naturalWidth;
}"""

BACKGROUND_URL = """(selector) => {
  const value = getComputedStyle(document.querySelector(selector)).backgroundImage;
  const match = /url\\("([^"]+)"\\)/.exec(value);
  return match ? match[1] : value;
}"""

FETCH = """async ([url, headers]) => {
  const response = await fetch(url, {cache: "no-store", headers});
  const body = new Uint8Array(await response.arrayBuffer());
  return {
    status: response.status,
    length: body.length,
    text: new TextDecoder().decode(body.slice(0, 4096)),
    range: response.headers.get("content-range"),
  };
}"""


# -- the tests -----------------------------------------------------------------------------------


def test_every_page_loads_and_renders_every_asset(
    browser: BrowserContext, demo_server: DemoServer, output_dir: Path
) -> None:
    manifest = demo_server.demo.manifest()
    page = browser.new_page()
    visits = []
    for path in PAGES:
        record = visit(page, demo_server, path)
        visits.append(record)
        assert record.failures == [], f"{path}: {record.failures}"
        assert page.text_content("#module-status") == "ES modules ran", path
        assert "loaded from hashed URLs" in (page.text_content("#greeting") or ""), path
        page.screenshot(path=output_dir / f"{path.strip('/') or 'index'}.png", full_page=True)

        if path == "/":
            # The static graph ran (above); the dynamic import() ran and called the app.
            stats = page.text_content("#stats") or ""
            assert stats == f"{len(manifest.assets)} assets in build generation 1", stats
            # The font from url(../fonts/pixel.woff2?v=1#pixel) loaded and is in use.
            faces = page.evaluate(
                "[...document.fonts].map(f => [f.family.replace(/\"/g, ''), f.status])"
            )
            assert ["Staticserve Pixel", "loaded"] in faces, faces
            assert page.evaluate("document.fonts.check('3.2rem \"Staticserve Pixel\"')")
            # CSS background images (one through url(), one through URL( '...' )) decode.
            for selector, logical in ((".hero", "img/horizon.png"), (".logo", "img/logo.svg")):
                url = page.evaluate(BACKGROUND_URL, selector)
                assert url.endswith(manifest.static_url(logical)), (selector, url)
                assert page.evaluate(RENDERED_IMAGE, url) > 0, url
            # theme_overrides/css/theme.css shadows assets/css/theme.css (whose accent is #999).
            accent = page.evaluate(
                "getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()"
            )
            assert accent == "#0a7d4f", accent
            # vendor/reset/reset.css, @imported from under the "vendor" prefix, applied.
            assert page.evaluate("getComputedStyle(document.body).margin") == "0px"

        if path == "/gallery":
            width = page.evaluate("document.querySelector('#horizon').naturalWidth")
            expected = png_width(demo_server.demo.root / "assets/img/horizon.png")
            assert width == expected > 0, (width, expected)

    # What came over the network on those visits: hashed URLs, compressed, cached for good.
    first = visits[0].static()
    assert {asset_at(manifest, r.url).logical for r in first} >= {
        "css/site.css",
        "css/theme.css",
        "vendor/reset/reset.css",
        "js/main.js",
        "js/lib/greet.js",
        "vendor/js/dom.js",
        "js/lazy/stats.js",
        "fonts/pixel.woff2",
        "img/horizon.png",
        "img/logo.svg",
    }
    for response in first:
        asset = asset_at(manifest, response.url)
        headers = response.headers
        assert HASHED.search(asset.path), asset.path
        assert "immutable" in headers.get("cache-control", ""), (response.url, headers)
        assert "max-age=31536000" in headers["cache-control"]
        assert headers.get("expires"), response.url
        if asset.logical.endswith((".css", ".js")):
            coding = headers.get("content-encoding", "identity")
            if asset.encodings.keys() & COMPRESSED:  # br, or zstd where built and smaller
                accepted = response.request.all_headers().get("accept-encoding")
                assert coding in COMPRESSED, (response.url, coding, accepted)
                assert coding in asset.encodings, (response.url, coding, asset.encodings)
            else:  # too small to be worth compressing: the build kept no variant
                assert coding == "identity", (response.url, coding)
    for logical in ("css/site.css", "js/main.js"):  # so the loop above checked something
        assert "br" in manifest.assets[logical].encodings, logical

    # Every request the server saw was answered with a 200, and /gallery and /assets needed no
    # static file the browser did not already have.
    answered = demo_server.requests()
    assert [r for r in answered if r[2] != 200] == []
    assert visits[1].static(), "/gallery used no static file"  # seen by the pages ...
    assert visits[2].static(), "/assets used no static file"
    statics = [target for _, target, _ in answered if target.startswith("/static/")]
    assert len(statics) == len(set(statics)), statics  # ... but each file fetched once


def test_every_built_file_is_served_with_ranges_and_source_map(
    browser: BrowserContext, demo_server: DemoServer
) -> None:
    manifest = demo_server.demo.manifest()
    page = browser.new_page()
    record = visit(page, demo_server, "/assets")
    links = page.eval_on_selector_all(
        "a[href^='/static/']", "links => links.map(a => a.getAttribute('href'))"
    )
    assert sorted(links) == sorted(manifest.static_url(a) for a in manifest.assets), links
    for link in links:
        reply = page.evaluate(FETCH, [link, {}])
        asset = asset_at(manifest, link)
        assert (reply["status"], reply["length"]) == (200, asset.size), (link, reply)

    # The source map: main.js names its hashed .map, which is a v3 map.
    main = page.evaluate(FETCH, [manifest.static_url("js/main.js"), {}])
    reference = re.search(r"//# sourceMappingURL=(\S+)", main["text"])
    assert reference, main["text"]
    map_url = manifest.static_url("js/main.js.map")
    assert map_url.endswith("/" + reference.group(1)), (reference.group(1), map_url)
    source_map = page.evaluate(FETCH, [map_url, {}])
    assert source_map["status"] == 200
    assert '"version":3' in source_map["text"].replace(" ", "")

    # The large image answers byte ranges.
    image = manifest.assets["img/horizon.png"]
    assert image.size > 256 * 1024, image.size
    part = page.evaluate(FETCH, [manifest.static_url("img/horizon.png"), {"Range": "bytes=0-99"}])
    assert (part["status"], part["length"]) == (206, 100), part
    assert part["range"] == f"bytes 0-99/{image.size}"
    assert record.failures == []


def test_second_visit_takes_hashed_files_from_the_browser_cache(
    browser: BrowserContext, demo_server: DemoServer
) -> None:
    page = browser.new_page()
    cdp = browser.new_cdp_session(page)
    cdp.send("Network.enable")
    # Chromium's own account, per requestId: the URL asked for, and where the answer came from.
    # A memory-cache hit is announced by requestServedFromCache, a disk-cache hit by the
    # response's fromDiskCache; any other response came over the network.
    sent: dict[str, str] = {}
    from_cache: set[str] = set()
    answered: set[str] = set()

    def on_response(event: dict[str, Any]) -> None:
        answered.add(event["requestId"])
        if event["response"].get("fromDiskCache"):
            from_cache.add(event["requestId"])

    cdp.on(
        "Network.requestWillBeSent", lambda e: sent.update({e["requestId"]: e["request"]["url"]})
    )
    cdp.on("Network.requestServedFromCache", lambda e: from_cache.add(e["requestId"]))
    cdp.on("Network.responseReceived", on_response)

    def static_urls(ids: set[str]) -> set[str]:
        return {sent[i].split("/static/", 1)[1] for i in ids if "/static/" in sent.get(i, "")}

    record = visit(page, demo_server, "/")
    assert record.failures == []
    before = demo_server.requests()
    first_static = {t for _, t, _ in before if t.startswith("/static/")}
    assert len(first_static) >= 10, before  # the first visit did fetch them: the log counts
    assert len(static_urls(answered - from_cache)) >= 10, "CDP saw no fetch over the network"

    sent.clear()
    from_cache.clear()
    answered.clear()
    record = visit(page, demo_server, "/")  # a new navigation, not a reload
    after = demo_server.requests()[len(before) :]

    assert record.failures == []
    targets = [target for _, target, _ in after]
    assert "/" in targets, targets  # the page itself was fetched again ...
    assert "/api/status" in targets, targets
    assert [t for t in targets if t.startswith("/static/")] == [], targets  # ... no static file
    assert static_urls(answered - from_cache) == set()
    cached = static_urls(from_cache)
    assert len(cached) >= 10, cached
    assert any(p.startswith("css/site.") for p in cached), cached
    assert any(p.startswith("js/main.") for p in cached), cached


def test_rebuild_is_picked_up_by_the_running_server(
    browser: BrowserContext, demo_server: DemoServer, output_dir: Path
) -> None:
    demo = demo_server.demo
    old = demo.manifest()
    page = browser.new_page()
    record = visit(page, demo_server, "/")
    assert record.failures == []
    old_css = page.get_attribute("link[rel=stylesheet]", "href")
    assert old_css == old.static_url("css/site.css")
    assert page.evaluate("getComputedStyle(document.querySelector('nav a')).color") == (
        "rgb(10, 125, 79)"  # --accent: #0a7d4f
    )

    # Change one source file of the copy and rebuild, with the server still running. theme.css
    # is @imported by site.css, so both get new names.
    theme = demo.root / "theme_overrides/css/theme.css"
    theme.write_text(theme.read_text().replace("#0a7d4f", "#b0306a"), encoding="utf-8")
    new = demo.build()
    assert new.generation == old.generation + 1
    new_css = new.static_url("css/site.css")
    assert new_css != old_css

    deadline = time.monotonic() + RELOAD_DEADLINE
    while True:
        record = visit(page, demo_server, "/")
        href = page.get_attribute("link[rel=stylesheet]", "href")
        if href == new_css or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert href == new_css, f"still {href} {RELOAD_DEADLINE} s after the rebuild"
    assert record.failures == []  # integrity of the new stylesheet matched, it all loaded
    assert page.evaluate("getComputedStyle(document.querySelector('nav a')).color") == (
        "rgb(176, 48, 106)"  # the new --accent: #b0306a
    )
    assert page.text_content("#stats") == f"{len(new.assets)} assets in build generation 2"
    page.screenshot(path=output_dir / "index-after-rebuild.png", full_page=True)

    # The previous build's hashed URLs still work (pages cached elsewhere keep loading).
    for url in (old_css, old.static_url("css/theme.css")):
        reply = page.evaluate(FETCH, [url, {}])
        assert reply["status"] == 200, (url, reply)
        assert "--accent" in reply["text"] or "@import" in reply["text"]
    answered = demo_server.requests()
    assert (("GET", old_css, 200)) in answered
    assert answered.count(("GET", old_css, 200)) == 2  # first visit, then the fetch above
