"""Diagnostic: the bare ASGI app, but sending the ten header fields staticserve sends for a
hashed asset (same names, same value lengths). Its distance from the bare app is what the
server charges for writing those fields; staticserve cannot go faster than this."""

from apps.common import (
    CEILING_BODY,
    MEMORY_BODY,
    MEMORY_PATH,
    PING_PATH,
    Receive,
    Scope,
    Send,
    inner_asgi,
)

ASSET_HEADERS = [
    (b"content-type", b"text/css; charset=utf-8"),
    (b"content-length", str(len(CEILING_BODY)).encode()),
    (b"etag", b'"eacb3b094e7aa3b1"'),
    (b"last-modified", b"Sat, 28 Nov 2026 05:22:49 GMT"),
    (b"cache-control", b"public, max-age=31536000, immutable"),
    (b"vary", b"Accept-Encoding"),
    (b"accept-ranges", b"bytes"),
    (b"access-control-allow-origin", b"*"),
    (b"x-content-type-options", b"nosniff"),
    (b"expires", b"Sun, 28 Nov 2027 05:22:49 GMT"),
]
_START = {"type": "http.response.start", "status": 200, "headers": ASSET_HEADERS}
_BODY = {"type": "http.response.body", "body": CEILING_BODY}
_MEMORY_HEADERS = [
    (name, str(len(MEMORY_BODY)).encode() if name == b"content-length" else value)
    for name, value in ASSET_HEADERS
]
_MEMORY_START = {"type": "http.response.start", "status": 200, "headers": _MEMORY_HEADERS}
_MEMORY_BODY = {"type": "http.response.body", "body": MEMORY_BODY}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http" or scope["path"] == PING_PATH:
        await inner_asgi(scope, receive, send)
        return
    if scope["path"] == MEMORY_PATH:
        await send(_MEMORY_START)
        await send(_MEMORY_BODY)
        return
    await send(_START)
    await send(_BODY)
