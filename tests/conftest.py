"""Shared fixtures: a build output written by hand, and a framework app pair to wrap.

The build output is written here directly (hashed files, ``.br``/``.gz``/``.zst`` variants, a
retained file of an earlier build and ``staticserve.json`` via ``Manifest.dumps()``), without the
build pipeline, so that runtime tests depend only on the manifest contract.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brotli
import pytest
from hypothesis import settings

from staticserve.manifest import ENCODING_SUFFIXES, MANIFEST_NAME, Asset, Manifest

from .ports import start_on_free_port, wait_listening

# `staticserve publish` stands on obstore 0.12, which needs Python 3.11 (pyproject's publish
# extra says so): on 3.10 its tests have nothing to run.
if sys.version_info < (3, 11):
    collect_ignore_glob = ["publish/*"]

try:  # Python 3.14+, else the backport the zstd extra installs
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the interpreter
    from backports import zstd

# Hypothesis's per-example deadline (200 ms) is a timed assertion: on a loaded 2-core machine it
# fails examples that are correct but were descheduled. Speed is measured in bench/ instead.
settings.register_profile("staticserve", deadline=None)
# The fast suite on the other claimed Pythons (tox py310, py312, py313) looks for what differs
# between versions, not for new examples: the main run (3.11) searches with the full count.
settings.register_profile("staticserve-quick", deadline=None, max_examples=20)
settings.load_profile(os.environ.get("STATICSERVE_HYPOTHESIS_PROFILE", "staticserve"))
_QUICK = os.environ.get("STATICSERVE_HYPOTHESIS_PROFILE") == "staticserve-quick"


def examples(count: int) -> int:
    """The examples a property test that sets its own count draws: that count, or a tenth of
    it (20 at least) in the quick profile."""
    return max(20, count // 10) if _QUICK else count


# A developer's compression cache folder (README: Compression cache) must not reach the builds
# the tests make, in this process or in the commands they run: their counts of compressed and
# restored variants would change. The tests that are about it set it themselves.
os.environ.pop("STATICSERVE_CACHE_DIR", None)

CREATED = "2026-01-02T03:04:05Z"
CREATED_HTTP = "Fri, 02 Jan 2026 03:04:05 GMT"
COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "br": lambda data: brotli.compress(data, quality=11),
    "gzip": lambda data: gzip.compress(data, compresslevel=9, mtime=0),
    "zstd": lambda data: zstd.compress(data, 19),
}
SUFFIXES = {"br": ".br", "gzip": ".gz", "zstd": ".zst"}
DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "br": brotli.decompress,
    "gzip": gzip.decompress,
    "zstd": zstd.decompress,
}

CSS = b"/* site styles */\n" + b"".join(
    b".rule-%d { color: #%06x; margin: %dpx; }\n" % (i, i * 977 % 0xFFFFFF, i % 40)
    for i in range(120)
)
OLD_CSS = b"/* the previous build's styles */\nbody { color: black; }\n" * 20
JS = b"export function greet(name) {\n  return `Hello, ${name}!`;\n}\n" * 60
BIG = random.Random(4).randbytes(300 * 1024)  # larger than the default in-memory limit
PNG = b"\x89PNG\r\n\x1a\n" + random.Random(5).randbytes(500)

# logical path -> (content, encodings to write)
FILES: dict[str, tuple[bytes, tuple[str, ...]]] = {
    "css/app.css": (CSS, ("br", "gzip")),
    "js/app.js": (JS, ("br", "gzip", "zstd")),
    "js/app.js.map": (b'{"version":3,"sources":[],"mappings":""}', ()),
    "img/logo.png": (PNG, ()),
    "img/my logo.svg": (b'<svg xmlns="http://www.w3.org/2000/svg"/>', ()),
    "fonts/icons.woff2": (b"wOF2" + bytes(200), ()),
    "media/clip.mp4": (BIG, ()),
    "data/empty.txt": (b"", ()),
    "data/site.webmanifest": (b'{"name":"demo"}', ()),
    "docs/index.html": (b"<!doctype html><title>docs</title>", ()),
    "robots.txt": (b"User-agent: *\n", ()),
}


@dataclass
class Build:
    """A build output folder and what it holds."""

    root: Path
    manifest: Manifest
    contents: dict[str, bytes] = field(default_factory=dict)  # logical -> identity bytes
    retained_path: str = ""

    def hashed(self, logical: str) -> str:
        """URL path (under /static) of the current hashed file."""
        return self.manifest.static_url(logical)

    def asset(self, logical: str) -> Asset:
        return self.manifest.assets[logical]

    def etag(self, logical: str, coding: str = "identity") -> str:
        tag = self.asset(logical).sha256[:16]
        return f'"{tag}"' if coding == "identity" else f'"{tag}-{coding}"'


def hashed_name(logical: str, digest: str) -> str:
    stem, dot, extension = logical.rpartition(".")
    return f"{stem}.{digest[:12]}.{extension}" if dot else f"{logical}.{digest[:12]}"


def write_asset(
    root: Path,
    logical: str,
    content: bytes,
    encodings: tuple[str, ...] = (),
    generation: int = 1,
    *,
    unhashed_copy: bool = True,
) -> Asset:
    """Write a hashed file, its variants and its unhashed copy; return its manifest record."""
    digest = hashlib.sha256(content).hexdigest()
    path = hashed_name(logical, digest)
    sizes = {}
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_bytes(content)
    if unhashed_copy:
        (root / logical).write_bytes(content)
    for coding in encodings:
        compressed = COMPRESSORS[coding](content)
        (root / (path + SUFFIXES[coding])).write_bytes(compressed)
        sizes[coding] = len(compressed)
    integrity = "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()
    return Asset(logical, path, len(content), digest, integrity, sizes, generation)


def write_manifest(root: Path, manifest: Manifest) -> None:
    """Publish the manifest the way the build does: a temporary file renamed into place."""
    temporary = root / (MANIFEST_NAME + ".tmp")
    temporary.write_text(manifest.dumps(), encoding="utf-8")
    os.replace(temporary, root / MANIFEST_NAME)


def write_build(
    root: Path,
    files: dict[str, tuple[bytes, tuple[str, ...]]] | None = None,
    *,
    retained: dict[str, Asset] | None = None,
    generation: int = 2,
    created: str = CREATED,
) -> Build:
    root.mkdir(parents=True, exist_ok=True)
    files = FILES if files is None else files
    assets = {
        logical: write_asset(root, logical, content, encodings, generation)
        for logical, (content, encodings) in files.items()
    }
    old = write_asset(root, "css/app.css", OLD_CSS, ("gzip",), generation - 1, unhashed_copy=False)
    retained = {old.path: old} if retained is None else retained
    manifest = Manifest(assets=assets, retained=retained, generation=generation, created=created)
    write_manifest(root, manifest)
    contents = {logical: content for logical, (content, _) in files.items()}
    return Build(root, manifest, contents, retained_path=old.path)


@pytest.fixture(autouse=True)
def _unnamed_files_each_test() -> Iterator[None]:
    """A build that meets a filesystem refusing unnamed files (atomic.py) stops asking for the
    rest of its process; a test that makes links fail would so turn them off for every later
    test of the run."""
    from staticserve.pipeline import atomic

    usable = atomic._unnamed.usable
    yield
    atomic._unnamed.usable = usable


@pytest.fixture(scope="session")
def static_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """A read-only build output shared by every test."""
    return write_build(tmp_path_factory.mktemp("build") / "static_build")


@pytest.fixture
def fresh_static_build(tmp_path: Path) -> Build:
    """A build output of the test's own, for tests that publish new builds into it."""
    return write_build(tmp_path / "static_build")


