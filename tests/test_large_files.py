"""Large files kept in memory: by hits, within ``memory_total``, never for another build's URL.

Files over ``memory_limit`` are sent from disk unless they are asked for often enough to be
kept in memory. Whether a file is kept is seen the way an operator would see it: the
``held_bytes`` counter, and what a request gets once the file is gone from disk (a kept file
is still served whole; any other answers 404).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import random
import threading
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from staticserve.core.response import FileSlice
from staticserve.manifest import Asset, Manifest

from .conftest import (
    CREATED,
    DECODERS,
    Build,
    LiveServer,
    write_asset,
    write_build,
    write_manifest,
)
from .servers import SERVERS, running
from .test_http import Reply, Site, wait_for

KIB = 1024
LARGE = 100 * KIB  # over the default memory_limit (64 KiB)


@pytest.fixture(params=["asgi", "wsgi", "asgi-inprocess", "wsgi-inprocess"])
def site(
    request: pytest.FixtureRequest,
    static_build: Build,
    framework_apps: dict[str, Any],
    live_servers: dict[str, LiveServer],
) -> Site:
    """Each adapter, on a real server and in process (as in ``test_http``)."""
    kind: str = request.param
    return Site(kind, static_build, framework_apps, live_servers.get(kind))


@pytest.fixture(params=["asgi", "wsgi"])
def live_site(
    request: pytest.FixtureRequest,
    static_build: Build,
    framework_apps: dict[str, Any],
    live_servers: dict[str, LiveServer],
) -> Site:
    """Each adapter on a real server: uvicorn and wsgiref."""
    return Site(request.param, static_build, framework_apps, live_servers[request.param])


def content(seed: int, size: int = LARGE) -> bytes:
    return random.Random(seed).randbytes(size)


def large_build(root: Path, count: int, size: int = LARGE) -> Build:
    files = {f"media/file{i:02d}.bin": (content(i, size), ()) for i in range(count)}
    return write_build(root, files)


def get(site: Site, build: Build, logical: str, **headers: str) -> Reply:
    return site.get(build.hashed(logical), **headers)


def assert_whole(site: Site, build: Build, logical: str) -> None:
    reply = get(site, build, logical)
    assert reply.status == 200, (logical, reply.status)
    assert reply.body == build.contents[logical]


def gone_from_disk(build: Build, *logicals: str) -> None:
    for logical in logicals:
        (build.root / build.asset(logical).path).unlink()


def kept(site: Site, build: Build, logical: str) -> bool:
    """True when the file (gone from disk by now) is still served whole from memory."""
    reply = get(site, build, logical)
    if reply.status == 404:
        return False
    assert reply.status == 200
    assert reply.body == build.contents[logical]
    return True


# -- the memory bound -----------------------------------------------------------------------------


def test_a_file_larger_than_memory_total_is_never_held(site: Site, tmp_path: Path) -> None:
    build = large_build(tmp_path / "out", 1, size=300 * KIB)
    site.serve(build.root, memory_total=200 * KIB)
    for _ in range(5):
        assert_whole(site, build, "media/file00.bin")
    assert site.app.held_bytes == 0
    gone_from_disk(build, "media/file00.bin")
    assert not kept(site, build, "media/file00.bin")  # read from disk every time


def test_held_bytes_never_pass_memory_total_under_requests_for_many_large_files(
    site: Site, tmp_path: Path
) -> None:
    build = large_build(tmp_path / "out", 12)
    total = 350 * KIB  # three of the twelve files
    site.serve(build.root, memory_total=total)
    names = sorted(build.contents)
    rng = random.Random(15)
    for _ in range(150):
        # Skewed popularity, as on a real site: a few files asked for far more than the rest.
        logical = names[min(int(rng.expovariate(0.5)), len(names) - 1)]
        assert_whole(site, build, logical)
        assert site.app.held_bytes <= total
    assert site.app.held_bytes >= 3 * LARGE  # the room was used


# -- admission by hits ------------------------------------------------------------------------------


def test_a_file_asked_for_often_displaces_a_one_off_and_one_offs_never_displace_it(
    site: Site, tmp_path: Path
) -> None:
    build = large_build(tmp_path / "out", 8)
    site.serve(build.root, memory_total=150 * KIB)  # room for one large file
    one_off, popular = "media/file00.bin", "media/file01.bin"
    assert_whole(site, build, one_off)  # kept: there was room
    for _ in range(3):
        assert_whole(site, build, popular)
    for other in range(2, 8):  # a stream of one-offs
        assert_whole(site, build, f"media/file{other:02d}.bin")
    assert site.app.held_bytes == LARGE
    gone_from_disk(build, *build.contents)
    assert kept(site, build, popular)
    assert not kept(site, build, one_off)
    assert not any(kept(site, build, f"media/file{other:02d}.bin") for other in range(2, 8))


def test_a_small_file_pushes_a_large_one_out_when_it_needs_the_room(
    site: Site, tmp_path: Path
) -> None:
    small = content(99, 40 * KIB)
    build = write_build(
        tmp_path / "out", {"media/large.bin": (content(1), ()), "css/small.css": (small, ())}
    )
    site.serve(build.root, memory_total=120 * KIB)
    assert_whole(site, build, "media/large.bin")
    assert site.app.held_bytes == LARGE
    assert_whole(site, build, "css/small.css")
    assert site.app.held_bytes == len(small)


# -- what a kept file answers ---------------------------------------------------------------------


def test_a_range_of_a_held_file(site: Site, tmp_path: Path) -> None:
    build = large_build(tmp_path / "out", 1)
    site.serve(build.root)
    assert_whole(site, build, "media/file00.bin")
    gone_from_disk(build, "media/file00.bin")  # so the range can only come from memory
    reply = get(site, build, "media/file00.bin", range="bytes=1000-1999")
    assert reply.status == 206
    assert reply.headers["content-range"] == f"bytes 1000-1999/{LARGE}"
    assert reply.body == build.contents["media/file00.bin"][1000:2000]
    suffix = get(site, build, "media/file00.bin", range="bytes=-10")
    assert suffix.body == build.contents["media/file00.bin"][-10:]


def test_head_of_a_held_file_has_its_length_and_no_body(site: Site, tmp_path: Path) -> None:
    build = large_build(tmp_path / "out", 1)
    site.serve(build.root)
    assert_whole(site, build, "media/file00.bin")
    reply = site.request("HEAD", build.hashed("media/file00.bin"))
    assert reply.status == 200
    assert reply.headers["content-length"] == str(LARGE)
    assert reply.body == b""


def text_bundle(seed: int) -> bytes:
    """JS-like text that compresses to well over the default memory_limit."""
    return b"const data = '" + base64.b64encode(content(seed, 200 * KIB)) + b"';\n"


def test_a_compressed_variant_is_held_and_checked_like_the_file(site: Site, tmp_path: Path) -> None:
    build = write_build(tmp_path / "out", {"js/bundle.js": (text_bundle(3), ("br", "gzip"))})
    asset = build.asset("js/bundle.js")
    assert min(asset.encodings.values()) > 64 * KIB
    site.serve(build.root)
    for coding in ("br", "gzip"):
        reply = get(site, build, "js/bundle.js", accept_encoding=coding)
        assert reply.headers["content-encoding"] == coding
        assert DECODERS[coding](reply.body) == build.contents["js/bundle.js"]
    assert site.app.held_bytes == sum(asset.encodings.values())


# -- files changed on disk ------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "replaced", "grown"])
def test_a_file_changed_on_disk_is_never_served_as_the_build_describes_it(
    site: Site, tmp_path: Path, damage: str
) -> None:
    build = write_build(
        tmp_path / "out",
        {"media/file.bin": (content(1), ()), "js/bundle.js": (text_bundle(4), ("br",))},
    )
    site.serve(build.root)
    asset, bundle = build.asset("media/file.bin"), build.asset("js/bundle.js")
    for path in (asset.path, bundle.variant_path("br")):
        data = (build.root / path).read_bytes()
        changed = {
            "truncated": data[: len(data) // 2],
            "replaced": bytes(len(data)),  # the same length, other bytes
            "grown": data + b"x",
        }[damage]
        (build.root / path).write_bytes(changed)
    reply = get(site, build, "media/file.bin")
    assert reply.status == 404  # not a 200 whose body belies its Content-Length or the build
    bundle_reply = get(site, build, "js/bundle.js", accept_encoding="br")
    if damage == "replaced":  # the size it should have: the copy's check refuses it
        assert bundle_reply.status == 404
    else:  # not the size the build recorded: that coding is not offered, the file itself is
        assert bundle_reply.status == 200
        assert "content-encoding" not in bundle_reply.headers
        assert bundle_reply.body == build.contents["js/bundle.js"]
    (build.root / asset.path).write_bytes(build.contents["media/file.bin"])  # repaired
    assert_whole(site, build, "media/file.bin")


@pytest.mark.parametrize("damage", ["deleted", "truncated", "grown"])
@pytest.mark.parametrize("size", ["small", "large"])
def test_a_variant_gone_or_resized_on_disk_leaves_the_file_itself_served(
    site: Site, tmp_path: Path, damage: str, size: str
) -> None:
    """A precompressed variant missing, or not the size the manifest records, whether it would
    be held in memory or sent from disk: a client that takes only its coding gets the file
    itself, not a 404 nor a body shorter than its Content-Length."""
    data = text_bundle(5) if size == "large" else b"const small = 1;\n" * 400
    build = write_build(tmp_path / "out", {"js/bundle.js": (data, ("br", "gzip"))})
    asset = build.asset("js/bundle.js")
    assert (min(asset.encodings.values()) > 64 * KIB) is (size == "large")
    variant = build.root / asset.variant_path("br")
    if damage == "deleted":
        variant.unlink()
    else:
        held = variant.read_bytes()
        variant.write_bytes(held[:-5] if damage == "truncated" else held + b"more")
    site.serve(build.root, memory_total=64 * KIB)  # no room for a copy of the large variant
    for _ in range(2):
        reply = get(site, build, "js/bundle.js", accept_encoding="br")
        assert reply.status == 200, reply.status
        assert "content-encoding" not in reply.headers
        assert reply.body == data
    gzipped = get(site, build, "js/bundle.js", accept_encoding="gzip")
    assert gzipped.headers["content-encoding"] == "gzip"
    assert DECODERS["gzip"](gzipped.body) == data


def test_a_file_cut_after_it_was_first_served_is_answered_404_not_short(
    site: Site, tmp_path: Path
) -> None:
    """Sent from disk (no room for a copy), then cut in place: the next answers, whole or a
    range, are 404, not a 200 or 206 that promises bytes the file no longer has."""
    build = write_build(tmp_path / "out", {"media/file.bin": (content(6), ())})
    site.serve(build.root, memory_total=64 * KIB)
    assert_whole(site, build, "media/file.bin")
    path = build.root / build.asset("media/file.bin").path
    with open(path, "r+b") as file:
        file.truncate(LARGE - 1000)
    assert get(site, build, "media/file.bin").status == 404
    assert get(site, build, "media/file.bin", range="bytes=0-99").status == 404
    assert get(site, build, "media/file.bin", range="bytes=-100").status == 404
    with open(path, "ab") as file:  # grown back to its size, with other bytes: not detected
        file.write(bytes(1000))
    assert get(site, build, "media/file.bin", range="bytes=0-99").status == 206


class Cut(io.RawIOBase):
    """A file of ``size`` zero bytes that has only ``left`` of them when it is read."""

    def __init__(self, left: int) -> None:
        self.left = left

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def test_a_file_cut_while_it_is_streamed_ends_the_response_with_an_error() -> None:
    """The file shrank between the check and the last read: the adapters raise, so the server
    drops the connection instead of keeping it for a next response (which a client would read
    as the missing bytes of this one)."""
    from staticserve.asgi import CHUNK_SIZE, _stream
    from staticserve.core.response import ResponsePlan
    from staticserve.integrations.django.middleware import AsyncFileChunks
    from staticserve.wsgi import FileChunks

    size = 3 * CHUNK_SIZE
    part = FileSlice("unused", 0, size, size)
    received = []
    with pytest.raises(OSError, match="bytes short"):
        received += FileChunks(io.BufferedReader(Cut(CHUNK_SIZE + 10)), part)
    assert sum(map(len, received)) == CHUNK_SIZE + 10

    async def read_all() -> None:
        async for _ in AsyncFileChunks(io.BufferedReader(Cut(10)), part):
            pass

    with pytest.raises(OSError, match="bytes short"):
        asyncio.run(read_all())

    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    def opened(_: FileSlice) -> Any:
        return io.BufferedReader(Cut(CHUNK_SIZE + 10))

    plan = ResponsePlan(200, ((b"content-length", str(size).encode()),), part)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("staticserve.asgi.open_slice", opened)
        with pytest.raises(OSError, match="bytes short"):
            asyncio.run(_stream(plan, part, send))
    assert [m.get("more_body") for m in sent[1:]] == [True, True]  # never a short last message


def test_a_held_file_changed_on_disk_is_still_served_as_it_was_checked(
    site: Site, tmp_path: Path
) -> None:
    build = large_build(tmp_path / "out", 1)
    site.serve(build.root)
    assert_whole(site, build, "media/file00.bin")
    (build.root / build.asset("media/file00.bin").path).write_bytes(b"cut")
    assert_whole(site, build, "media/file00.bin")


# -- deploys -------------------------------------------------------------------------------------


def same_path_asset(root: Path, logical: str, data: bytes) -> Asset:
    """A file whose name the build keeps (a ``fingerprinted`` pattern): a new build may put
    other bytes under the same path."""
    (root / logical).parent.mkdir(parents=True, exist_ok=True)
    (root / logical).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    integrity = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
    return Asset(logical, logical, len(data), digest, integrity, {}, 2, fingerprinted=True)


def publish(
    root: Path, generation: int, video: bytes, kept: bytes, previous: Manifest | None
) -> Manifest:
    """A build with ``media/video.bin`` (hashed name) and ``media/kept.bin`` (kept name),
    retaining the previous build's hashed video."""
    assets = {
        "media/video.bin": write_asset(root, "media/video.bin", video, ("gzip",), generation),
        "media/kept.bin": same_path_asset(root, "media/kept.bin", kept),
    }
    retained = {}
    if previous is not None:
        old = previous.assets["media/video.bin"]
        retained[old.path] = old
    manifest = Manifest(assets=assets, retained=retained, generation=generation, created=CREATED)
    write_manifest(root, manifest)
    return manifest


