"""The WSGI site the real-server tests run (``tests/servers.py``): Flask behind StaticServeWSGI.

The build folder comes from ``STATICSERVE_TEST_BUILD``. The same site is mounted once more at
``/sub`` with werkzeug's ``DispatcherMiddleware``. Each site has a JSON route, a page that
prints ``static_url()``, a Jinja2 page and a 404 handler that names itself. uWSGI loads this
file by its path, so it imports nothing from the tests package.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response, render_template_string, request
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from staticserve.integrations.jinja2 import install
from staticserve.wsgi import StaticServeWSGI

ROOT = os.environ["STATICSERVE_TEST_BUILD"]
TEMPLATE = '<link rel="stylesheet" href="{{ static_url(\'css/app.css\') }}" integrity="{{ integrity(\'css/app.css\') }}">'


def site(mounted: dict[str, Any]) -> StaticServeWSGI:
    flask = Flask("site", static_folder=None)

    @flask.get("/api/data")
    def data() -> Any:
        return {"ok": True}

    @flask.get("/page")
    def page() -> Any:
        return Response(middleware.static_url("css/app.css"), mimetype="text/plain")

    @flask.get("/template")
    def template() -> Any:
        return render_template_string(TEMPLATE)

    @flask.errorhandler(404)
    def not_found(error: Exception) -> Any:
        return Response(f"app 404: {request.path}", status=404, mimetype="text/plain")

    middleware = StaticServeWSGI(DispatcherMiddleware(flask, mounted), ROOT)
    install(flask.jinja_env, middleware)
    return middleware


app = site({"/sub": site({})})
