"""Development mode (``dev=True``): the sources as they are on disk, ASGI and WSGI alike.

Runs through the same :class:`Site` transports as ``test_http`` (real uvicorn and wsgiref on
127.0.0.1, and in-process), so both adapters answer every check here.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from staticserve import StaticServe, StaticServeWSGI
from staticserve.dev import DevFinder
from staticserve.errors import ConfigError
from staticserve.options import ServeOptions

from .conftest import Build, LiveServer, examples
from .test_http import Site

BIG = random.Random(7).randbytes(200 * 1024)  # larger than the in-memory limit
SECRET = b"canary: this file lies outside every source folder\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Two sources (``theme`` wins over ``assets``) plus ``vendor`` under the prefix ``lib``."""
    files = {
        "theme/css/site.css": b"body { color: rebeccapurple; }\n",
        "assets/css/site.css": b"body { color: black; }\n",
        "assets/js/app.js": b"import './util.js';\n",
        "assets/media/big.bin": BIG,
        "assets/.env": b"SECRET=1\n",
        "assets/css/site.css~": b"editor backup\n",
        "assets/staticserve.json": b"{}",
        "vendor/bootstrap.css": b".btn { }\n",
        "outside/secret.txt": SECRET,
    }
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    (tmp_path / "assets/leak.txt").symlink_to(tmp_path / "outside/secret.txt")
    (tmp_path / "assets/alias.css").symlink_to(tmp_path / "assets/css/site.css")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.staticserve]\nsources = ["theme", "assets", { path = "vendor", prefix = "lib" }]\n'
    )
    return tmp_path


@pytest.fixture(params=["asgi", "wsgi", "asgi-inprocess", "wsgi-inprocess"])
def dev_site(
    request: pytest.FixtureRequest,
    project: Path,
    static_build: Build,
    framework_apps: dict[str, Any],
    live_servers: dict[str, LiveServer],
) -> Site:
    kind: str = request.param
    site = Site(kind, static_build, framework_apps, live_servers.get(kind))
    site.serve(dev=True, config=project / "pyproject.toml")
    return site


def test_serves_sources_by_logical_name_uncached(dev_site: Site, project: Path) -> None:
    reply = dev_site.get("/static/js/app.js")
    assert reply.status == 200
    assert reply.body == (project / "assets/js/app.js").read_bytes()
    assert reply.headers["cache-control"] == "no-cache"
    assert reply.headers["content-type"] == "text/javascript; charset=utf-8"
    assert reply.headers["etag"].startswith('"')
    assert "last-modified" in reply.headers
    assert "expires" not in reply.headers


def test_the_first_source_wins_and_prefixes_apply(dev_site: Site) -> None:
    assert dev_site.get("/static/css/site.css").body == b"body { color: rebeccapurple; }\n"
    assert dev_site.get("/static/lib/bootstrap.css").body == b".btn { }\n"
    assert dev_site.get("/static/bootstrap.css").body.startswith(b"app 404")


def test_edits_new_files_and_deletions_show_at_once(dev_site: Site, project: Path) -> None:
    first = dev_site.get("/static/js/app.js")
    script = project / "assets/js/app.js"
    script.write_bytes(b"console.log('edited');\n")
    os.utime(script, ns=(1, 1_000_000_000))  # a different mtime even on coarse clocks
    edited = dev_site.get("/static/js/app.js")
    assert edited.body == b"console.log('edited');\n"
    assert edited.headers["etag"] != first.headers["etag"]

    (project / "assets/js/new.js").write_bytes(b"export {};\n")
    assert dev_site.get("/static/js/new.js").body == b"export {};\n"

    (project / "theme/css/site.css").unlink()  # the shadowed file now shows through
    assert dev_site.get("/static/css/site.css").body == b"body { color: black; }\n"
    script.unlink()
    assert dev_site.get("/static/js/app.js").body.startswith(b"app 404")


def test_revalidation_gets_304_until_the_file_changes(dev_site: Site, project: Path) -> None:
    etag = dev_site.get("/static/css/site.css").headers["etag"]
    assert dev_site.get("/static/css/site.css", if_none_match=etag).status == 304
    (project / "theme/css/site.css").write_bytes(b"body { color: teal; }\n")
    assert dev_site.get("/static/css/site.css", if_none_match=etag).status == 200


def test_large_files_stream_and_support_ranges(dev_site: Site) -> None:
    whole = dev_site.get("/static/media/big.bin")
    assert whole.body == BIG
    part = dev_site.get("/static/media/big.bin", range="bytes=1000-1999")
    assert part.status == 206
    assert part.body == BIG[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(BIG)}"


