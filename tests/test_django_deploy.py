"""Django deployed as its users deploy it: under a sub-path (``SCRIPT_NAME``), and with Django's
``GZipMiddleware`` listed before ``StaticServeMiddleware``. Each test runs a real project's WSGI
application in a subprocess, the way a server loads ``wsgi.py``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .django_project import Project, make_project

pytest.importorskip("django")

MIDDLEWARE = 'MIDDLEWARE = ["staticserve.integrations.django.StaticServeMiddleware"]\n'

# Loads the application as wsgi.py does (the middleware is made, settings read), then serves
# the requests in REQUESTS: (SCRIPT_NAME, PATH_INFO, header fields); prints each answer.
SERVE = """
import json, sys
from io import BytesIO
from django.core.wsgi import get_wsgi_application
application = get_wsgi_application()
def serve(script_name, path, headers):
    environ = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": script_name, "PATH_INFO": path,
               "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
               "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
               "wsgi.input": BytesIO(), "wsgi.errors": sys.stderr}
    environ.update(headers)
    answer = {}
    def start_response(status, fields, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = {k.lower(): v for k, v in fields}
    chunks = application(environ, start_response)
    body = b"".join(chunks)
    getattr(chunks, "close", lambda: None)()
    answer["body"] = body.decode("latin-1")
    return answer
result = [serve(*request) for request in REQUESTS]
"""


def serve(project: Project, *requests: tuple[str, str, dict[str, str]]) -> list[dict]:
    code = f"REQUESTS = {json.dumps(requests)}\n{SERVE}"
    answers = project.python(code.replace("import django, json\ndjango.setup()\n", ""))
    assert isinstance(answers, list)
    return answers


@pytest.mark.parametrize("static_url", ["static/", "/static/"])
def test_under_a_sub_path_static_links_urls_the_server_answers(
    tmp_path: Path, static_url: str
) -> None:
    # startproject writes STATIC_URL = "static/": Django puts the script prefix before it.
    project = make_project(tmp_path, settings=f"{MIDDLEWARE}STATIC_URL = {static_url!r}\n")
    project.collectstatic()
    [page] = serve(project, ("/app", "/", {}))
    [href] = re.findall(r'href="([^"]+)"', page["body"])
    expected = "/app/static/" if static_url == "static/" else "/static/"
    assert re.fullmatch(re.escape(expected) + r"shop/app\.[0-9a-f]{12}\.css", href), href
    if static_url == "static/":
        [asset] = serve(project, ("/app", href.removeprefix("/app"), {}))
        assert asset["status"] == 200
        assert "immutable" in asset["headers"]["cache-control"]


def test_gzip_middleware_before_it_leaves_static_answers_as_they_are(tmp_path: Path) -> None:
    # Django's docs put GZipMiddleware near the top; it would gzip a 206's byte range (its
    # Content-Range then names bytes the body does not hold) and an already compressed image.
    settings = (
        'MIDDLEWARE = ["django.middleware.gzip.GZipMiddleware", '
        '"staticserve.integrations.django.StaticServeMiddleware"]\n'
    )
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    project = make_project(tmp_path, settings=settings, files={"shop/static/shop/dot.png": png})
    project.collectstatic()
    [page] = serve(project, ("", "/", {}))
    [href] = re.findall(r'href="([^"]+)"', page["body"])
    png_url = (
        "/static/"
        + json.loads((project.static_root / "staticserve.json").read_text())["assets"][
            "shop/dot.png"
        ]["path"]
    )
    gzip = {"HTTP_ACCEPT_ENCODING": "gzip"}
    part, image = serve(
        project, ("", href, {**gzip, "HTTP_RANGE": "bytes=0-299"}), ("", png_url, gzip)
    )
    assert part["status"] == 206
    assert "content-encoding" not in part["headers"]
    assert part["headers"]["content-range"].startswith("bytes 0-299/")
    assert (
        part["body"].encode("latin-1")
        == project.root.joinpath("shop/static/shop/app.css").read_bytes()[:300]
    )
    assert image["status"] == 200
    assert "content-encoding" not in image["headers"]
    assert image["body"].encode("latin-1") == png
    assert image["headers"]["content-length"] == str(len(png))
    assert image["headers"]["etag"].startswith('"')


@pytest.mark.parametrize("name", ["ünï.css", "日本.css"])
def test_non_ascii_names_are_served_by_a_server_that_gives_no_raw_uri(
    tmp_path: Path, name: str
) -> None:
    # runserver (wsgiref) sets neither RAW_URI nor REQUEST_URI; Django replaces the WSGI
    # PATH_INFO (UTF-8 bytes as latin-1) in request.META by the decoded path.
    project = make_project(
        tmp_path, settings=MIDDLEWARE, files={f"shop/static/shop/{name}": "b { c: d }"}
    )
    project.collectstatic()
    hashed = json.loads((project.static_root / "staticserve.json").read_text())["assets"][
        f"shop/{name}"
    ]["path"]
    wsgi_path = ("/static/" + hashed).encode("utf-8").decode("latin-1")
    [asset] = serve(project, ("", wsgi_path, {}))
    assert asset["status"] == 200
    assert asset["body"] == "b { c: d }"


@pytest.mark.parametrize("middleware", [True, False])
def test_a_cdn_static_url_links_the_cdn_in_a_served_process(
    tmp_path: Path, middleware: bool
) -> None:
    # In a served process the storage answers from the middleware's catalog, whose URLs are
    # already under the CDN (url_base); without the middleware, from its own.
    settings = 'STATIC_URL = "https://cdn.example.com/static/"\n'
    project = make_project(tmp_path, settings=(MIDDLEWARE if middleware else "") + settings)
    project.collectstatic()
    [page] = serve(project, ("", "/", {}))
    [href] = re.findall(r'href="([^"]+)"', page["body"])
    assert re.fullmatch(r"https://cdn\.example\.com/static/shop/app\.[0-9a-f]{12}\.css", href)
    if middleware:  # the CDN pulls from the path
        [asset] = serve(project, ("", href.removeprefix("https://cdn.example.com"), {}))
        assert asset["status"] == 200
