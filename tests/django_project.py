"""A real Django project in a temporary folder, driven as its users drive it: ``python -m
django collectstatic`` and small scripts in subprocesses, with its own settings module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SETTINGS = """
from pathlib import Path
BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "test only"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = "proj.urls"
MIDDLEWARE = []
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates",
              "DIRS": [BASE_DIR / "templates"]}]
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "collected"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "staticserve.integrations.django.ManifestStorage",
                    "OPTIONS": STORAGE_OPTIONS},
}
"""

URLS = """
from django.shortcuts import render
from django.urls import path
urlpatterns = [path("", lambda request: render(request, "page.html"))]
"""

# A local app with static files of its own, next to the project package.
APP_CSS = "body { color: #123; }\n" + ".gap { margin: 0 auto; }\n" * 20
APP = {"shop/__init__.py": "", "shop/static/shop/app.css": APP_CSS}


@dataclass
class Project:
    root: Path

    @property
    def static_root(self) -> Path:
        return self.root / "collected"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "proj.settings",
            "PYTHONPATH": os.pathsep.join([str(self.root), *sys.path]),
        }

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``python -m django ARGS`` in the project, as ``manage.py ARGS`` runs."""
        done = subprocess.run(
            [sys.executable, "-m", "django", *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{args} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done

    def collectstatic(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.manage("collectstatic", "--noinput", *args, check=check)

    def python(self, code: str) -> object:
        """Run ``code`` after ``django.setup()``; what it assigns to ``result``, as JSON."""
        script = f"import django, json\ndjango.setup()\n{code}\nprint(json.dumps(result))\n"
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise AssertionError(done.stderr)
        return json.loads(done.stdout.splitlines()[-1])

    def static(self, *names: str) -> list[str]:
        """What ``{% static %}`` renders for each name (an error's type and message instead)."""
        code = (
            "from django.templatetags.static import static\nresult = []\n"
            f"for name in {list(names)!r}:\n"
            "    try:\n        result.append(static(name))\n"
            "    except Exception as exc:\n"
            "        result.append(f'{type(exc).__name__}: {exc}')\n"
        )
        urls = self.python(code)
        assert isinstance(urls, list)
        return [str(url) for url in urls]

    def write(self, files: Mapping[str, str | bytes]) -> None:
        for name, content in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                path.write_text(content, encoding="utf-8")
            else:
                path.write_bytes(content)

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """Every file under STATIC_ROOT: (size, mtime_ns)."""
        found = {}
        for path in sorted(self.static_root.rglob("*")):
            if path.is_file():
                info = path.stat()
                found[str(path.relative_to(self.static_root))] = (info.st_size, info.st_mtime_ns)
        return found


def make_project(
    root: Path,
    *,
    apps: tuple[str, ...] = ("shop",),
    settings: str = "",
    storage_options: str = '{"encodings": ["gzip"]}',
    files: Mapping[str, str | bytes] | None = None,
) -> Project:
    """A project with the staticserve integration first, then ``django.contrib.staticfiles``,
    then ``apps``; ``settings`` is appended to the settings module."""
    project = Project(root)
    installed = ["staticserve.integrations.django", "django.contrib.staticfiles", *apps]
    text = SETTINGS.replace("STORAGE_OPTIONS", storage_options)
    text += f"INSTALLED_APPS = {installed!r}\n{settings}\n"
    project.write(
        {
            "proj/__init__.py": "",
            "proj/settings.py": text,
            "proj/urls.py": URLS,
            "templates/page.html": '{% load static %}<link href="{% static "shop/app.css" %}">',
            **APP,
            **(files or {}),
        }
    )
    return project
