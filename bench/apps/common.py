"""What every contender shares: the wrapped app, its configuration and the immutable-file test.

The wrapped ("inner") app is also the bare reference: it answers ``/api/ping`` with a tiny JSON
document, the large file's URL (``BENCH_MEMORY_PATH``) with that file's bytes
(``BENCH_MEMORY_FILE``, read once at import) and any other path with a constant 2 KB body held
in memory: the ceiling for any middleware on the same server.
"""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
StartResponse = Callable[..., Any]

PING_PATH = "/api/ping"
PING_BODY = b'{"ok":true}'
CEILING_BODY = (b"/* constant in-memory body */\n" + b"a{color:red}\n" * 200)[:2048]

# Hashed names are ``name.<12 hex>.ext`` (the same test WhiteNoise and ServeStatic use for Django).
IMMUTABLE_PATTERN = r"\.[0-9a-f]{12}\.[^/]+$"
IMMUTABLE_RE = re.compile(IMMUTABLE_PATTERN)


def _memory_file() -> tuple[str | None, bytes]:
    """The URL path the bare app answers with a file's bytes from memory, and those bytes."""
    path, disk = os.environ.get("BENCH_MEMORY_PATH"), os.environ.get("BENCH_MEMORY_FILE")
    if not path or not disk:
        return None, b""
    with open(disk, "rb") as file:
        return path, file.read()


MEMORY_PATH, MEMORY_BODY = _memory_file()


def root() -> str:
    """The build output directory to serve (``BENCH_ROOT``)."""
    value = os.environ.get("BENCH_ROOT")
    if not value:
        raise RuntimeError("BENCH_ROOT must name the build output directory")
    return value


def prefix() -> str:
    """URL prefix without a trailing slash, e.g. ``/static``."""
    return "/" + os.environ.get("BENCH_PREFIX", "/static").strip("/")


def _header_list(content_type: bytes, body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]


_PING_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": _header_list(b"application/json", PING_BODY),
}
_PING_BODY = {"type": "http.response.body", "body": PING_BODY}
_CEILING_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": _header_list(b"text/css; charset=utf-8", CEILING_BODY),
}
_CEILING_BODY = {"type": "http.response.body", "body": CEILING_BODY}
_MEMORY_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": _header_list(b"application/octet-stream", MEMORY_BODY),
}
_MEMORY_BODY = {"type": "http.response.body", "body": MEMORY_BODY}


async def inner_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    """The wrapped ASGI app (and the bare ASGI reference)."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    if scope["path"] == PING_PATH:
        await send(_PING_START)
        await send(_PING_BODY)
    elif scope["path"] == MEMORY_PATH:
        await send(_MEMORY_START)
        await send(_MEMORY_BODY)
    else:
        await send(_CEILING_START)
        await send(_CEILING_BODY)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


_PING_WSGI_HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(PING_BODY)))]
_CEILING_WSGI_HEADERS = [
    ("Content-Type", "text/css; charset=utf-8"),
    ("Content-Length", str(len(CEILING_BODY))),
]


_MEMORY_WSGI_HEADERS = [
    ("Content-Type", "application/octet-stream"),
    ("Content-Length", str(len(MEMORY_BODY))),
]


def inner_wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The wrapped WSGI app (and the bare WSGI reference)."""
    path = environ.get("PATH_INFO")
    if path == PING_PATH:
        start_response("200 OK", _PING_WSGI_HEADERS)
        return [PING_BODY]
    if path == MEMORY_PATH:
        start_response("200 OK", _MEMORY_WSGI_HEADERS)
        return [MEMORY_BODY]
    start_response("200 OK", _CEILING_WSGI_HEADERS)
    return [CEILING_BODY]
