"""The README's Django section, executed as printed (the handlers tests/test_readme.py names).

One real project in a temporary folder holds the section's blocks verbatim: its
``proj/settings.py`` is what ``django-admin startproject`` writes around the settings block,
``manage.py collectstatic --noinput`` runs exactly as the ``sh`` block prints it, the template
block is the page the project renders, and the ``wsgi.py`` block is served by gunicorn and
(as its ``asgi.py`` variant) by uvicorn. The WhiteNoise diff is applied to the settings of
WhiteNoise's quick start and the result built and served."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from staticserve.manifest import Manifest

from .conftest import server_process

IMMUTABLE = "public, max-age=31536000, immutable"

# What `django-admin startproject` writes around the README's settings lines, cut to what the
# admin and a template page need. DEBUG comes from the environment so one project runs both.
SETTINGS_HEAD = """\
import os
from pathlib import Path
BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "readme test only"
DEBUG = os.environ.get("README_DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "testserver"]
ROOT_URLCONF = "proj.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db"}}
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "DIRS": [BASE_DIR / "templates"],
              "OPTIONS": {"context_processors": [
                  "django.template.context_processors.request",
                  "django.contrib.auth.context_processors.auth",
                  "django.contrib.messages.context_processors.messages"]}}]
"""
# WhiteNoise's quick start: the same, with STATIC_URL and STATIC_ROOT as startproject and
# WhiteNoise's documentation write them (the diff shows the lines that change around them).
WHITENOISE_HEAD = SETTINGS_HEAD + 'STATIC_URL = "static/"\nSTATIC_ROOT = BASE_DIR / "staticfiles"\n'
URLS = """\
from django.contrib import admin
from django.shortcuts import render
from django.urls import path
urlpatterns = [path("admin/", admin.site.urls), path("", lambda r: render(r, "page.html"))]
"""
MANAGE = """\
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
"""
ENTRY_HEAD = """\
import os
from django.core.{kind} import get_{kind}_application
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.{settings}")

"""
STARTPROJECT_WSGI = ENTRY_HEAD.format(kind="wsgi", settings="settings") + (
    "application = get_wsgi_application()\n"
)
MIDDLEWARE_LINE = '    "staticserve.integrations.django.StaticServeMiddleware",\n'


@dataclass
class DjangoProject:
    root: Path
    python_bin: Path  # a folder with `python`, for the README's `python manage.py ...`
    outputs: dict[str, str] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        path = [str(self.root), *sys.path]
        return {
            **os.environ,
            "PATH": f"{self.python_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": os.pathsep.join(path),
            **extra,
        }

    def shell(self, line: str, **extra: str) -> str:
        """A README command line, run as printed in the project; its standard output."""
        done = subprocess.run(
            line,
            shell=True,
            cwd=self.root,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
        return done.stdout

    def collect(self, line: str) -> str:
        """The README's collectstatic line, run once (the first build into STATIC_ROOT)."""
        if line not in self.outputs:
            self.outputs[line] = self.shell(line)
        return self.outputs[line]

    def python(self, code: str, settings: str = "proj.settings", debug: str = "0") -> str:
        script = "import django\ndjango.setup()\n" + code
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=self.root,
            env=self.env(DJANGO_SETTINGS_MODULE=settings, README_DJANGO_DEBUG=debug),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    @property
    def manifest(self) -> Manifest:
        return Manifest.load(self.root / "staticfiles")


def make_project(root: Path, settings_block: str, template: str) -> DjangoProject:
    (root / "proj").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "proj/__init__.py").write_text("")
    (root / "proj/urls.py").write_text(URLS)
    (root / "proj/settings.py").write_text(SETTINGS_HEAD + settings_block)
    (root / "proj/wsgi.py").write_text(STARTPROJECT_WSGI)
    (root / "manage.py").write_text(MANAGE)
    (root / "templates/page.html").write_text(template)
    python_bin = root / ".bin"
    python_bin.mkdir()
    (python_bin / "python").symlink_to(sys.executable)
    return DjangoProject(root, python_bin)


