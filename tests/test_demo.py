"""The demo apps without a browser: every asset a page links is served, by both twins, in
production and development mode (the browser test covers the ASGI demo in depth)."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

DEMO = Path(__file__).resolve().parent.parent / "demo_app"


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo's sources and configuration, built, so the repository stays as it is."""
    copy = tmp_path_factory.mktemp("demo")
    for name in ("assets", "theme_overrides", "vendor", "staticserve.toml"):
        source = DEMO / name
        if source.is_dir():
            shutil.copytree(source, copy / name)
        else:
            shutil.copy(source, copy / name)
    return copy / "staticserve.toml"


def get(app: Any, kind: str, path: str) -> httpx.Response:
    if kind == "wsgi":
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://demo") as c:
            return c.get(path)

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            return await client.get(path)

    return asyncio.run(fetch())


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.parametrize("dev", [False, True], ids=["production", "development"])
def test_every_linked_asset_is_served(
    kind: str, dev: bool, demo_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATICSERVE_DEMO_CONFIG", str(demo_config))
    from demo_app.settings import build_assets

    build_assets()
    if kind == "asgi":
        from demo_app.app import create_app
    else:
        from demo_app.wsgi import create_app  # type: ignore[assignment]
    app = create_app(dev=dev)
    page = get(app, kind, "/")
    assert page.status_code == 200
    links = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    assert len(links) >= 3
    for link in links:
        hashed = re.search(r"\.[0-9a-f]{12}\.", link) is not None
        assert hashed is not dev, link  # hashed URLs in production, plain ones in development
        reply = get(app, kind, link)
        assert reply.status_code == 200, link
        expected = "public, max-age=31536000, immutable" if not dev else "no-cache"
        assert reply.headers["cache-control"] == expected
    assert get(app, kind, "/api/status").json()["assets"] >= 10
