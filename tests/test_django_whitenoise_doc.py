"""docs/django-whitenoise.md, executed: its settings diff turns WhiteNoise's quick-start
settings into a project that passes ``manage.py check``, builds with ``collectstatic`` and
serves the admin's stylesheet hashed and immutable; its ``STATICSERVE`` block is valid
settings. (The README takes this section over; its blocks stay executed.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("django")

DOC = Path(__file__).resolve().parent.parent / "docs" / "django-whitenoise.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)

# What a project following WhiteNoise's quick start has around the lines the diff shows.
HEAD = """
from pathlib import Path
BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "doc test only"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "proj.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db"}}
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": [
                  "django.template.context_processors.request",
                  "django.contrib.auth.context_processors.auth",
                  "django.contrib.messages.context_processors.messages"]}}]
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
"""
URLS = """
from django.contrib import admin
from django.urls import path
urlpatterns = [path("admin/", admin.site.urls)]
"""
SERVE = """
import django
django.setup()
from django.templatetags.static import static
from django.test import Client
url = static("admin/css/base.css")
reply = Client().get(url, HTTP_ACCEPT_ENCODING="br")
print(url, reply.status_code, reply["Cache-Control"], reply.get("Content-Encoding"), sep="|")
"""


def blocks(language: str) -> list[str]:
    return [text for lang, text in FENCE.findall(DOC.read_text("utf-8")) if lang == language]


def sides(diff: str) -> tuple[str, str]:
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


def run(project: Path, *command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "proj.settings"}
    env["PYTHONPATH"] = os.pathsep.join([str(project), *sys.path])
    return subprocess.run(
        [sys.executable, *command],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_diff_changes_three_lines_of_whitenoises_settings() -> None:
    [diff] = blocks("diff")
    before, after = sides(diff)
    removed = [line for line in diff.splitlines() if line.startswith("-")]
    added = [line for line in diff.splitlines() if line.startswith("+")]
    assert len(removed) == len(added) == 3
    assert all("whitenoise" in line for line in removed)
    assert not any("whitenoise" in line for line in after.splitlines())
    assert "whitenoise" in before


def test_the_settings_after_the_diff_build_and_serve(tmp_path: Path) -> None:
    [diff] = blocks("diff")
    _, after = sides(diff)
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj/__init__.py").write_text("")
    (tmp_path / "proj/urls.py").write_text(URLS)
    (tmp_path / "proj/settings.py").write_text(HEAD + after)
    built = run(tmp_path, "-m", "django", "collectstatic", "--noinput", "-v", "0")
    assert built.returncode == 0, built.stderr
    check = run(tmp_path, "-m", "django", "check", "--fail-level", "WARNING")
    assert check.returncode == 0, check.stderr
    served = run(tmp_path, "-c", SERVE)
    assert served.returncode == 0, served.stderr
    url, status, cache, coding = served.stdout.strip().split("|")
    assert re.fullmatch(r"/static/admin/css/base\.[0-9a-f]{12}\.css", url), url
    assert status == "200"
    assert cache == "public, max-age=31536000, immutable"
    assert coding == "br"


def test_the_staticserve_block_is_valid_settings(tmp_path: Path) -> None:
    [diff] = blocks("diff")
    _, after = sides(diff)
    [options] = blocks("python")
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj/__init__.py").write_text("")
    (tmp_path / "proj/urls.py").write_text(URLS)
    (tmp_path / "proj/settings.py").write_text(HEAD + after + options)
    assert run(tmp_path, "-m", "django", "collectstatic", "--noinput", "-v", "0").returncode == 0
    check = run(tmp_path, "-m", "django", "check", "--fail-level", "WARNING")
    assert check.returncode == 0, check.stderr
