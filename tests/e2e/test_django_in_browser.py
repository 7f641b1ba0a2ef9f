"""A Django project with the admin and Django REST framework's browsable API, in Chromium.

Served by gunicorn (WSGI) and by uvicorn (ASGI), through ``StaticServeMiddleware`` and through
the ``wrap_asgi`` wrapper. What a person would check by hand, asserted: the admin's login page,
a changelist and a change form, and DRF's browsable API load with no console error; every
CSS/JS/image/font response is a 200 from a hashed URL of the build, ``immutable`` with
``Expires``, brotli-compressed wherever the build found that it shrinks the file; and a second
visit takes every one of them from the browser's cache (Chromium's own account, over CDP).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from staticserve.manifest import Asset, Manifest

from ..conftest import server_process
from . import django_site

pytestmark = pytest.mark.browser

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

HASHED = re.compile(r"\.[0-9a-f]{12}(\.[A-Za-z0-9]+)+$")
COMPRESSED = {"br", "zstd"}
# Each page, and an element that shows it rendered as it should.
PAGES = (
    ("/admin/", "#content-main .app-auth"),  # the index, with the auth app's models
    ("/admin/auth/user/", "#result_list"),  # a changelist
    ("/admin/auth/user/1/change/", "#user_form .submit-row"),  # a change form
    ("/api/users/", ".response-info"),  # DRF's browsable API
)
ASSET_TYPES = {"stylesheet", "script", "image", "font"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("rest_framework", reason="pip install -e '.[test]'")
    root = tmp_path_factory.mktemp("django_site")
    django_site.create(root)
    return root


@pytest.fixture(
    scope="module", params=["gunicorn-middleware", "uvicorn-middleware", "uvicorn-wrapper"]
)
def site(request: pytest.FixtureRequest, project: Path) -> Iterator[str]:
    server, mode = request.param.split("-")

    def command(port: int) -> list[str]:
        if server == "gunicorn":
            command = [sys.executable, "-m", "gunicorn", "--workers", "1", "--log-level"]
            return [*command, "warning", "--bind", f"127.0.0.1:{port}", "proj.wsgi:application"]
        command = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--lifespan", "off"]
        return [*command, "--host", "127.0.0.1", "--port", str(port), "proj.asgi:application"]

    env = django_site.environment(project, mode)
    with server_process(command, "/admin/login/", cwd=project, env=env) as url:
        yield url


@dataclass
class Record:
    """What the browser reported: asset responses, and anything that went wrong."""

    assets: list[Any] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def on_response(self, response: Any) -> None:
        if response.request.resource_type in ASSET_TYPES or "/static/" in response.url:
            self.assets.append(response)
            if response.status != 200:
                self.failures.append(f"{response.status} {response.url}")

    def on_console(self, message: Any) -> None:
        # The browser's own request for /favicon.ico, which a startproject site does not have,
        # is no page's error.
        if message.location.get("url", "").endswith("/favicon.ico"):
            return
        if message.type == "error":
            self.failures.append(f"console: {message.text} at {message.location}")


def listen(page: Page, record: Record) -> None:
    page.on("response", record.on_response)
    page.on("console", record.on_console)
    page.on("pageerror", lambda error: record.failures.append(f"page error: {error}"))
    page.on("requestfailed", lambda r: record.failures.append(f"failed: {r.url} {r.failure}"))


def log_in(page: Page, url: str) -> None:
    page.goto(url + "/admin/login/", wait_until="load")
    page.fill("#id_username", django_site.USERNAME)
    page.fill("#id_password", django_site.PASSWORD)
    with page.expect_navigation(wait_until="load"):
        page.click("input[type=submit]")


def visit_all(page: Page, url: str) -> None:
    for path, rendered in PAGES:
        page.goto(url + path, wait_until="load")
        page.wait_for_load_state("networkidle")
        assert page.url == url + path, page.url  # not sent back to the login page
        assert page.locator(rendered).count() == 1, (path, rendered)


def asset_of(manifest: Manifest, url: str) -> Asset:
    path = url.split("/static/", 1)[1].split("?")[0].split("#")[0]
    by_path = {a.path: a for a in manifest.assets.values()}
    assert path in by_path, f"{url} is not a file of the current build"
    return by_path[path]


def test_admin_and_browsable_api_assets_are_hashed_immutable_compressed_and_cached(
    browser: BrowserContext, site: str, project: Path
) -> None:
    manifest = Manifest.load(project / "staticfiles")
    page = browser.new_page()
    first = Record()
    listen(page, first)
    log_in(page, site)  # the login page, then the index it leads to
    assert page.url == site + "/admin/", page.url
    visit_all(page, site)
    assert first.failures == [], first.failures
    assert len(first.assets) >= 15, [r.url for r in first.assets]
    kinds = {r.request.resource_type for r in first.assets}
    assert {"stylesheet", "script", "image"} <= kinds, kinds
    # Every CSS/JS/image/font came from /static/, but the admin's translation catalogue, which
    # is a view (/admin/jsi18n/), not a file.
    views = {r.url for r in first.assets if not r.url.startswith(site + "/static/")}
    assert views <= {site + "/admin/jsi18n/"}, views
    for response in first.assets:
        if response.url in views:
            continue
        asset = asset_of(manifest, response.url)
        assert HASHED.search(asset.path), asset.path
        headers = response.headers
        assert headers["cache-control"] == "public, max-age=31536000, immutable", response.url
        assert headers.get("expires"), response.url
        coding = headers.get("content-encoding", "identity")
        if asset.encodings.keys() & COMPRESSED:
            assert coding in COMPRESSED & asset.encodings.keys(), (response.url, coding)
        else:
            assert coding == "identity", (response.url, coding)
    assert any("br" in asset_of(manifest, r.url).encodings for r in first.assets)
    fetched = {r.url for r in first.assets}
    assert any("/rest_framework/" in u for u in fetched), fetched
    assert any("/admin/js/" in u for u in fetched), fetched

    # The second visit: a new navigation to each page; Chromium's account of every request.
    cdp = browser.new_cdp_session(page)
    cdp.send("Network.enable")
    sent: dict[str, str] = {}
    cached: set[str] = set()
    cdp.on(
        "Network.requestWillBeSent", lambda e: sent.update({e["requestId"]: e["request"]["url"]})
    )
    cdp.on("Network.requestServedFromCache", lambda e: cached.add(e["requestId"]))
    cdp.on(
        "Network.responseReceived",
        lambda e: cached.add(e["requestId"]) if e["response"].get("fromDiskCache") else None,
    )
    second = Record()
    listen(page, second)
    visit_all(page, site)
    assert second.failures == [], second.failures
    static = {i: u for i, u in sent.items() if u.startswith(site + "/static/")}
    assert len(static) >= 15, static
    over_network = sorted(u for i, u in static.items() if i not in cached)
    assert over_network == [], over_network
