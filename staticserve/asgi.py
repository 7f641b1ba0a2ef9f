"""ASGI 3 middleware: scope -> Request, plan -> ``http.response.*`` messages. No HTTP rules here."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from time import time
from typing import TYPE_CHECKING, Any, BinaryIO

from .core.paths import path_below, raw_below, url_path
from .core.plan import NOT_FOUND, plan_request
from .core.response import FileSlice, MemoryCopy, ResponsePlan
from .middleware import MiddlewareBase, cut_while_sent, open_slice, pinned_builds, wrong_size
from .options import OUTPUT_DIR, PREFIX, ServeKeywords

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["CHUNK_SIZE", "PATHSEND", "StaticServe", "raw_path"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PATHSEND = "http.response.pathsend"
# Large files are read and sent in chunks of this size when the server cannot send the file
# itself: few hand-offs to the executor, bounded memory per response.
CHUNK_SIZE = 512 * 1024
log = logging.getLogger("staticserve")
_QUESTION_MARK = ord("?")  # an int: `in` on bytes is then a memchr, five times cheaper


class StaticServe(MiddlewareBase):
    """Serve a staticserve build under ``prefix``; everything else goes to ``app`` untouched.

    ``lifespan`` and ``websocket`` scopes pass straight through. With ``app=None`` it stands
    alone: any other request gets a plain 404, lifespan events are acknowledged and websocket
    connections refused. With ``dev=True`` it serves the source folders of the build
    configuration ``config`` (a TOML file; default ``pyproject.toml`` in the working directory)
    as they are, uncached, and needs no build.
    """

    def __init__(
        self,
        app: ASGIApp | None,
        root: str | os.PathLike[str] = OUTPUT_DIR,
        prefix: str = PREFIX,
        **options: Unpack[ServeKeywords],
    ) -> None:
        super().__init__(root, prefix, **options)
        self.app: ASGIApp = _no_app if app is None else app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The hot path, kept flat: every call and allocation here is paid on each request.
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root: str = scope.get("root_path") or ""  # mounted under a sub-path: matched below it
        path = path_below(root, scope["path"]) if root else scope["path"]
        if not path.startswith(self.mount):
            if self.pinning or root:
                await self._pinned_app(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path") or url_path(scope["path"])
        if _QUESTION_MARK in raw:  # some servers leave the query on raw_path
            raw = raw.partition(b"?")[0]
        if len(path) < len(scope["path"]):  # the mount point was taken off
            raw = _raw_below(raw, root, path)
        fields = scope["headers"]
        if not isinstance(fields, (list, tuple)):  # ASGI allows any iterable
            fields = list(fields)
        headers = dict(fields)
        if len(headers) < len(fields):  # a field sent on several lines: rare, so checked cheaply
            headers = _combined(fields)
        plan = plan_request(
            scope["method"], raw, headers, int(time()), self.lookup, scope.get("query_string", b"")
        )
        if plan is None:
            if self.fall_through:
                await self._pinned_app(scope, receive, send)
                return
            plan = NOT_FOUND
        body = plan.body
        if isinstance(body, bytes):
            # Fresh messages and a fresh header list: plans are shared, and servers or outer
            # middlewares may change what they are handed.
            await send(
                {
                    "type": "http.response.start",
                    "status": plan.status,
                    "headers": list(plan.headers),
                }
            )
            await send({"type": "http.response.body", "body": body})
        elif body.whole and PATHSEND in (scope.get("extensions") or {}):
            if not _sendable(body):  # the server would send what the file has, short or not
                await _send_bytes(NOT_FOUND, send)
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": plan.status,
                    "headers": list(plan.headers),
                }
            )
            await send({"type": PATHSEND, "path": body.path})
        elif body.copy is not None:
            await _send_copy(plan, body, body.copy, send)
        else:
            await _stream(plan, body, send)

    async def _pinned_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, with one build pinned for the helpers it calls while it handles the request,
        and its mount point (``root_path``) put before the URLs they give."""
        pins = pinned_builds.set({})
        root = self.request_root.set(_url_root(scope.get("root_path")))
        try:
            await self.app(scope, receive, send)
        finally:
            self.request_root.reset(root)
            pinned_builds.reset(pins)


def raw_path(scope: Scope) -> bytes:
    """The request path below ``root_path`` as the client sent it (percent-encoded), as
    :class:`StaticServe` reads it; for other middlewares over ASGI (Django's)."""
    root: str = scope.get("root_path") or ""
    path = path_below(root, scope["path"]) if root else scope["path"]
    raw = scope.get("raw_path") or url_path(scope["path"])
    if _QUESTION_MARK in raw:
        raw = raw.partition(b"?")[0]
    if len(path) < len(scope["path"]):
        raw = _raw_below(raw, root, path)
    return bytes(raw)