# -- the wrapped apps: the same routes in Starlette (ASGI) and Flask (WSGI) -------------------

STREAM_CHUNKS = [b"chunk-%d;" % i for i in range(5)]


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
    from starlette.routing import Route

    async def data(request: Request) -> Response:
        return JSONResponse({"ok": True, "method": request.method})

    async def echo(request: Request) -> Response:
        return Response(await request.body(), media_type="application/octet-stream")

    async def stream(request: Request) -> Response:
        async def chunks() -> Any:
            for chunk in STREAM_CHUNKS:
                yield chunk

        return StreamingResponse(chunks(), media_type="text/plain")

    async def not_found(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"app 404: {request.url.path}", status_code=404)

    return Starlette(
        routes=[
            Route("/api/data", data, methods=["GET", "POST"]),
            Route("/api/echo", echo, methods=["POST"]),
            Route("/api/stream", stream),
        ],
        exception_handlers={404: not_found},
    )


def flask_app() -> Any:
    from flask import Flask, Response, jsonify, request

    app = Flask("wrapped", static_folder=None)

    @app.route("/api/data", methods=["GET", "POST"])
    def data() -> Any:
        return jsonify(ok=True, method=request.method)

    @app.post("/api/echo")
    def echo() -> Any:
        return Response(request.get_data(), mimetype="application/octet-stream")

    @app.get("/api/stream")
    def stream() -> Any:
        return Response(iter(STREAM_CHUNKS), mimetype="text/plain")

    @app.errorhandler(404)
    def not_found(error: Exception) -> Any:
        return Response(f"app 404: {request.path}", status=404, mimetype="text/plain")

    return app


