"""The ASGI site the real-server tests run (``tests/servers.py``): Starlette behind StaticServe.

The build folder comes from ``STATICSERVE_TEST_BUILD``. The same site is mounted once more at
``/sub`` with Starlette's ``Mount``, the way an app includes a sub-application that has its own
static files. Each site has a JSON route, a page that prints ``static_url()``, a Jinja2 page and
a 404 handler that names itself, so a test can tell the app's answers from the middleware's.
"""

from __future__ import annotations

import os
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from staticserve.asgi import StaticServe
from staticserve.integrations.jinja2 import install

ROOT = os.environ["STATICSERVE_TEST_BUILD"]
TEMPLATE = '<link rel="stylesheet" href="{{ static_url(\'css/app.css\') }}" integrity="{{ integrity(\'css/app.css\') }}">'


def site(mounted: dict[str, Any]) -> StaticServe:
    environment = jinja2.Environment(autoescape=True)
    middleware: StaticServe

    async def data(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def page(request: Request) -> Response:
        return PlainTextResponse(middleware.static_url("css/app.css"))

    async def template(request: Request) -> Response:
        return HTMLResponse(environment.from_string(TEMPLATE).render())

    async def not_found(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"app 404: {request.url.path}", status_code=404)

    routes: list[BaseRoute] = [
        Route("/api/data", data),
        Route("/page", page),
        Route("/template", template),
    ]
    routes += [Mount(path, app=app) for path, app in mounted.items()]
    app = Starlette(routes=routes, exception_handlers={404: not_found})
    middleware = StaticServe(app, ROOT)
    install(environment, middleware)
    return middleware


app = site({"/sub": site({})})