def _url_root(root_path: str | None) -> str:
    """The ASGI ``root_path`` as the start of a URL path ("" at the site root)."""
    return url_path(root_path.rstrip("/")).decode("ascii") if root_path else ""


def _raw_below(raw: bytes, root: str, path: str) -> bytes:
    """The raw path below the mount point ``root``; ``path`` (decoded) re-encoded when the
    client spelled the mount point another way."""
    below = raw_below(raw, root.encode("utf-8"))
    return url_path(path) if below is None else below


async def _no_app(scope: Scope, receive: Receive, send: Send) -> None:
    """What stands behind a middleware given no app: a 404 for every request that is not a file.

    It speaks the lifespan protocol so that servers start and stop cleanly (uvicorn with
    ``--lifespan on`` refuses to start otherwise), and refuses websocket connections (a close
    before the accept: the server answers 403).
    """
    if scope["type"] == "http":
        await _send_bytes(NOT_FOUND, send)
    elif scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1000})
    elif scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def _combined(fields: Iterable[Sequence[bytes]]) -> dict[bytes, bytes]:
    """Field lines of one name joined by commas, in order (RFC 9110 §5.3), as WSGI servers do.

    A list field (If-None-Match, Accept-Encoding) keeps every member; a singleton field
    (Range, If-Range, If-Modified-Since) becomes invalid and is ignored, whichever line came last.
    """
    headers: dict[bytes, bytes] = {}
    for name, value in fields:
        headers[name] = headers[name] + b"," + value if name in headers else value
    return headers


def _sendable(part: FileSlice) -> bool:
    """True when the file of ``part`` is the size the build recorded (one ``stat``, cached by
    the system): a server told to send it by path sends the bytes the file has, under the
    Content-Length the build recorded."""
    try:
        wrong = wrong_size(os.stat(part.path).st_size, part)
    except OSError as exc:
        wrong = exc
    if wrong is not None:
        log.error("cannot open %s: %s", part.path, wrong)
    return wrong is None


def _read_first(part: FileSlice, size: int) -> tuple[BinaryIO | None, bytes]:
    """Open ``part`` and read its first chunk; the file is closed already when that was all."""
    file = open_slice(part)
    try:
        chunk = file.read(size)
    except BaseException:
        file.close()
        raise
    if len(chunk) >= part.length or not chunk:
        file.close()
        return None, chunk
    return file, chunk


async def _send_copy(plan: ResponsePlan, part: FileSlice, copy: MemoryCopy, send: Send) -> None:
    """Send ``part`` from the copy of its file kept in memory, loading the file first when the
    copy wants it (one read in the loop's default executor); from disk otherwise."""
    copy.hits += 1
    data = copy.data
    if data is None:
        if not copy.wanted():
            await _stream(plan, part, send)
            return
        data = await asyncio.get_running_loop().run_in_executor(None, copy.load)
        if data is None:  # unreadable, or not the bytes the build names (logged)
            await _send_bytes(NOT_FOUND, send)
            return
    if not part.whole:
        data = data[part.offset : part.offset + part.length]
    await send(
        {"type": "http.response.start", "status": plan.status, "headers": list(plan.headers)}
    )
    await send({"type": "http.response.body", "body": data})


async def _stream(plan: ResponsePlan, part: FileSlice, send: Send) -> None:
    """Send ``part`` in chunks read in the loop's default executor (no thread pool per file).

    The first chunk is read by the job that opens the file, so a file of up to ``CHUNK_SIZE``
    bytes costs the event loop a single hand-off to a thread.
    """
    loop = asyncio.get_running_loop()
    remaining = part.length
    try:
        file, chunk = await loop.run_in_executor(
            None, _read_first, part, min(CHUNK_SIZE, remaining)
        )
    except OSError as exc:  # a file the manifest names is gone: a broken or pruned deploy
        log.error("cannot open %s: %s", part.path, exc)
        await _send_bytes(NOT_FOUND, send)
        return
    try:
        await send(
            {"type": "http.response.start", "status": plan.status, "headers": list(plan.headers)}
        )
        remaining -= len(chunk)
        while file is not None and remaining > 0:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            chunk = await loop.run_in_executor(None, file.read, min(CHUNK_SIZE, remaining))
            if not chunk:  # the file shrank under us
                raise cut_while_sent(remaining)
            remaining -= len(chunk)
        await send({"type": "http.response.body", "body": chunk, "more_body": False})
    finally:  # also when the client went away and send() raised, or the task was cancelled
        if file is not None:
            file.close()


async def _send_bytes(plan: ResponsePlan, send: Send) -> None:
    await send(
        {"type": "http.response.start", "status": plan.status, "headers": list(plan.headers)}
    )
    await send({"type": "http.response.body", "body": plan.body})