@pytest.mark.parametrize(
    "path",
    [
        "/static/.env",
        "/static/css/site.css~",
        "/static/staticserve.json",
        "/static/leak.txt",
        "/static/../outside/secret.txt",
        "/static/%2e%2e/outside/secret.txt",
        "/static/css",
        "/static/",
    ],
)
def test_ignored_hidden_and_escaping_paths_are_not_served(dev_site: Site, path: str) -> None:
    # In process, httpx may tidy the URL; the live servers get the target byte for byte.
    target = path.encode() if dev_site.server else None
    reply = dev_site.request("GET", path, target=target)
    assert reply.status < 500
    assert reply.body.startswith(b"app 404") or reply.status == 400
    assert SECRET not in reply.body


def test_a_folder_without_its_slash_redirects_to_it_as_in_production(
    dev_site: Site, project: Path
) -> None:
    (project / "assets/guide").mkdir()
    (project / "assets/guide/index.html").write_bytes(b"<title>guide</title>")
    assert dev_site.get("/static/guide").body.startswith(b"app 404")  # no index_file
    dev_site.serve(dev=True, config=project / "pyproject.toml", index_file="index.html")
    reply = dev_site.get("/static/guide?v=2")
    assert reply.status == 302
    assert reply.headers["location"] == "guide/?v=2"
    assert reply.headers["cache-control"] == "no-cache"
    assert dev_site.get("/static/guide/").body == b"<title>guide</title>"
    assert dev_site.get("/static/js").body.startswith(b"app 404")  # a folder without index


def test_a_symlink_inside_its_source_is_followed(dev_site: Site) -> None:
    assert dev_site.get("/static/alias.css").body == b"body { color: black; }\n"


def test_other_methods_get_405(dev_site: Site) -> None:
    reply = dev_site.request("POST", "/static/js/app.js")
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("middleware", [StaticServe, StaticServeWSGI])
def test_static_url_is_unhashed_and_integrity_matches_the_source(
    middleware: Any, project: Path
) -> None:
    served = middleware(object(), dev=True, config=project / "pyproject.toml")
    assert served.static_url("css/site.css") == "/static/css/site.css"
    assert served.static_url("lib/bootstrap.css") == "/static/lib/bootstrap.css"
    digest = hashlib.sha384(b"body { color: rebeccapurple; }\n").digest()
    assert served.integrity("css/site.css") == "sha384-" + base64.b64encode(digest).decode()
    with pytest.raises(KeyError, match="none of the source folders"):
        served.static_url("css/missing.css")
    assert served.static_url("css/site.css?v=1#top") == "/static/css/site.css?v=1#top"
    assert served.integrity("css/site.css#x") == served.integrity("css/site.css")
    with pytest.raises(KeyError, match=r"'css/missing\.css' is in none of the source folders"):
        served.static_url("css/missing.css?v=1")
    assert served.reload() is False


@pytest.mark.parametrize("middleware", [StaticServe, StaticServeWSGI])
def test_development_mode_keeps_urls_local_whatever_the_url_base(
    middleware: Any, project: Path
) -> None:
    # The CDN holds builds, not the sources being edited: development pages link the app.
    served = middleware(
        object(),
        dev=True,
        config=project / "pyproject.toml",
        url_base="https://cdn.example.com/static/",
    )
    assert served.static_url("css/site.css") == "/static/css/site.css"


def test_config_defaults_to_pyproject_in_the_working_directory(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    served = StaticServe(object(), dev=True)  # type: ignore[arg-type]
    assert served.static_url("js/app.js") == "/static/js/app.js"


def test_a_missing_source_folder_is_a_clear_error(project: Path) -> None:
    (project / "vendor/bootstrap.css").unlink()
    (project / "vendor").rmdir()
    with pytest.raises(ConfigError, match="source folder vendor does not exist"):
        StaticServeWSGI(object(), dev=True, config=project / "pyproject.toml")  # type: ignore[arg-type]


def test_production_mode_ignores_config_and_serves_the_build(
    project: Path, static_build: Build
) -> None:
    served = StaticServe(object(), static_build.root, config=project / "pyproject.toml")  # type: ignore[arg-type]
    assert served.static_url("css/app.css") == static_build.hashed("css/app.css")


SEGMENTS = st.sampled_from(
    ["..", ".", "", "%2e%2e", "%252e", "outside", "secret.txt", "leak.txt", "css", "site.css",
     "assets", "lib", "%2f", "%5c", "\\", "%00", ".env", "static", "%c0%ae", "~", "js", "app.js"]
)  # fmt: skip


@settings(
    max_examples=examples(400),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(parts=st.lists(SEGMENTS | st.text(min_size=1, max_size=8), max_size=8))
def test_no_generated_path_reaches_a_file_outside_the_sources(
    project: Path, parts: list[str]
) -> None:
    finder = DevFinder(project / "pyproject.toml", ServeOptions())
    path = ("/static/" + "/".join(parts)).encode("utf-8", "surrogateescape")
    resource = finder.find(path)
    if resource is None:
        return
    body = resource.identity.body
    data = body if isinstance(body, bytes) else Path(body.path).read_bytes()
    assert data != SECRET
    served = body.path if not isinstance(body, bytes) else None
    assert served is None or Path(served).resolve().is_relative_to(project)