def add_fast_path(project: DjangoProject, settings_block: str, wsgi_block: str) -> None:
    """proj/settings_fast.py: the settings without the MIDDLEWARE line; proj/wsgi_fast.py and
    proj/asgi_fast.py: the README's wsgi.py lines, and their asgi.py variant."""
    assert settings_block.count(MIDDLEWARE_LINE) == 1
    (project.root / "proj/settings_fast.py").write_text(
        SETTINGS_HEAD + settings_block.replace(MIDDLEWARE_LINE, "")
    )
    asgi_call = re.search(
        r"\(asgi\.py: application = (wrap_asgi\(get_asgi_application\(\)\))\)", wsgi_block
    )
    assert asgi_call, "the README names the asgi.py variant"
    asgi = wsgi_block.replace("wrap_wsgi(get_wsgi_application())", asgi_call[1])
    asgi = asgi.replace("import wrap_wsgi", "import wrap_asgi")
    for kind, text in (("wsgi", wsgi_block), ("asgi", asgi)):
        head = ENTRY_HEAD.format(kind=kind, settings="settings_fast")
        (project.root / f"proj/{kind}_fast.py").write_text(head + text)


@contextmanager
def servers(project: DjangoProject) -> Iterator[dict[str, str]]:
    """``middleware`` (gunicorn, the settings block), ``dev`` (the same with DEBUG on), and the
    fast path: ``wsgi`` (gunicorn) and ``asgi`` (uvicorn)."""
    specs = {
        "middleware": ("gunicorn", "proj.wsgi:application", "0"),
        "dev": ("gunicorn", "proj.wsgi:application", "1"),
        "wsgi": ("gunicorn", "proj.wsgi_fast:application", "0"),
        "asgi": ("uvicorn", "proj.asgi_fast:application", "0"),
    }
    urls = {}
    with ExitStack() as stack:
        for name, (server, target, debug) in specs.items():

            def command(port: int, server: str = server, target: str = target) -> list[str]:
                if server == "uvicorn":
                    args = ["--host", "127.0.0.1", "--port", str(port), "--lifespan", "off"]
                else:
                    args = ["--bind", f"127.0.0.1:{port}", "--workers", "1"]
                return [sys.executable, "-m", server, target, *args, "--log-level", "warning"]

            env = project.env(README_DJANGO_DEBUG=debug)
            env.pop("DJANGO_SETTINGS_MODULE", None)
            urls[name] = stack.enter_context(
                server_process(command, "/admin/login/", cwd=project.root, env=env)
            )
        yield urls


def get(url: str, **headers: str) -> httpx.Response:
    return httpx.get(url, headers=headers, timeout=10)


def check_served_hashed(url: str, project: DjangoProject, logical: str) -> None:
    """The live build's hashed URL of ``logical``: its bytes, immutable, br where it shrinks."""
    manifest = project.manifest
    asset = manifest.assets[logical]
    reply = get(url + manifest.static_url(logical), **{"accept-encoding": "identity"})
    assert reply.status_code == 200, reply.text
    assert reply.content == (project.root / "staticfiles" / asset.path).read_bytes()
    assert reply.headers["cache-control"] == IMMUTABLE
    assert "expires" in reply.headers
    compressed = get(url + manifest.static_url(logical), **{"accept-encoding": "br"})
    assert compressed.headers["content-encoding"] == "br"


def check_admin_page(url: str, project: DjangoProject) -> None:
    """The admin's login page links only hashed URLs of the build, each served immutable."""
    page = get(url + "/admin/login/")
    assert page.status_code == 200
    links = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    assert links
    for link in links:
        assert re.search(r"\.[0-9a-f]{12}\.", link), link
        assert get(url + link).headers["cache-control"] == IMMUTABLE, link