def test_a_deploy_while_large_files_are_held_serves_each_url_its_own_builds_bytes(
    live_site: Site, tmp_path: Path
) -> None:
    site, root = live_site, tmp_path / "out"
    root.mkdir()
    v1, v2 = content(1), content(2)
    k1, k2 = content(3), content(4)  # the same length, under the same path
    first = publish(root, 1, v1, k1, None)
    site.serve(root, reload_interval=0.1)
    old_hashed = "/static/" + first.assets["media/video.bin"].path
    for _ in range(3):
        for path in (old_hashed, "/static/media/video.bin", "/static/media/kept.bin"):
            assert site.get(path).status == 200
        assert site.get("/static/media/video.bin", accept_encoding="gzip").status == 200
    assert site.app.held_bytes >= 3 * LARGE

    answers: list[tuple[bytes, bytes]] = []
    stop = threading.Event()

    def hammer() -> None:
        deadline = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < deadline and len(answers) < 2000:
            reply = site.get("/static/media/kept.bin")
            answers.append((reply.headers.get("etag", "").encode(), reply.body))

    client = threading.Thread(target=hammer)
    client.start()
    try:
        second = publish(root, 2, v2, k2, first)
        assert wait_for(lambda: site.get("/static/media/video.bin").body == v2)
        assert wait_for(lambda: site.get("/static/media/kept.bin").body == k2)
    finally:
        stop.set()
        client.join()
    assert site.get(old_hashed).body == v1  # the earlier build's hashed URL: its own bytes
    assert site.get("/static/" + second.assets["media/video.bin"].path).body == v2
    gzipped = site.get("/static/media/video.bin", accept_encoding="gzip")
    assert DECODERS["gzip"](gzipped.body) == v2
    # Never a body of one build under the other's validator, nor a mix of both.
    tags = {body: f'"{hashlib.sha256(body).hexdigest()[:16]}"' for body in (k1, k2)}
    assert answers
    for etag, body in answers:
        assert body in tags, f"a body of {len(body)} B that is neither build's"
        assert etag.decode() == tags[body]


