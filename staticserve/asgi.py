"""ASGI 3 middleware: scope -> Request, plan -> ``http.response.*`` messages. No HTTP rules here."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from time import time
from typing import TYPE_CHECKING, Any

from .catalog import MEMORY_LIMIT, MEMORY_TOTAL, OUTPUT_DIR, MiddlewareBase, open_slice
from .core.paths import url_path
from .core.plan import not_found, plan_response
from .core.request import Request
from .core.response import FileSlice, ResponsePlan

if TYPE_CHECKING:
    from .build.config import BuildConfig

__all__ = ["CHUNK_SIZE", "PATHSEND", "StaticServe"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PATHSEND = "http.response.pathsend"
CHUNK_SIZE = 64 * 1024
log = logging.getLogger("staticserve")


class StaticServe(MiddlewareBase):
    """Serve a staticserve build under ``prefix``; everything else goes to ``app`` untouched.

    ``lifespan`` and ``websocket`` scopes pass straight through. With ``dev=True`` it serves
    the source folders of the build configuration ``config`` (a TOML file; default
    ``pyproject.toml`` in the working directory) as they are, uncached, and needs no build.
    """

    def __init__(
        self,
        app: ASGIApp,
        root: str | os.PathLike[str] = OUTPUT_DIR,
        prefix: str = "/static",
        *,
        max_age: int = 60,
        allow_origin: str | None = "*",
        headers: Mapping[str, Mapping[str, str]] | None = None,
        fall_through: bool = True,
        memory_limit: int = MEMORY_LIMIT,
        memory_total: int = MEMORY_TOTAL,
        index_file: str | None = None,
        reload_interval: float = 1.0,
        dev: bool = False,
        config: BuildConfig | str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(
            root,
            prefix,
            max_age=max_age,
            allow_origin=allow_origin,
            headers=headers,
            fall_through=fall_through,
            memory_limit=memory_limit,
            memory_total=memory_total,
            index_file=index_file,
            reload_interval=reload_interval,
            dev=dev,
            config=config,
        )
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.mount):
            plan = plan_response(_request(scope), self.lookup)
            if plan is None and not self.fall_through:
                plan = not_found()
            if plan is not None:
                return await _send_plan(plan, send, scope)
        return await self.app(scope, receive, send)


def _request(scope: Scope) -> Request:
    raw = scope.get("raw_path") or url_path(scope["path"])
    if b"?" in raw:  # some servers leave the query on raw_path
        raw = raw.partition(b"?")[0]
    fields = scope["headers"]
    if not isinstance(fields, (list, tuple)):
        fields = list(fields)
    headers = dict(fields)
    if len(headers) < len(fields):  # a field sent on several lines: rare, so checked cheaply
        headers = _combined(fields)
    return Request(scope["method"], raw, headers, int(time()))


def _combined(fields: Iterable[Sequence[bytes]]) -> dict[bytes, bytes]:
    """Field lines of one name joined by commas, in order (RFC 9110 §5.3), as WSGI servers do.

    A list field (If-None-Match, Accept-Encoding) keeps every member; a singleton field
    (Range, If-Range, If-Modified-Since) becomes invalid and is ignored, whichever line came last.
    """
    headers: dict[bytes, bytes] = {}
    for name, value in fields:
        headers[name] = headers[name] + b"," + value if name in headers else value
    return headers


async def _send_plan(plan: ResponsePlan, send: Send, scope: Scope) -> None:
    body = plan.body
    if isinstance(body, bytes):
        await send(
            {"type": "http.response.start", "status": plan.status, "headers": list(plan.headers)}
        )
        await send({"type": "http.response.body", "body": body})
    elif body.whole and PATHSEND in (scope.get("extensions") or {}):
        await send(
            {"type": "http.response.start", "status": plan.status, "headers": list(plan.headers)}
        )
        await send({"type": PATHSEND, "path": body.path})
    else:
        await _stream(plan, body, send)


async def _stream(plan: ResponsePlan, part: FileSlice, send: Send) -> None:
    """Send ``part`` in chunks read in the loop's default executor (no thread pool per file)."""
    loop = asyncio.get_running_loop()
    try:
        file = await loop.run_in_executor(None, open_slice, part)
    except OSError as exc:  # a file the manifest names is gone: a broken or pruned deploy
        log.error("cannot open %s: %s", part.path, exc)
        await _send_plan(not_found(), send, {})
        return
    try:
        await send(
            {"type": "http.response.start", "status": plan.status, "headers": list(plan.headers)}
        )
        remaining = part.length
        while remaining > 0:
            chunk = await loop.run_in_executor(None, file.read, min(CHUNK_SIZE, remaining))
            if not chunk:  # the file shrank under us; end the body, the server sees it short
                break
            remaining -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:  # also when the client went away and send() raised, or the task was cancelled
        file.close()