def diff_sides(diff: str) -> tuple[str, str]:
    """The text before and after a unified diff without headers (' ', '-', '+' lines)."""
    before, after = [], []
    for line in diff.splitlines():
        mark, text = line[:1], line[1:]
        assert mark in " -+", line
        if mark != "+":
            before.append(text)
        if mark != "-":
            after.append(text)
    return "\n".join(before) + "\n", "\n".join(after) + "\n"


# In the project, after django.setup(): {% static %} of the admin's stylesheet, and the answer
# the project's middleware stack gives it.
SERVE_ADMIN_CSS = """
from django.templatetags.static import static
from django.test import Client
url = static("admin/css/base.css")
reply = Client().get(url, HTTP_ACCEPT_ENCODING="br")
print(url, reply.status_code, reply["Cache-Control"], reply.get("Content-Encoding"), sep="|")
"""


def check_whitenoise_diff(diff: str, root: Path) -> None:
    """Three WhiteNoise lines replaced by three of staticserve's; WhiteNoise's side passes
    ``check`` (when WhiteNoise is installed), and staticserve's passes it, builds with
    ``collectstatic`` and serves the admin's stylesheet hashed, immutable and br."""
    before, after = diff_sides(diff)
    removed = [line for line in diff.splitlines() if line.startswith("-")]
    added = [line for line in diff.splitlines() if line.startswith("+")]
    assert len(removed) == len(added) == 3
    assert all("whitenoise" in line for line in removed)
    assert "whitenoise" not in after
    for name, settings in (("before", before), ("after", after)):
        if name == "before" and importlib.util.find_spec("whitenoise") is None:
            continue  # WhiteNoise's own settings need WhiteNoise installed
        project = make_project(root / name, "", "")
        (project.root / "proj/settings.py").write_text(WHITENOISE_HEAD + settings)
        env = {"DJANGO_SETTINGS_MODULE": "proj.settings"}
        if name == "before":  # WhiteNoise's quick start is a valid project as printed
            project.shell("python manage.py check --fail-level WARNING", **env)
            continue
        project.shell("python manage.py collectstatic --noinput -v 0", **env)
        project.shell("python manage.py check --fail-level WARNING", **env)
        url, status, cache, coding = project.python(SERVE_ADMIN_CSS).strip().split("|")
        assert re.fullmatch(r"/static/admin/css/base\.[0-9a-f]{12}\.css", url), url
        assert (status, cache, coding) == ("200", IMMUTABLE, "br")


# The options block's effects, through the project's own middleware stack.
OPTIONS_EFFECTS = """
import json
from django.templatetags.static import static
from django.test import Client
client = Client()
plain = client.get("/static/admin/css/base.css")
hashed = client.get(static("admin/css/base.css"))
print(json.dumps({"missing": static("no/such.css"), "plain": plain["Cache-Control"],
                  "plain_origin": plain.get("Access-Control-Allow-Origin"),
                  "hashed": hashed["Cache-Control"], "status": hashed.status_code}))
"""


def check_whitenoise_mapping(section: str) -> None:
    """The "Moving from WhiteNoise" section names every ``WHITENOISE_*`` setting that the
    installed WhiteNoise reads, and every ``STATICSERVE[...]`` / ``OPTIONS[...]`` key it maps
    one to is a key staticserve accepts."""
    from staticserve.integrations.django.conf import SETTING_KEYS
    from staticserve.integrations.django.storage import BUILD_OPTIONS

    spec = importlib.util.find_spec("whitenoise")
    if spec is not None and spec.origin is not None:
        read = set()
        for module in Path(spec.origin).parent.rglob("*.py"):
            read |= set(re.findall(r"WHITENOISE_[A-Z_]+", module.read_text(encoding="utf-8")))
        assert read, "WhiteNoise's settings were not found in its source"
        assert sorted(read - set(re.findall(r"WHITENOISE_[A-Z_]+", section))) == []
    for key in re.findall(r'STATICSERVE\["(\w+)"\]', section):
        assert key in SETTING_KEYS, key
    for key in re.findall(r'OPTIONS\["(\w+)"\]', section):
        assert key in {*BUILD_OPTIONS, "manifest_strict"}, key