@pytest.mark.parametrize("server", ["hypercorn", "gunicorn"])
def test_a_deploy_on_a_server_process_while_large_files_are_held(
    server: str, tmp_path: Path
) -> None:
    """The same on hypercorn (ASGI without pathsend) and gunicorn (WSGI), in subprocesses."""
    root = tmp_path / "out"
    root.mkdir()
    v1, v2, k1, k2 = content(1), content(2), content(3), content(4)
    first = publish(root, 1, v1, k1, None)
    old_hashed = "/static/" + first.assets["media/video.bin"].path
    with running(SERVERS[server], "", root, tmp_path / "server.log") as process:

        def body(path: str) -> bytes:
            reply = httpx.get(process.url + path, headers={"accept-encoding": "identity"})
            assert reply.status_code == 200, (path, reply.status_code)
            return reply.content

        for _ in range(3):
            for path in (old_hashed, "/static/media/video.bin", "/static/media/kept.bin"):
                body(path)
        # Held by now: the earlier build's file may leave the disk, its URL is still answered.
        (root / first.assets["media/video.bin"].path).unlink()
        assert body(old_hashed) == v1
        second = publish(root, 2, v2, k2, first)
        assert wait_for(lambda: body("/static/media/video.bin") == v2, timeout=10)
        assert wait_for(lambda: body("/static/media/kept.bin") == k2, timeout=10)
        assert body(old_hashed) == v1
        assert body("/static/" + second.assets["media/video.bin"].path) == v2


