"""``ManifestStorage.url``: what ``{% static %}``, ``static()``, ``form.media`` and the admin's
``ModelAdmin.Media`` render -- hashed URLs of the current build, in a real project with
``django.contrib.admin``, and a new build shown by a running server without a restart."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from staticserve.manifest import Manifest

from .conftest import server_process
from .django_project import Project, make_project

HASHED = r"[0-9a-f]{12}"
ADMIN_APPS = (
    "shop",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
)


@pytest.fixture(scope="module")
def admin_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A project with the admin, collected once (brotli and gzip, as by default)."""
    project = make_project(tmp_path_factory.mktemp("admin"), apps=ADMIN_APPS, storage_options="{}")
    project.collectstatic()
    return project


def hashed_path(project: Project, logical: str) -> str:
    return Manifest.load(project.static_root).assets[logical].path


def test_static_renders_the_hashed_urls_of_the_admins_files(admin_project: Project) -> None:
    [base] = admin_project.static("admin/css/base.css")
    assert re.fullmatch(rf"/static/admin/css/base\.{HASHED}\.css", base)
    assert (admin_project.static_root / base.removeprefix("/static/")).is_file()
    template = admin_project.python(
        "from django.template import Template, Context\n"
        "result = Template('{% load static %}{% static \"admin/js/core.js\" %}')"
        ".render(Context())"
    )
    assert template == "/static/" + hashed_path(admin_project, "admin/js/core.js")


def test_form_media_and_model_admin_media_are_hashed(admin_project: Project) -> None:
    media = admin_project.python(
        "from django import forms\n"
        "from django.contrib import admin\n"
        "from django.contrib.auth.models import User\n"
        "class Form(forms.Form):\n"
        "    class Media:\n"
        "        css = {'all': ['admin/css/forms.css']}\n"
        "        js = ['admin/js/core.js', 'https://cdn.example.org/lib.js']\n"
        "result = [str(Form().media), str(admin.site._registry[User].media)]"
    )
    assert isinstance(media, list)
    form, model_admin = media
    assert f'href="/static/{hashed_path(admin_project, "admin/css/forms.css")}"' in form
    assert '<script src="https://cdn.example.org/lib.js"></script>' in form  # absolute: as is
    scripts = re.findall(r'src="([^"]+)"', model_admin)
    assert scripts
    assert all(re.search(rf"\.{HASHED}\.js$", s) for s in scripts), scripts


def test_a_query_string_and_a_fragment_are_kept(admin_project: Project) -> None:
    names = ["admin/css/base.css?v=2", "admin/img/icon-yes.svg#check", "admin/css/base.css?#iefix"]
    base = hashed_path(admin_project, "admin/css/base.css")
    icon = hashed_path(admin_project, "admin/img/icon-yes.svg")
    assert admin_project.static(*names) == [
        f"/static/{base}?v=2",
        f"/static/{icon}#check",
        f"/static/{base}?#iefix",
    ]


def test_an_unknown_name_is_a_value_error_naming_it(admin_project: Project) -> None:
    [error] = admin_project.static("admin/css/nope.css")
    assert error.startswith(
        "ValueError: Missing staticfiles manifest entry for 'admin/css/nope.css'"
    )
    assert "manifest_strict" in error


def test_manifest_strict_false_falls_back_to_the_logical_url(tmp_path: Path) -> None:
    project = make_project(tmp_path, storage_options='{"manifest_strict": False}')
    assert project.static("shop/nope.css?v=1") == ["/static/shop/nope.css?v=1"]  # no build yet
    project.collectstatic()
    app, missing = project.static("shop/app.css", "shop/nope.css")
    assert re.fullmatch(rf"/static/shop/app\.{HASHED}\.css", app)
    assert missing == "/static/shop/nope.css"


def test_before_any_build_the_error_says_to_run_collectstatic(tmp_path: Path) -> None:
    [error] = make_project(tmp_path).static("shop/app.css")
    assert "there is no staticserve build in STATIC_ROOT" in error
    assert "collectstatic" in error


def test_development_mode_renders_logical_urls(tmp_path: Path) -> None:
    project = make_project(tmp_path, settings="DEBUG = True")
    assert project.static("shop/app.css", "shop/x y.css#a") == [
        "/static/shop/app.css",
        "/static/shop/x%20y.css#a",
    ]
    project = make_project(tmp_path / "dev", settings='STATICSERVE = {"dev": True}')
    assert project.static("shop/app.css") == ["/static/shop/app.css"]


def test_a_cdn_static_url_gives_absolute_cdn_urls_and_builds_for_its_path(tmp_path: Path) -> None:
    project = make_project(tmp_path, settings='STATIC_URL = "https://cdn.example.com/assets/"')
    project.collectstatic()
    manifest = Manifest.load(project.static_root)
    assert manifest.prefix == "/assets/"
    [url] = project.static("shop/app.css?v=1")
    assert url == f"https://cdn.example.com/assets/{manifest.assets['shop/app.css'].path}?v=1"


def test_unknown_storage_options_are_named(tmp_path: Path) -> None:
    project = make_project(tmp_path, storage_options='{"manifest_strickt": False}')
    [error] = project.static("shop/app.css")
    assert "ImproperlyConfigured" in error
    assert "unknown option 'manifest_strickt'" in error


# The page of the project (templates/page.html) links shop/app.css with {% static %}.
ENTRY = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
from django.core.wsgi import get_wsgi_application
application = get_wsgi_application()
"""
WRAPPED_ENTRY = ENTRY + (
    "from staticserve.integrations.django import wrap_wsgi\napplication = wrap_wsgi(application)\n"
)
SERVED = 'STATICSERVE = {"root": STATIC_ROOT, "prefix": "/static"}'


@pytest.fixture(params=["django-alone", "wrapped"])
def served_project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Project, str]]:
    """A built project under gunicorn: plain Django (the storage's own view of the build), or
    wrapped by staticserve's middleware (the storage asks the middleware's catalog)."""
    wrapped = request.param == "wrapped"
    project = make_project(tmp_path, settings=SERVED if wrapped else "")
    project.write({"proj/wsgi.py": WRAPPED_ENTRY if wrapped else ENTRY})
    project.collectstatic()

    def command(port: int) -> list[str]:
        return [
            *(sys.executable, "-m", "gunicorn", "--workers", "1", "--log-level", "warning"),
            *("--bind", f"127.0.0.1:{port}", "proj.wsgi:application"),
        ]

    env = {**project.env(), "PYTHONPATH": os.pathsep.join([str(project.root), *sys.path])}
    with server_process(command, "/", cwd=project.root, env=env) as url:
        yield project, url


def linked(url: str) -> str:
    match = re.search(r'href="([^"]+)"', httpx.get(url + "/").text)
    assert match
    return match[1]


def test_a_new_build_shows_in_pages_without_a_restart(served_project: tuple[Project, str]) -> None:
    project, url = served_project
    first = linked(url)
    assert first == "/static/" + hashed_path(project, "shop/app.css")
    project.write({"shop/static/shop/app.css": "body { color: #fed; }\n"})
    project.collectstatic()
    new = "/static/" + hashed_path(project, "shop/app.css")
    assert new != first
    deadline = time.monotonic() + 15  # the catalog looks for a new build every second
    while (shown := linked(url)) != new and time.monotonic() < deadline:
        time.sleep(0.2)
    assert shown == new
