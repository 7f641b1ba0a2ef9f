"""The app that the reliability tests' server subprocesses run, configured by the environment.

``RELIAB_ROOT``    the build's output folder (production mode)
``RELIAB_MODE``    ``production`` (default) or ``dev``
``RELIAB_CONFIG``  the build configuration (dev mode)
``RELIAB_RELOAD``  the catalog's reload interval in seconds (default 1)
``RELIAB_MEMORY_TOTAL``  the middleware's ``memory_total`` in bytes (default: its own default)

The wrapped app answers ``/__health`` with 200, ``/__pid`` with the worker's process id (for
counting its descriptors and memory) and everything else with a constant 404 page.

``python -m tests.reliability.served_app PORT`` serves the WSGI app with the standard library's
wsgiref, which (unlike gunicorn) hands the app only the decoded ``PATH_INFO``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

APP_404 = b"app 404\n"


def _answer(path: str) -> tuple[int, bytes]:
    if path == "/__health":
        return 200, b"ok\n"
    if path == "/__pid":
        return 200, b"%d\n" % os.getpid()
    return 404, APP_404


async def bare_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    status, body = _answer(scope["path"])
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def bare_wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    status, body = _answer(environ.get("PATH_INFO", ""))
    line = "200 OK" if status == 200 else "404 Not Found"
    start_response(line, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _options() -> dict[str, Any]:
    reload_interval = float(os.environ.get("RELIAB_RELOAD", "1"))
    if os.environ.get("RELIAB_MODE", "production") == "dev":
        return {"dev": True, "config": os.environ["RELIAB_CONFIG"]}
    options: dict[str, Any] = {
        "root": os.environ["RELIAB_ROOT"],
        "reload_interval": reload_interval,
    }
    if os.environ.get("RELIAB_MEMORY_TOTAL"):
        options["memory_total"] = int(os.environ["RELIAB_MEMORY_TOTAL"])
    return options


def _make_asgi() -> Any:
    from staticserve.asgi import StaticServe

    return StaticServe(bare_asgi, **_options())


def _make_wsgi() -> Any:
    from staticserve.wsgi import StaticServeWSGI

    return StaticServeWSGI(bare_wsgi, **_options())


def __getattr__(name: str) -> Any:  # built on first use, so each server builds only its own
    if name == "asgi_app":
        value = _make_asgi()
    elif name == "wsgi_app":
        value = _make_wsgi()
    else:
        raise AttributeError(name)
    globals()[name] = value
    return value


def _serve_wsgiref(port: int) -> None:
    import socketserver
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Threading(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True

    make_server("127.0.0.1", port, _make_wsgi(), Threading, Quiet).serve_forever()


if __name__ == "__main__":
    _serve_wsgiref(int(sys.argv[1]))
