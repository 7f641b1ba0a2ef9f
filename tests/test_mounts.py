"""Apps mounted under a sub-path, in process: what the real-server matrix cannot set up.

``tests/test_servers.py`` runs every server with the site mounted; these pin the cases around
it: the first request of a process, middlewares nested in each other, and helpers called
outside any request.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from werkzeug.test import Client

from staticserve.asgi import StaticServe
from staticserve.wsgi import StaticServeWSGI

from .conftest import CSS, Build


def wsgi_page(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["page"]().encode()]


async def asgi_not_found(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"app 404"})


def test_the_first_request_under_script_name_gets_urls_with_the_mount_point(
    static_build: Build,
) -> None:
    # No template helper installed: the helpers are first used inside this request.
    middleware = StaticServeWSGI(wsgi_page, static_build.root)

    def app(environ: Any, start_response: Any) -> Any:
        environ["page"] = lambda: middleware.static_url("css/app.css")
        return middleware(environ, start_response)

    reply = Client(app).get("/page", base_url="http://localhost/my app/")
    assert reply.get_data() == b"/my%20app" + static_build.hashed("css/app.css").encode()
    served = Client(app).get(
        static_build.hashed("css/app.css"), base_url="http://localhost/my app/"
    )
    assert served.get_data() == CSS


def test_outside_a_request_urls_start_at_the_prefix(static_build: Build) -> None:
    middleware = StaticServeWSGI(wsgi_page, static_build.root)
    assert middleware.static_url("css/app.css") == static_build.hashed("css/app.css")


def test_nested_middlewares_each_give_urls_from_their_own_mount_point(
    static_build: Build,
) -> None:
    # The site at the root, and a sub-application mounted at /sub with its own middleware.
    answers: dict[str, str] = {}

    async def page(scope: Any, receive: Any, send: Any) -> None:
        answers["outer"] = outer.static_url("css/app.css")
        answers["inner"] = inner.static_url("css/app.css")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    inner = StaticServe(page, static_build.root)

    async def router(scope: Any, receive: Any, send: Any) -> None:
        # What Starlette's Mount("/sub") does: the path stays whole, root_path grows.
        await inner({**scope, "root_path": scope.get("root_path", "") + "/sub"}, receive, send)

    outer = StaticServe(router, static_build.root)

    async def ask() -> int:
        transport = httpx.ASGITransport(app=outer, root_path="/app")
        async with httpx.AsyncClient(transport=transport) as client:
            return (await client.get("http://testserver/app/sub/page")).status_code

    assert asyncio.run(ask()) == 204
    hashed = static_build.hashed("css/app.css")
    assert answers == {"outer": "/app" + hashed, "inner": "/app/sub" + hashed}


def test_a_root_path_the_proxy_took_off_still_serves(static_build: Build) -> None:
    # A server told its root path but sent paths without it (a proxy stripped it).
    middleware = StaticServe(asgi_not_found, static_build.root)

    async def ask(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=middleware, root_path="/app")
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.get("http://testserver" + path)

    for path in ("/app", ""):
        reply = asyncio.run(ask(path + static_build.hashed("css/app.css")))
        assert (reply.status_code, reply.content) == (200, CSS)


def test_url_base_urls_are_the_same_from_every_mount_point(static_build: Build) -> None:
    base = "https://cdn.example.com/static/"
    middleware = StaticServeWSGI(wsgi_page, static_build.root, url_base=base)

    def app(environ: Any, start_response: Any) -> Any:
        environ["page"] = lambda: middleware.static_url("css/app.css")
        return middleware(environ, start_response)

    reply = Client(app).get("/page", base_url="http://localhost/my app/")
    expected = base + static_build.asset("css/app.css").path
    assert reply.get_data() == expected.encode()
    assert middleware.static_url("css/app.css") == expected
