"""``staticserve nginx-conf`` under a real nginx, against the middleware under a real server.

One build (made by the pipeline, twice, so that it retains the previous build's CSS) is served
by Debian's nginx with the generated location block and by the ASGI site of tests/servers.py
(uvicorn). Every request of the table goes to both, and the answers must agree on status, body
bytes and the fields a cache or a browser acts on: Cache-Control (as a set of directives: nginx
sends max-age on a line of its own), Expires (within a few seconds), Vary, Content-Type,
Content-Encoding, Content-Length, Content-Range, the CORS field and nosniff.

What nginx does differently, and the tests pin as such (README, "nginx in front"):

- ETag and Last-Modified: nginx makes them from each file's modification time and size (still
  one per encoding, as each variant is its own file); the middleware's come from the content
  hash and the build time. Each server's 304 answers its own validators.
- Accept-Ranges: nginx leaves it out of compressed answers and of 206s.
- Error answers (404, 405, 412, 416) carry nginx's small HTML page; a 412 from nginx carries
  no ETag, Vary or CORS field.
- q-values: gzip_static and brotli_static honour a refusal (``q=0``) but not a preference
  (``br;q=0.1, gzip`` gets br); a syntactically valid but backwards range gets 416.
- Paths nginx normalises (``/static/../static/x``, ``//``, ``%2f``) are served as the file they
  name; the middleware hands such spellings to the app.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import brotli
import httpx
import pytest

import staticserve
from staticserve.manifest import Manifest

from .nginx_server import require_nginx, running_nginx
from .pipeline.conftest import write_tree
from .servers import SERVERS, running

YEAR = 365 * 24 * 3600
CSS_V1 = "".join(f".rule-{i} {{ color: #{i * 977 % 0xFFFFFF:06x}; }}\n" for i in range(400))
CSS_V2 = "/* the next build */\n" + CSS_V1
CLIP = bytes((i * 7919 + i // 251) % 256 for i in range(300 * 1024))  # no variant worth keeping
SOURCES: dict[str, str | bytes] = {
    "css/app.css": CSS_V1,
    "js/app.js": "export function greet(name) {\n  return `Hello, ${name}!`;\n}\n" * 60,
    "img/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2,
    "img/my logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"><g/></svg>\n' * 30,
    "media/clip.mp4": CLIP,
    "data/empty.txt": b"",
    "data/site.webmanifest": '{"name": "demo"}',
    "fonts/icons.woff2": b"wOF2" + bytes(200),
    "robots.txt": "User-agent: *\n",
}


@dataclass
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes


@dataclass
class Servers:
    root: Path
    manifest: Manifest
    old_css: str  # the retained hashed path of the first build's CSS
    nginx: str
    middleware: str

    def url(self, logical: str) -> str:
        return self.manifest.static_url(logical)


def build(sources: Path, output: Path) -> Manifest:
    staticserve.build(sources=[sources], output=output, base_dir=sources.parent)
    return Manifest.load(output)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    require_nginx()
    folder = tmp_path_factory.mktemp("nginx-site")
    sources = write_tree(folder / "assets", SOURCES)
    output = folder / "static_build"
    old_css = build(sources, output).assets["css/app.css"].path
    (sources / "css/app.css").write_text(CSS_V2, encoding="utf-8")
    manifest = build(sources, output)
    assert old_css in manifest.retained
    # What the build leaves beside the files, and a temporary name as a killed build leaves it.
    (output / "css/.app.css.staticserve-tmp").write_text(CSS_V1, encoding="utf-8")
    location = staticserve.nginx_conf(output, "/static/")
    with (
        running_nginx(location, folder / "nginx") as (nginx_url, _),
        running(SERVERS["uvicorn"], "", output, folder / "uvicorn.log") as middleware,
    ):
        yield Servers(output, manifest, old_css, nginx_url, middleware.url)


def send(base: str, method: str, target: str, headers: dict[str, str]) -> Reply:
    """One request with exactly these fields (no Accept-Encoding of httpx's own)."""
    with httpx.Client(timeout=10) as client:
        request = client.build_request(
            method, base + "/", extensions={"target": target.encode("latin-1")}
        )
        del request.headers["accept-encoding"]
        request.headers.update(headers)
        response = client.send(request, stream=True)
        try:
            return Reply(response.status_code, response.headers, b"".join(response.iter_raw()))
        finally:
            response.close()


def both(servers: Servers, method: str, target: str, **fields: str) -> tuple[Reply, Reply]:
    headers = {name.replace("_", "-"): value for name, value in fields.items()}
    return (
        send(servers.nginx, method, target, headers),
        send(servers.middleware, method, target, headers),
    )


def directives(reply: Reply) -> set[str]:
    """Cache-Control as HTTP reads it: every line's directives together."""
    values = reply.headers.get_list("cache-control")
    return {d.strip() for value in values for d in value.split(",") if d.strip()}


def tokens(reply: Reply, name: str) -> set[str]:
    return {t.strip().lower() for v in reply.headers.get_list(name) for t in v.split(",")}


def expires(reply: Reply) -> int | None:
    value = reply.headers.get("expires")
    return None if value is None else int(parsedate_to_datetime(value).timestamp())


def decoded(reply: Reply) -> bytes:
    coding = reply.headers.get("content-encoding")
    decoders: dict[str | None, Callable[[bytes], bytes]] = {
        None: lambda data: data,
        "br": brotli.decompress,
        "gzip": gzip.decompress,
    }
    return decoders[coding](reply.body)


CACHING_FIELDS = (
    "content-type",
    "content-encoding",
    "content-range",
    "access-control-allow-origin",
    "x-content-type-options",
)


def assert_same(nginx: Reply, middleware: Reply) -> None:
    """The same answer, as far as a browser, a cache or a download tool can tell."""
    assert nginx.status == middleware.status
    if nginx.status >= 400:  # error pages are each server's own (see the module docstring)
        return
    assert nginx.body == middleware.body
    assert directives(nginx) == directives(middleware)
    assert tokens(nginx, "vary") == tokens(middleware, "vary")
    # A 304 updates the stored answer's fields: nginx repeats nosniff there, which changes none.
    fields = CACHING_FIELDS if nginx.status != 304 else ("access-control-allow-origin",)
    for name in fields:
        assert nginx.headers.get(name) == middleware.headers.get(name), name
    if nginx.status != 304:
        assert nginx.headers.get("content-length") == middleware.headers.get("content-length")
    nginx_expires, middleware_expires = expires(nginx), expires(middleware)
    assert (nginx_expires is None) == (middleware_expires is None)
    if nginx_expires is not None and middleware_expires is not None:
        assert abs(nginx_expires - middleware_expires) <= 5
        assert abs(nginx_expires - (int(time.time()) + YEAR)) <= 5


# -- the table -----------------------------------------------------------------------------------

# (id, logical path or "old" for the retained file, hashed URL or logical, request fields)
GETS: list[tuple[str, str, bool, dict[str, str]]] = [
    ("hashed, no Accept-Encoding", "css/app.css", True, {}),
    ("hashed, br", "css/app.css", True, {"accept_encoding": "br"}),
    ("hashed, gzip", "css/app.css", True, {"accept_encoding": "gzip"}),
    ("hashed, a browser's field", "css/app.css", True, {"accept_encoding": "gzip, deflate, br"}),
    ("hashed, gzip refused", "css/app.css", True, {"accept_encoding": "gzip;q=0, identity"}),
    ("hashed, br refused", "css/app.css", True, {"accept_encoding": "br;q=0, gzip"}),
    ("hashed, identity refused", "css/app.css", True, {"accept_encoding": "identity;q=0, gzip"}),
    ("hashed, every coding refused", "css/app.css", True, {"accept_encoding": "*;q=0"}),
    ("hashed, zstd not built", "css/app.css", True, {"accept_encoding": "zstd, br"}),
    ("hashed, equal q", "css/app.css", True, {"accept_encoding": "gzip;q=0.5, br;q=0.5"}),
    ("logical, no Accept-Encoding", "css/app.css", False, {}),
    ("logical, br", "css/app.css", False, {"accept_encoding": "br"}),
    ("logical, gzip", "css/app.css", False, {"accept_encoding": "gzip"}),
    ("module script", "js/app.js", True, {"accept_encoding": "br, gzip"}),
    ("image without variants", "img/logo.png", True, {"accept_encoding": "br, gzip"}),
    ("a name with a space", "img/my logo.svg", True, {"accept_encoding": "gzip"}),
    ("a large file", "media/clip.mp4", True, {"accept_encoding": "br, gzip"}),
    ("an empty file", "data/empty.txt", True, {}),
    ("a web manifest", "data/site.webmanifest", False, {}),
    ("a font", "fonts/icons.woff2", True, {}),
    ("at the root, logical", "robots.txt", False, {}),
    ("the previous build's file", "old", True, {"accept_encoding": "gzip"}),
]


def target_of(servers: Servers, logical: str, hashed: bool) -> str:
    if logical == "old":
        return "/static/" + servers.old_css
    url = servers.url(logical) if hashed else "/static/" + logical
    return url.replace(" ", "%20")


@pytest.mark.parametrize(
    ("logical", "hashed", "fields"), [c[1:] for c in GETS], ids=[c[0] for c in GETS]
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_nginx_answers_as_the_middleware(
    servers: Servers, method: str, logical: str, hashed: bool, fields: dict[str, str]
) -> None:
    nginx, middleware = both(servers, method, target_of(servers, logical, hashed), **fields)
    assert nginx.status == 200
    assert_same(nginx, middleware)
    if method == "GET" and logical != "old":
        assert decoded(nginx) == (servers.root / servers.manifest.assets[logical].path).read_bytes()


RANGES = [
    ("first byte", "css/app.css", "bytes=0-0"),
    ("last byte", "css/app.css", "bytes=-1"),
    ("a middle slice", "css/app.css", "bytes=100-199"),
    ("from an offset", "css/app.css", "bytes=4000-"),
    ("a suffix", "css/app.css", "bytes=-500"),
    ("past the end", "css/app.css", "bytes=5000-999999999"),
    ("on a large file", "media/clip.mp4", "bytes=1000-1999"),
    ("unsatisfiable", "media/clip.mp4", "bytes=307200-"),
    ("two ranges: the whole file", "css/app.css", "bytes=0-1,5-6"),
    ("unknown unit: the whole file", "css/app.css", "items=0-1"),
    ("letters: the whole file", "css/app.css", "bytes=abc"),
]


@pytest.mark.parametrize(("logical", "field"), [c[1:] for c in RANGES], ids=[c[0] for c in RANGES])
@pytest.mark.parametrize("accept", ["", "br, gzip"], ids=["identity", "compressing client"])
def test_ranges_are_cut_from_the_uncompressed_file_as_the_middleware_cuts_them(
    servers: Servers, logical: str, field: str, accept: str
) -> None:
    fields = {"range": field, **({"accept_encoding": accept} if accept else {})}
    nginx, middleware = both(servers, "GET", servers.url(logical), **fields)
    assert_same(nginx, middleware)
    assert nginx.status in (200, 206, 416)
    if nginx.status == 416:
        assert nginx.headers["content-range"] == "bytes */307200"


def test_a_head_ignores_the_range_as_the_middleware_does(servers: Servers) -> None:
    nginx, middleware = both(
        servers, "HEAD", servers.url("css/app.css"), range="bytes=0-0", accept_encoding="br"
    )
    assert nginx.status == middleware.status == 200
    assert_same(nginx, middleware)


def test_a_backwards_range_is_416_from_nginx_where_the_middleware_ignores_it(
    servers: Servers,
) -> None:
    nginx, middleware = both(servers, "GET", servers.url("css/app.css"), range="bytes=5-3")
    assert (nginx.status, middleware.status) == (416, 200)  # a documented difference


def test_a_preference_by_q_value_is_not_weighed_by_nginx(servers: Servers) -> None:
    url = servers.url("css/app.css")
    nginx, middleware = both(servers, "GET", url, accept_encoding="br;q=0.1, gzip;q=1")
    assert (nginx.headers["content-encoding"], middleware.headers["content-encoding"]) == (
        "br",
        "gzip",
    )
    assert decoded(nginx) == decoded(middleware)  # each a correct answer, with Vary


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_other_methods_get_405_with_allow(servers: Servers, method: str) -> None:
    nginx, middleware = both(servers, method, servers.url("css/app.css"))
    assert nginx.status == middleware.status == 405
    assert nginx.headers["allow"] == middleware.headers["allow"] == "GET, HEAD"


# -- validators: each server's own, answered alike -------------------------------------------------


@pytest.mark.parametrize("accept", ["", "br", "gzip"])
@pytest.mark.parametrize("hashed", [True, False], ids=["hashed", "logical"])
def test_a_revalidation_with_the_servers_own_etag_gets_304(
    servers: Servers, accept: str, hashed: bool
) -> None:
    target = target_of(servers, "css/app.css", hashed)
    fields = {"accept-encoding": accept} if accept else {}
    answers = []
    for base in (servers.nginx, servers.middleware):
        first = send(base, "GET", target, fields)
        again = send(base, "GET", target, {**fields, "if-none-match": first.headers["etag"]})
        assert again.status == 304
        assert again.body == b""
        answers.append(again)
    assert_same(*answers)


def test_etags_are_strong_and_differ_per_encoding_under_nginx_too(servers: Servers) -> None:
    url = servers.url("css/app.css")
    tags = {
        coding: send(servers.nginx, "GET", url, {"accept-encoding": coding}).headers["etag"]
        for coding in ("identity", "br", "gzip")
    }
    assert len(set(tags.values())) == 3
    assert not any(tag.startswith("W/") for tag in tags.values())
    other = send(
        servers.nginx, "GET", url, {"accept-encoding": "br", "if-none-match": tags["gzip"]}
    )
    assert other.status == 200  # the gzip tag does not revalidate the br answer


def test_if_modified_since_the_servers_own_date_gets_304(servers: Servers) -> None:
    url = servers.url("css/app.css")
    answers = []
    for base in (servers.nginx, servers.middleware):
        since = send(base, "GET", url, {}).headers["last-modified"]
        answers.append(send(base, "GET", url, {"if-modified-since": since}))
        assert answers[-1].status == 304
    assert_same(*answers)


def test_if_range_with_the_servers_own_tag_allows_the_range(servers: Servers) -> None:
    url = servers.url("media/clip.mp4")
    for base in (servers.nginx, servers.middleware):
        tag = send(base, "GET", url, {}).headers["etag"]
        ranged = send(base, "GET", url, {"range": "bytes=0-9", "if-range": tag})
        assert (ranged.status, ranged.body) == (206, CLIP[:10])
        stale = send(base, "GET", url, {"range": "bytes=0-9", "if-range": '"0-0"'})
        assert (stale.status, stale.body) == (200, CLIP)


def test_a_failed_if_match_is_412(servers: Servers) -> None:
    nginx, middleware = both(servers, "GET", servers.url("css/app.css"), if_match='"nope"')
    assert nginx.status == middleware.status == 412


# -- what is never served ------------------------------------------------------------------------

NEVER_SERVED = [
    ("the manifest", "/static/staticserve.json"),
    ("the manifest via dot-dot", "/static/css/../staticserve.json"),
    ("the state folder", "/static/.staticserve/"),
    ("the build's lock", "/static/.staticserve/lock"),
    ("the compression cache", "/static/.staticserve/cache.json"),
    ("a temporary file", "/static/css/.app.css.staticserve-tmp"),
    ("a variant by its own name", "/static/css/app.css.br"),
    ("a hashed file's variant by name", "HASHED.gz"),
    ("a folder", "/static/css/"),
    ("a folder without its slash", "/static/css"),
    ("the prefix itself", "/static/"),
    ("a dotfile", "/static/.env"),
    ("an unknown file", "/static/css/missing.css"),
    ("encoded dot-dot", "/static/%2e%2e/%2e%2e/etc/passwd"),
    ("double-encoded dot-dot", "/static/%252e%252e/etc/passwd"),
    ("encoded backslash", "/static/..%5c..%5cetc/passwd"),
    ("backslash", "/static/css\\app.css"),
    ("encoded NUL", "/static/css/app.css%00.png"),
    ("overlong UTF-8", "/static/%c0%ae%c0%ae/etc/passwd"),
    ("invalid UTF-8", "/static/%ff%fe.css"),
    ("the internal identity path", "/static/.staticserve-identity/css/app.css"),
    ("the internal whole-file path", "/static/.staticserve-whole/css/app.css"),
]


@pytest.mark.parametrize("target", [c[1] for c in NEVER_SERVED], ids=[c[0] for c in NEVER_SERVED])
def test_what_the_manifest_does_not_name_is_never_served(servers: Servers, target: str) -> None:
    if target == "HASHED.gz":
        target = servers.url("css/app.css") + ".gz"
    for fields in ({}, {"accept-encoding": "br, gzip", "range": "bytes=0-"}):
        nginx, middleware = both(servers, "GET", target, **fields)
        assert nginx.status in (400, 404), target
        assert middleware.status in (400, 404), target
        assert b"rule-" not in nginx.body
        assert b'"assets"' not in nginx.body


NORMALISED = [
    ("dot-dot", "/static/../static/css/app.css"),
    ("double slash", "/static//css/app.css"),
    ("encoded slash", "/static/css%2fapp.css"),
]


@pytest.mark.parametrize("target", [c[1] for c in NORMALISED], ids=[c[0] for c in NORMALISED])
def test_paths_nginx_normalises_are_served_as_the_file_they_name(
    servers: Servers, target: str
) -> None:
    reply = send(servers.nginx, "GET", target, {})
    assert reply.status == 200
    assert reply.body == (servers.root / "css/app.css").read_bytes()
    assert directives(reply) == {"public", "max-age=60"}


# -- a new build, no reload ------------------------------------------------------------------------


def test_a_new_build_is_served_by_nginx_without_a_reload(tmp_path: Path) -> None:
    sources = write_tree(tmp_path / "assets", SOURCES)
    output = tmp_path / "static_build"
    first = build(sources, output)
    location = staticserve.nginx_conf(output, "/static/")
    with running_nginx(location, tmp_path / "nginx") as (base, process):
        old_url = first.static_url("css/app.css")
        assert send(base, "GET", "/static/css/app.css", {}).body == CSS_V1.encode()
        (sources / "css/app.css").write_text(CSS_V2, encoding="utf-8")
        second = build(sources, output)
        new_url = second.static_url("css/app.css")
        assert new_url != old_url
        for fields in ({}, {"accept-encoding": "br"}, {"accept-encoding": "gzip"}):
            logical = send(base, "GET", "/static/css/app.css", fields)
            assert decoded(logical) == CSS_V2.encode(), fields
            assert decoded(send(base, "GET", new_url, fields)) == CSS_V2.encode(), fields
            kept = send(base, "GET", old_url, fields)
            assert (kept.status, decoded(kept)) == (200, CSS_V1.encode()), fields
            assert "immutable" in directives(kept)
        assert process.poll() is None
        assert int((tmp_path / "nginx/nginx.pid").read_text()) == process.pid


def test_names_a_bundler_hashed_are_immutable_under_nginx_too(tmp_path: Path) -> None:
    pattern = r"assets/.*-[A-Za-z0-9_-]{8}\.js"
    sources = write_tree(tmp_path / "src", {"assets/index-B7x9Qz1k.js": "export default 1;\n" * 40})
    output = tmp_path / "static_build"
    staticserve.build(sources=[sources], output=output, base_dir=tmp_path, fingerprinted=[pattern])
    (tmp_path / "pyproject.toml").write_text(
        f"[tool.staticserve]\nfingerprinted = ['{pattern}']\n", encoding="utf-8"
    )
    location = staticserve.nginx_conf(output, config=tmp_path / "pyproject.toml")
    with running_nginx(location, tmp_path / "nginx") as (base, _):
        kept = send(base, "GET", "/static/assets/index-B7x9Qz1k.js", {"accept-encoding": "br"})
        assert kept.status == 200
        assert directives(kept) == {"public", "max-age=31536000", "immutable"}
        assert expires(kept) is not None


def test_compression_on_the_fly_in_the_http_block_does_not_reach_the_build(
    tmp_path: Path,
) -> None:
    """Regression: with on-the-fly gzip in the site's http block (``gzip_types *``), files the
    build left uncompressed (an image, a text too small to gain) were gzipped by nginx, and
    without ``Vary: Accept-Encoding``: a shared cache then gave gzip bytes to every client."""
    files = {"css/app.css": CSS_V1, "css/tiny.css": "a{}\n", "img/dot.png": CLIP[:3000]}
    sources = write_tree(tmp_path / "assets", files)
    output = tmp_path / "static_build"
    manifest = build(sources, output)
    assert manifest.assets["css/tiny.css"].encodings == {}
    location = staticserve.nginx_conf(output, "/static/")
    on_the_fly = "gzip on; gzip_types *; gzip_min_length 1; gzip_vary on;"
    with running_nginx(location, tmp_path / "nginx", http=on_the_fly) as (base, _):
        for logical in ("css/tiny.css", "img/dot.png"):
            for target in (f"/static/{logical}", manifest.static_url(logical)):
                reply = send(base, "GET", target, {"accept-encoding": "gzip"})
                assert reply.status == 200, target
                assert "content-encoding" not in reply.headers, target
                assert reply.body == (output / logical).read_bytes(), target
        variant = send(base, "GET", "/static/css/app.css", {"accept-encoding": "gzip"})
        assert variant.headers["content-encoding"] == "gzip"
        assert variant.body == (output / "css/app.css.gz").read_bytes()
        assert variant.headers["vary"] == "Accept-Encoding"