@pytest.fixture(scope="session")
def framework_apps() -> dict[str, Any]:
    """The bare apps, keyed by adapter: ``asgi`` (Starlette) and ``wsgi`` (Flask)."""
    return {"asgi": starlette_app(), "wsgi": flask_app()}


def wrap(adapter: str, app: Any, root: Path, **options: Any) -> Any:
    """``app`` wrapped by the middleware of ``adapter`` (``asgi`` or ``wsgi``)."""
    from staticserve.asgi import StaticServe
    from staticserve.wsgi import StaticServeWSGI

    middleware = StaticServe if adapter == "asgi" else StaticServeWSGI
    return middleware(app, root, **options)


# -- live servers on 127.0.0.1, started once per session, serving whatever app a test picks ----


class AsgiSwitch:
    """An ASGI app that forwards to ``target``, so one server can host each test's middleware."""

    def __init__(self) -> None:
        self.target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target(scope, receive, send)


class WsgiSwitch:
    """The WSGI twin of :class:`AsgiSwitch`."""

    def __init__(self) -> None:
        self.target: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.target(environ, start_response)


@dataclass
class LiveServer:
    """A server thread on an ephemeral port of 127.0.0.1."""

    switch: Any
    port: int
    stop: Callable[[], None]
    thread: Any = None  # the server's thread: still alive after stop() means it hung

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_uvicorn(app: Any = None, *, lifespan: str = "off") -> LiveServer:
    """uvicorn in a thread, serving ``app`` until another is switched in.

    With ``lifespan="on"`` uvicorn runs the app's lifespan protocol and does not start when its
    startup fails (RuntimeError here).
    """
    import threading
    import time

    import uvicorn

    switch = AsgiSwitch()
    switch.target = app
    config = uvicorn.Config(
        switch, host="127.0.0.1", port=0, log_level="warning", lifespan=lifespan, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    return LiveServer(switch, port, stop, thread)


def start_wsgiref() -> LiveServer:
    import socketserver
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class Handler(WSGIRequestHandler):
        def get_environ(self) -> dict[str, Any]:
            environ = super().get_environ()
            # wsgiref decodes the path; like gunicorn, hand the app the target as received.
            environ["RAW_URI"] = self.path
            return environ

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True

    switch = WsgiSwitch()
    server = make_server("127.0.0.1", 0, switch, ThreadingServer, Handler)
    thread = threading.Thread(target=server.serve_forever, name="wsgiref", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(10)

    return LiveServer(switch, server.server_port, stop)


@pytest.fixture(scope="session")
def live_servers() -> Iterator[dict[str, LiveServer]]:
    """uvicorn (ASGI) and wsgiref (WSGI), each in a thread, stopped at the end of the session."""
    servers = {"asgi": start_uvicorn(), "wsgi": start_wsgiref()}
    yield servers
    for server in servers.values():
        server.stop()


# -- servers in subprocesses ---------------------------------------------------------------------


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a server this suite started, by its PID: SIGTERM, then SIGKILL."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@contextmanager
def server_process(
    command: Callable[[int], list[str]],
    probe_path: str,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """Run ``command(port)`` on a free port until ``probe_path`` answers; yield the server's
    URL; stop it afterwards. A port lost to another process is replaced (see tests/ports.py)."""
    import httpx

    def start(port: int) -> tuple[subprocess.Popen[bytes], int]:
        process = subprocess.Popen(command(port), cwd=cwd, env=env)
        try:
            wait_listening(process, port)
            deadline = time.monotonic() + 20
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}{probe_path}", timeout=1)
                    return process, port
                except httpx.TransportError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError(f"{command(port)[2]} did not start") from None
                    time.sleep(0.1)
        except BaseException:
            stop_process(process)
            raise

    process, port = start_on_free_port(start)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


def check_live_build(out: Path) -> Manifest:
    """Every file the live manifest names exists with the bytes its record promises."""
    manifest = Manifest.load(out)
    for asset in (*manifest.assets.values(), *manifest.retained.values()):
        data = (out / asset.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == asset.sha256, asset.path
        for encoding, size in asset.encodings.items():
            packed = (out / (asset.path + ENCODING_SUFFIXES[encoding])).read_bytes()
            assert len(packed) == size, asset.variant_path(encoding)
            assert DECODERS[encoding](packed) == data, asset.variant_path(encoding)
    return manifest
