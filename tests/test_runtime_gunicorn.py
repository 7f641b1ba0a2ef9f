"""StaticServeWSGI under a real gunicorn (subprocess): raw targets, sendfile, ranges, fall-through."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import CSS, Build, server_process

APP_MODULE = """
from flask import Flask
from staticserve.wsgi import StaticServeWSGI

flask_app = Flask("wrapped", static_folder=None)

@flask_app.get("/api/data")
def data():
    return {"ok": True}

@flask_app.errorhandler(404)
def not_found(error):
    from flask import request
    return f"app 404: {request.path}", 404

app = StaticServeWSGI(flask_app, ROOT, "/static")
"""


@pytest.fixture(scope="module")
def gunicorn(static_build: Build, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("gunicorn_app")
    (folder / "served.py").write_text(APP_MODULE.replace("ROOT", repr(str(static_build.root))))

    def command(port: int) -> list[str]:
        command = [sys.executable, "-m", "gunicorn", "--chdir", str(folder), "--workers", "1"]
        return [*command, "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "served:app"]

    with server_process(command, "/api/data", cwd=Path(__file__).parent.parent) as url:
        yield url


def fetch(url: str, target: str, **headers: str) -> httpx.Response:
    fields = {"accept-encoding": "identity", **{k.replace("_", "-"): v for k, v in headers.items()}}
    request = httpx.Request(
        "GET", url + "/", headers=fields, extensions={"target": target.encode()}
    )
    with httpx.Client() as client:
        return client.send(request)


def test_gunicorn_serves_hashed_files_with_brotli(gunicorn: str, static_build: Build) -> None:
    reply = fetch(gunicorn, static_build.hashed("css/app.css"), accept_encoding="br")
    assert reply.headers["content-encoding"] == "br"
    assert reply.content == CSS  # httpx decodes here: the bytes round-trip


def test_gunicorn_sends_large_files_and_ranges(gunicorn: str, static_build: Build) -> None:
    clip = static_build.contents["media/clip.mp4"]
    assert fetch(gunicorn, static_build.hashed("media/clip.mp4")).content == clip
    ranged = fetch(gunicorn, static_build.hashed("media/clip.mp4"), range="bytes=1000-1999")
    assert (ranged.status_code, ranged.content) == (206, clip[1000:2000])
    tail = fetch(gunicorn, static_build.hashed("media/clip.mp4"), range="bytes=-10")
    assert (tail.status_code, tail.content) == (206, clip[-10:])


@pytest.mark.parametrize(
    "target",
    ["/static/css%2fapp.css", "/static/%2e%2e/staticserve.json", "/static/.env"],
    ids=["encoded slash", "encoded dot-dot", "dotfile"],
)
def test_gunicorn_hands_hostile_paths_to_the_app(gunicorn: str, target: str) -> None:
    reply = fetch(gunicorn, target)
    assert reply.status_code == 404
    assert reply.text.startswith("app 404")
