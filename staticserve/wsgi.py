"""WSGI middleware: environ -> Request, plan -> start_response + body. No HTTP rules here."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from time import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol
from urllib.parse import quote, unquote_to_bytes

from .core.paths import raw_below
from .core.plan import NOT_FOUND, plan_request
from .core.request import REQUEST_FIELDS
from .core.response import STATUS_LINES, FileSlice, ResponsePlan
from .middleware import MiddlewareBase, cut_while_sent, open_slice, pinned_builds
from .options import OUTPUT_DIR, PREFIX, ServeKeywords

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["CHUNK_SIZE", "FileChunks", "StaticServeWSGI", "raw_path"]

Environ = dict[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class StartResponse(Protocol):
    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None, /
    ) -> Callable[[bytes], object]: ...


WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

CHUNK_SIZE = 64 * 1024
log = logging.getLogger("staticserve")
_QUESTION_MARK = ord("?")  # an int: `in` on bytes is then a memchr, five times cheaper
_STATUS_LINES = dict(STATUS_LINES)  # a plain dict: a third cheaper to index than the proxy
# The CGI names of the request fields the core reads.
_ENVIRON_KEYS = tuple(
    (name, "HTTP_" + name.decode("ascii").upper().replace("-", "_")) for name in REQUEST_FIELDS
)


class StaticServeWSGI(MiddlewareBase):
    """Serve a staticserve build under ``prefix``; everything else goes to ``app`` untouched.

    With ``app=None`` it stands alone: any other request gets a plain 404. With ``dev=True`` it
    serves the source folders of the build configuration ``config`` (a TOML file; default
    ``pyproject.toml`` in the working directory) as they are, uncached.
    """

    def __init__(
        self,
        app: WSGIApp | None,
        root: str | os.PathLike[str] = OUTPUT_DIR,
        prefix: str = PREFIX,
        **options: Unpack[ServeKeywords],
    ) -> None:
        super().__init__(root, prefix, **options)
        self.app: WSGIApp = _no_app if app is None else app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        # The hot path, kept flat: every call and allocation here is paid on each request.
        if not environ.get("PATH_INFO", "").startswith(self.mount):
            if self.pinning or environ.get("SCRIPT_NAME"):
                return self._pinned_app(environ, start_response)
            return self.app(environ, start_response)
        headers = {}
        for name, key in _ENVIRON_KEYS:
            if key in environ:
                headers[name] = environ[key].encode("latin-1")
        plan = plan_request(
            environ["REQUEST_METHOD"],
            raw_path(environ),
            headers,
            int(time()),
            self.lookup,
            environ.get("QUERY_STRING", "").encode("latin-1"),
        )
        if plan is None:
            if self.fall_through:
                return self._pinned_app(environ, start_response)
            plan = NOT_FOUND
        body = plan.body
        if isinstance(body, bytes):
            start_response(_STATUS_LINES[plan.status], _native(plan))
            return [body]
        return _send_file(plan, body, start_response, environ)

    def _pinned_app(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """The app, with one build pinned for the helpers it calls while it handles the request,
        and its mount point (``SCRIPT_NAME``) put before the URLs they give.

        A body the app renders lazily, while the server iterates it, is not pinned.
        """
        pins = pinned_builds.set({})
        root = self.request_root.set(_url_root(environ.get("SCRIPT_NAME")))
        try:
            return self.app(environ, start_response)
        finally:
            self.request_root.reset(root)
            pinned_builds.reset(pins)


def _url_root(script_name: str | None) -> str:
    """``SCRIPT_NAME`` (bytes as latin-1) as the start of a URL path ("" at the site root)."""
    if not script_name:
        return ""
    return quote(script_name.rstrip("/").encode("latin-1"), safe="/")


def _no_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """What stands behind a middleware given no app: a 404 for every request that is not a file."""
    start_response(_STATUS_LINES[NOT_FOUND.status], _native(NOT_FOUND))
    return [NOT_FOUND.body]  # type: ignore[list-item]


def raw_path(environ: Environ) -> bytes:
    """The path below ``SCRIPT_NAME`` as the client sent it, when the server tells (gunicorn,
    uWSGI, waitress, mod_wsgi).

    Otherwise PATH_INFO re-encoded: the server already decoded it, so an encoded slash can no
    longer be told from a real one (it then names an ordinary catalog entry or nothing).
    """
    raw: str | None = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        path = raw.encode("latin-1")
        if _QUESTION_MARK in path:
            path = path.partition(b"?")[0]
        script = environ.get("SCRIPT_NAME")
        if not script:
            return path
        below = _raw_below(path, script, environ["PATH_INFO"])
        if below is not None:
            return below
    return quote(environ["PATH_INFO"].encode("latin-1"), safe="/").encode("ascii")


def _raw_below(raw: bytes, script_name: str, path_info: str) -> bytes | None:
    """The part of the raw target that names PATH_INFO: after SCRIPT_NAME, or all of it when a
    proxy took the mount point off before the request reached the server."""
    below = raw_below(raw, script_name.encode("latin-1"))
    if below is None and unquote_to_bytes(raw) == path_info.encode("latin-1"):
        return raw
    return below


def _send_file(
    plan: ResponsePlan, body: FileSlice, start_response: StartResponse, environ: Environ
) -> Iterable[bytes]:
    copy = body.copy
    if copy is not None:  # a copy of the file kept in memory, or loaded now when it wants to be
        copy.hits += 1
        data = copy.data
        if data is None and copy.wanted():
            data = copy.load()
            if data is None:  # unreadable, or not the bytes the build names (logged)
                start_response(_STATUS_LINES[NOT_FOUND.status], _native(NOT_FOUND))
                return [NOT_FOUND.body]  # type: ignore[list-item]
        if data is not None:
            start_response(_STATUS_LINES[plan.status], _native(plan))
            return [data if body.whole else data[body.offset : body.offset + body.length]]
    try:
        file = open_slice(body)
    except OSError as exc:  # a file the manifest names is gone: a broken or pruned deploy
        log.error("cannot open %s: %s", body.path, exc)
        start_response(_STATUS_LINES[NOT_FOUND.status], _native(NOT_FOUND))
        return [NOT_FOUND.body]  # type: ignore[list-item]
    start_response(_STATUS_LINES[plan.status], _native(plan))
    wrapper = environ.get("wsgi.file_wrapper")
    # Only for a whole file: a wrapper sends up to the end of the file, and uWSGI's sends
    # from its start, whatever the position PEP 3333 says to begin at.
    if wrapper is not None and body.whole:
        return wrapper(file, CHUNK_SIZE)  # type: ignore[no-any-return]
    return FileChunks(file, body)


def _native(plan: ResponsePlan) -> list[tuple[str, str]]:
    """Header fields as native strings, in a fresh list the server may change.

    Decoded once per plan and kept on it, so the cache lives exactly as long as the plan: for
    ever for prepared plans, a second for dated ones, one request for a 206.
    """
    fields = plan.adapter_cache
    if fields is None:
        fields = tuple(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in plan.headers
        )
        object.__setattr__(plan, "adapter_cache", fields)
    return list(fields)


class FileChunks:
    """The bytes of a file slice in chunks; ``close()`` (which servers call) closes the file."""

    def __init__(self, file: BinaryIO, part: FileSlice) -> None:
        self._file = file
        self._remaining = part.length

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._remaining <= 0:
            raise StopIteration
        chunk = self._file.read(min(CHUNK_SIZE, self._remaining))
        if not chunk:  # the file shrank under us
            raise cut_while_sent(self._remaining)
        self._remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        self._file.close()
