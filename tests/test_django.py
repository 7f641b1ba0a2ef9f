"""Django end to end: a real project wrapped from settings, under gunicorn (WSGI) and uvicorn
(ASGI), its templates using ``{% static_url %}`` and ``{% integrity %}``, in production and in
development mode."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from base64 import b64encode
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import staticserve
from staticserve.pipeline import load_config

from .conftest import server_process

CSS = b"body { background: url(../img/dot.png); }\n" + b".gap { margin: 0 auto; }\n" * 40
PNG = b"\x89PNG\r\n\x1a\n" + bytes(300)

SETTINGS = """
from pathlib import Path
BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "test only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = ["staticserve.integrations.django"]
ROOT_URLCONF = "proj.urls"
MIDDLEWARE = []
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates",
              "DIRS": [BASE_DIR / "templates"]}]
STATICSERVE = STATICSERVE_VALUE
"""
URLS = """
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import path
urlpatterns = [
    path("", lambda request: render(request, "page.html")),
    path("api/ping", lambda request: JsonResponse({"pong": True})),
]
"""
ENTRY = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
from django.core.{kind} import get_{kind}_application
from staticserve.integrations.django import wrap_{kind}
application = wrap_{kind}(get_{kind}_application())
"""
PAGE = """{% load staticserve %}<!doctype html>
<link rel="stylesheet" href="{% static_url "css/site.css" %}" integrity="{% integrity "css/site.css" %}">
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("django_project")
    for name, data in {"assets/css/site.css": CSS, "assets/img/dot.png": PNG}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "pyproject.toml").write_text(
        '[tool.staticserve]\nsources = ["assets"]\noutput = "static_build"\n'
    )
    (root / "templates").mkdir()
    (root / "templates/page.html").write_text(PAGE)
    (root / "proj").mkdir()
    (root / "proj/__init__.py").write_text("")
    (root / "proj/urls.py").write_text(URLS)
    for kind in ("wsgi", "asgi"):
        (root / f"proj/{kind}.py").write_text(ENTRY.format(kind=kind))
    staticserve.build(load_config(root / "pyproject.toml"))
    return root


def write_settings(project: Path, dev: bool) -> None:
    value = (
        '{"dev": True, "config": BASE_DIR / "pyproject.toml"}'
        if dev
        else '{"root": BASE_DIR / "static_build", "prefix": "/static"}'
    )
    (project / "proj/settings.py").write_text(SETTINGS.replace("STATICSERVE_VALUE", value))


@pytest.fixture
def server(request: pytest.FixtureRequest, project: Path) -> Iterator[str]:
    """``wsgi`` (gunicorn) or ``asgi`` (uvicorn), then ``-prod`` or ``-dev`` settings."""
    kind, mode = request.param.split("-")
    write_settings(project, dev=mode == "dev")

    def command(port: int) -> list[str]:
        if kind == "wsgi":
            command = [sys.executable, "-m", "gunicorn", "--workers", "1", "--log-level"]
            return [*command, "warning", "--bind", f"127.0.0.1:{port}", "proj.wsgi:application"]
        command = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--lifespan", "off"]
        return [*command, "--host", "127.0.0.1", "--port", str(port), "proj.asgi:application"]

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(project), *sys.path])}
    with server_process(command, "/api/ping", cwd=project, env=env) as url:
        yield url


def stylesheet(page: str) -> tuple[str, str]:
    match = re.search(r'href="([^"]+)" integrity="([^"]+)"', page)
    assert match, page
    return match[1], match[2]


def sri(data: bytes) -> str:
    return "sha384-" + b64encode(hashlib.sha384(data).digest()).decode()


@pytest.mark.parametrize("server", ["wsgi-prod", "asgi-prod"], indirect=True)
def test_production_pages_link_hashed_urls_that_are_served_immutable(
    server: str,
) -> None:
    url = server
    href, integrity = stylesheet(httpx.get(url + "/").text)
    assert re.fullmatch(r"/static/css/site\.[0-9a-f]{12}\.css", href)
    reply = httpx.get(url + href, headers={"accept-encoding": "br"})
    assert reply.status_code == 200
    assert reply.headers["content-encoding"] == "br"
    assert reply.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert integrity == sri(reply.content)  # httpx decoded the brotli body
    assert re.search(rb"url\(\.\./img/dot\.[0-9a-f]{12}\.png\)", reply.content)  # rewritten
    assert httpx.get(url + "/api/ping").json() == {"pong": True}  # the rest is Django's
    assert httpx.get(url + "/static/missing.css").status_code == 404


@pytest.mark.parametrize("server", ["wsgi-dev", "asgi-dev"], indirect=True)
def test_development_mode_links_and_serves_the_sources(server: str) -> None:
    url = server
    href, integrity = stylesheet(httpx.get(url + "/").text)
    assert href == "/static/css/site.css"
    reply = httpx.get(url + href)
    assert reply.status_code == 200
    assert reply.content == CSS  # as written, references not rewritten
    assert reply.headers["cache-control"] == "no-cache"
    assert integrity == sri(CSS)


def test_unknown_settings_keys_are_a_clear_error() -> None:
    script = (
        "import django; from django.conf import settings\n"
        "settings.configure(STATICSERVE={'roots': 'x'})\n"
        "from staticserve.integrations.django import settings_options\n"
        "try:\n    settings_options()\nexcept Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("ConfigError settings.STATICSERVE: unknown option 'roots'")


@pytest.mark.parametrize(
    ("static_url", "staticserve", "expected"),
    [
        ("https://cdn.example.com/static/", {}, "https://cdn.example.com/static/"),
        ("//cdn.example.com/static/", {}, "//cdn.example.com/static/"),
        ("/static/", {}, None),
        ("https://cdn.example.com/static/", {"url_base": "https://other.example.com/s/"}, "https://other.example.com/s/"),
    ],
    ids=["absolute", "scheme-relative", "relative", "STATICSERVE wins"],
)  # fmt: skip
def test_an_absolute_static_url_is_the_url_base(
    static_url: str, staticserve: dict[str, str], expected: str | None
) -> None:
    script = (
        "import django; from django.conf import settings\n"
        f"settings.configure(STATIC_URL={static_url!r}, STATICSERVE={staticserve!r})\n"
        "from staticserve.integrations.django import settings_options\n"
        "print(repr(settings_options().get('url_base')))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == repr(expected)
