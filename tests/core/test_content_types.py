"""Content types: one table, text types in UTF-8, unknown files as octet streams."""

from __future__ import annotations

import pytest

from staticserve.core.content_types import CONTENT_TYPES, content_type_for

EXPECTED = {
    "css/app.css": b"text/css; charset=utf-8",
    "js/app.js": b"text/javascript; charset=utf-8",
    "js/mod.mjs": b"text/javascript; charset=utf-8",
    "data.json": b"application/json",
    "js/app.js.map": b"application/json",
    "img/logo.svg": b"image/svg+xml",
    "app.wasm": b"application/wasm",
    "fonts/a.woff": b"font/woff",
    "fonts/a.woff2": b"font/woff2",
    "fonts/a.ttf": b"font/ttf",
    "fonts/a.otf": b"font/otf",
    "fonts/a.eot": b"application/vnd.ms-fontobject",
    "img/a.avif": b"image/avif",
    "img/a.webp": b"image/webp",
    "img/a.png": b"image/png",
    "img/a.jpg": b"image/jpeg",
    "img/a.JPEG": b"image/jpeg",
    "img/a.gif": b"image/gif",
    "favicon.ico": b"image/vnd.microsoft.icon",
    "index.html": b"text/html; charset=utf-8",
    "robots.txt": b"text/plain; charset=utf-8",
    "feed.xml": b"application/xml",
    "site.webmanifest": b"application/manifest+json",
    "clip.mp4": b"video/mp4",
    "clip.webm": b"video/webm",
    "song.mp3": b"audio/mpeg",
    "doc.pdf": b"application/pdf",
    "archive.unknown": b"application/octet-stream",
    "Makefile": b"application/octet-stream",
    "dir.d/noext": b"application/octet-stream",
}


@pytest.mark.parametrize(("name", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_content_type_follows_the_extension(name: str, expected: bytes) -> None:
    assert content_type_for(name) == expected


def test_exactly_the_text_types_declare_utf8() -> None:
    for extension, value in CONTENT_TYPES.items():
        assert value.startswith(b"text/") == value.endswith(b"; charset=utf-8"), extension