# -- WSGI: the file wrapper for what is not held -------------------------------------------------


class Wrapper:
    """A ``wsgi.file_wrapper`` that records what it was handed."""

    def __init__(self) -> None:
        self.files: list[Any] = []

    def __call__(self, file: Any, block_size: int) -> Any:
        self.files.append(file)
        return iter(lambda: file.read(block_size), b"")


def wsgi_get(app: Any, path: str, wrapper: Wrapper, **headers: str) -> tuple[str, bytes]:
    seen: list[str] = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "wsgi.file_wrapper": wrapper,
        **{"HTTP_" + k.upper(): v for k, v in headers.items()},
    }
    body = app(environ, lambda status, fields, exc_info=None: seen.append(status))
    data = b"".join(body)
    getattr(body, "close", lambda: None)()
    return seen[0], data


def test_wsgi_sends_a_file_it_does_not_hold_through_the_servers_file_wrapper(
    tmp_path: Path,
) -> None:
    from staticserve.wsgi import StaticServeWSGI

    build = large_build(tmp_path / "out", 2)
    path = build.hashed("media/file00.bin")
    no_room = StaticServeWSGI(None, build.root, memory_total=64 * KIB)
    wrapper = Wrapper()
    assert wsgi_get(no_room, path, wrapper) == ("200 OK", build.contents["media/file00.bin"])
    assert len(wrapper.files) == 1  # sendfile where the server has it, as before
    status, part = wsgi_get(no_room, path, wrapper, range="bytes=5-9")
    assert (status, part, len(wrapper.files)) == ("206 Partial Content", content(0)[5:10], 1)

    held = StaticServeWSGI(None, build.root)
    wrapper = Wrapper()
    for _ in range(2):
        assert wsgi_get(held, path, wrapper)[1] == build.contents["media/file00.bin"]
    assert wrapper.files == []  # from memory: no file opened
    assert held.held_bytes == LARGE
