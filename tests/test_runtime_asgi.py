"""ASGI-only behaviour: pathsend, chunked streaming, and scopes that are not HTTP."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from staticserve.asgi import CHUNK_SIZE, PATHSEND, StaticServe

from .conftest import Build, write_build

Message = dict[str, Any]
# Room for the small files only: the large ones are sent from disk, never kept in memory.
SMALL_ONLY = {"memory_total": 64 * 1024}


class Recorder:
    """The wrapped app: records what reached it."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scopes.append(scope["type"])


def call(
    app: Any, path: str, *, extensions: dict[str, Any] | None = None, **scope: Any
) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    full_scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "headers": [],
        "extensions": extensions or {},
        **scope,
    }
    asyncio.run(app(full_scope, receive, send))
    return sent


def test_a_large_file_goes_by_pathsend_when_the_server_offers_it(static_build: Build) -> None:
    app = StaticServe(Recorder(), static_build.root)
    asset = static_build.asset("media/clip.mp4")
    sent = call(app, static_build.hashed("media/clip.mp4"), extensions={PATHSEND: {}})
    assert [m["type"] for m in sent] == ["http.response.start", PATHSEND]
    assert sent[1]["path"] == str(static_build.root / asset.path)
    assert (b"content-length", b"%d" % asset.size) in sent[0]["headers"]


def test_a_file_cut_on_disk_is_never_handed_to_pathsend(tmp_path: Path) -> None:
    """The server sends what the file has: a file cut (or grown) since the build would go
    under the Content-Length the build recorded. 404 instead, as for a file that is gone."""
    data = random.Random(7).randbytes(100 * 1024)
    build = write_build(tmp_path / "out", {"media/clip.mp4": (data, ())})
    app = StaticServe(Recorder(), build.root, **SMALL_ONLY)
    url = build.hashed("media/clip.mp4")
    assert call(app, url, extensions={PATHSEND: {}})[1]["type"] == PATHSEND
    path = build.root / build.asset("media/clip.mp4").path
    for changed in (data[:-1], data + b"x"):
        path.write_bytes(changed)
        sent = call(app, url, extensions={PATHSEND: {}})
        assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
        assert sent[0]["status"] == 404
    path.unlink()
    assert call(app, url, extensions={PATHSEND: {}})[0]["status"] == 404


def test_without_pathsend_a_large_file_is_sent_in_chunks(static_build: Build) -> None:
    app = StaticServe(Recorder(), static_build.root, **SMALL_ONLY)
    sent = call(app, static_build.hashed("media/clip.mp4"))
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert all(len(m["body"]) <= CHUNK_SIZE for m in bodies)
    assert b"".join(m["body"] for m in bodies) == static_build.contents["media/clip.mp4"]
    assert [m.get("more_body") for m in bodies][-1] is False


def test_without_pathsend_a_file_up_to_the_chunk_size_is_one_body_message(
    static_build: Build,
) -> None:
    app = StaticServe(Recorder(), static_build.root, **SMALL_ONLY)
    asset = static_build.asset("media/clip.mp4")
    assert asset.size <= CHUNK_SIZE
    sent = call(app, static_build.hashed("media/clip.mp4"))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[1]["body"] == static_build.contents["media/clip.mp4"]
    assert sent[1].get("more_body", False) is False


def test_a_file_of_several_chunks_arrives_whole_and_in_order(tmp_path: Path) -> None:
    content = random.Random(7).randbytes(CHUNK_SIZE * 2 + CHUNK_SIZE // 3)
    build = write_build(tmp_path / "out", {"media/big.bin": (content, ())})
    sent = call(StaticServe(Recorder(), build.root, **SMALL_ONLY), build.hashed("media/big.bin"))
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert len(bodies) == 3
    assert [m.get("more_body", False) for m in bodies] == [True, True, False]
    assert b"".join(m["body"] for m in bodies) == content


def test_a_range_is_sent_by_the_middleware_even_when_pathsend_is_offered(
    static_build: Build,
) -> None:
    app = StaticServe(Recorder(), static_build.root)
    sent = call(
        app,
        static_build.hashed("media/clip.mp4"),
        extensions={PATHSEND: {}},
        headers=[(b"range", b"bytes=10-19")],
    )
    assert sent[0]["status"] == 206
    body = b"".join(m["body"] for m in sent if m["type"] == "http.response.body")
    assert body == static_build.contents["media/clip.mp4"][10:20]


def test_small_files_are_sent_from_memory_in_one_message(static_build: Build) -> None:
    app = StaticServe(Recorder(), static_build.root)
    sent = call(app, "/static/css/app.css", extensions={PATHSEND: {}})
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


def test_a_file_removed_after_startup_gets_a_404_not_a_500(fresh_static_build: Build) -> None:
    app = StaticServe(Recorder(), fresh_static_build.root)
    (fresh_static_build.root / fresh_static_build.asset("media/clip.mp4").path).unlink()
    sent = call(app, fresh_static_build.hashed("media/clip.mp4"))
    assert sent[0]["status"] == 404


def test_lifespan_and_websocket_scopes_pass_through_untouched(static_build: Build) -> None:
    inner = Recorder()
    app = StaticServe(inner, static_build.root)
    for scope_type in ("lifespan", "websocket"):
        call(app, "/static/css/app.css", type=scope_type)
    assert inner.scopes == ["lifespan", "websocket"]


def test_a_query_left_on_raw_path_is_ignored(static_build: Build) -> None:
    app = StaticServe(Recorder(), static_build.root)
    sent = call(app, "/static/css/app.css", raw_path=b"/static/css/app.css?v=1")
    assert sent[0]["status"] == 200


def test_headers_handed_to_the_server_are_a_fresh_list_each_time(static_build: Build) -> None:
    app = StaticServe(Recorder(), static_build.root)
    first = call(app, "/static/css/app.css")[0]["headers"]
    first.append((b"x-added-by-another-middleware", b"1"))
    assert (b"x-added-by-another-middleware", b"1") not in call(app, "/static/css/app.css")[0][
        "headers"
    ]
