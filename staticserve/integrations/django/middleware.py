"""``StaticServeMiddleware``: staticserve as an entry of Django's ``MIDDLEWARE``.

The same sans-IO core as the ASGI and WSGI wrappers decides every answer (200, 206, 304, 405,
412, 416, HEAD, Vary, CORS, immutable + Expires); this module only turns a Django request into
the core's inputs and the core's plan into a Django response with exactly the plan's header
fields. It works in Django's synchronous and asynchronous stacks alike: under WSGI a whole file
goes to the server's file wrapper (``sendfile``), under ASGI it is read off the event loop.

Place it right after ``django.middleware.security.SecurityMiddleware``, where WhiteNoise's goes:
asset requests are answered before sessions, authentication or CSRF run.
"""

from __future__ import annotations

import asyncio
import logging
from time import time
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import FileResponse, HttpResponse, StreamingHttpResponse

from ... import asgi, wsgi
from ...core.plan import NOT_FOUND, plan_request
from ...core.request import REQUEST_FIELDS
from ...core.response import FileSlice, ResponsePlan
from ...middleware import cut_while_sent, open_slice, pinned_builds
from .conf import serving

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from django.http import HttpRequest
    from django.http.response import HttpResponseBase

    from ...middleware import MiddlewareBase

__all__ = ["StaticServeMiddleware"]

log = logging.getLogger("staticserve")
# The CGI names (request.META keys) of the request fields the core reads.
_META_KEYS = tuple(
    (name, "HTTP_" + name.decode("ascii").upper().replace("-", "_")) for name in REQUEST_FIELDS
)
# What wsgi.raw_path reads besides PATH_INFO.
_RAW_PATH_KEYS = ("RAW_URI", "REQUEST_URI", "SCRIPT_NAME")


class StaticServeMiddleware:
    """Answer requests under ``STATIC_URL``'s path from the build (or, with ``DEBUG``, from the
    finders); hand every other request to the rest of the stack."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.serving: MiddlewareBase = serving()
        self.asynchronous = iscoroutinefunction(get_response)
        if self.asynchronous:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.asynchronous:
            return self.__acall__(request)
        plan = self.plan(request)
        if plan is None:
            return self._pinned(request)
        return django_response(plan, asynchronous=False)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        plan = self.plan(request)
        if plan is None:
            response: HttpResponseBase = await self._pinned(request)
            return response
        return django_response(plan, asynchronous=True)

    def plan(self, request: HttpRequest) -> ResponsePlan | None:
        """The core's answer to ``request``, or None when it goes on to the app."""
        serving = self.serving
        if not request.path_info.startswith(serving.mount):
            return None
        meta = request.META
        headers = {name: meta[key].encode("latin-1") for name, key in _META_KEYS if key in meta}
        scope = getattr(request, "scope", None)
        if scope is not None:
            raw = asgi.raw_path(scope)
        else:  # Django replaced the WSGI PATH_INFO (UTF-8 bytes as latin-1) by its decoding
            environ = {key: meta[key] for key in _RAW_PATH_KEYS if key in meta}
            raw = wsgi.raw_path({**environ, "PATH_INFO": _wsgi_string(request.path_info)})
        query = meta.get("QUERY_STRING", "").encode("latin-1")
        plan = plan_request(request.method or "", raw, headers, int(time()), serving.lookup, query)
        if plan is None and not serving.fall_through:
            plan = NOT_FOUND
        if plan is not None:
            # The answer is final, its coding chosen: a GZipMiddleware listed before this one
            # must not gzip it (a 206's range, an image), so it no longer sees that gzip is
            # accepted -- the one way to turn it off for a response that has no coding.
            meta.pop("HTTP_ACCEPT_ENCODING", None)
        return plan

    def _pinned(self, request: HttpRequest) -> Any:
        """The rest of the stack, with one build pinned for the template helpers and the
        mount point (``SCRIPT_NAME``) put before the URLs they give."""
        script_name = request.META.get("SCRIPT_NAME") or ""
        root = quote(script_name.rstrip("/").encode("latin-1"), safe="/") if script_name else ""
        if self.asynchronous:
            return self._apinned(request, root)
        pins = pinned_builds.set({})
        mount = self.serving.request_root.set(root)
        try:
            return self.get_response(request)
        finally:
            self.serving.request_root.reset(mount)
            pinned_builds.reset(pins)

    async def _apinned(self, request: HttpRequest, root: str) -> Any:
        pins = pinned_builds.set({})
        mount = self.serving.request_root.set(root)
        try:
            awaitable: Awaitable[Any] = self.get_response(request)
            return await awaitable
        finally:
            self.serving.request_root.reset(mount)
            pinned_builds.reset(pins)


def _wsgi_string(path: str) -> str:
    """``path`` as a WSGI server gives it: its UTF-8 bytes as a latin-1 string."""
    return path.encode("utf-8", "surrogateescape").decode("latin-1")


def django_response(plan: ResponsePlan, *, asynchronous: bool) -> HttpResponseBase:
    """A Django response carrying exactly the plan's status, header fields and body."""
    body = plan.body
    response: HttpResponseBase
    if isinstance(body, bytes):
        response = HttpResponse(body, status=plan.status)
    else:
        try:
            file = open_slice(body)
        except OSError as exc:  # a file the manifest names is gone: a broken or pruned deploy
            log.error("cannot open %s: %s", body.path, exc)
            return django_response(NOT_FOUND, asynchronous=asynchronous)
        if asynchronous:
            response = StreamingHttpResponse(AsyncFileChunks(file, body), status=plan.status)
        elif body.whole:  # Django hands it to the WSGI server's file wrapper (sendfile)
            response = FileResponse(file, status=plan.status)
            response.block_size = wsgi.CHUNK_SIZE
        else:
            response = StreamingHttpResponse(wsgi.FileChunks(file, body), status=plan.status)
    for name in list(response.headers):  # Django's defaults (Content-Type, -Disposition) go
        del response.headers[name]
    for name, value in plan.headers:
        response.headers[name.decode("latin-1")] = value.decode("latin-1")
    return response


class AsyncFileChunks:
    """The bytes of a file slice for Django's ASGI handler, read in a thread, chunk by chunk;
    ``close()`` (which Django calls when the response ends) closes the file."""

    def __init__(self, file: BinaryIO, part: FileSlice) -> None:
        self._file = file
        self._remaining = part.length

    def __aiter__(self) -> AsyncFileChunks:
        return self

    async def __anext__(self) -> bytes:
        if self._remaining <= 0:
            raise StopAsyncIteration
        size = min(asgi.CHUNK_SIZE, self._remaining)
        chunk = await asyncio.get_running_loop().run_in_executor(None, self._file.read, size)
        if not chunk:  # the file shrank under us
            raise cut_while_sent(self._remaining)
        self._remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        self._file.close()
