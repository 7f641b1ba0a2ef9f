"""Content types: an explicit table, written out by hand from the registrations.

Each row names where its media type is defined, so a wrong row in the code's table fails here
rather than being re-derived from it. Text types carry ``charset=utf-8`` (the build writes
UTF-8, and WHATWG Encoding makes it the only encoding new content should use).
"""

from __future__ import annotations

import pytest

from staticserve.core.content_types import CONTENT_TYPES, content_type_for

# extension -> Content-Type, as sent
BY_EXTENSION = {
    # text: each with its charset
    "css": b"text/css; charset=utf-8",  # RFC 2318
    "csv": b"text/csv; charset=utf-8",  # RFC 4180
    "htm": b"text/html; charset=utf-8",  # WHATWG HTML, IANA text/html
    "html": b"text/html; charset=utf-8",
    "js": b"text/javascript; charset=utf-8",  # RFC 9239 §6
    "cjs": b"text/javascript; charset=utf-8",
    "mjs": b"text/javascript; charset=utf-8",  # RFC 9239 §6: modules too
    "md": b"text/markdown; charset=utf-8",  # RFC 7763 (charset required)
    "txt": b"text/plain; charset=utf-8",  # RFC 2046
    "vtt": b"text/vtt; charset=utf-8",  # W3C WebVTT (UTF-8 only)
    "ics": b"text/calendar; charset=utf-8",  # RFC 5545
    # structured data: no charset parameter is defined, or the document declares its own
    "xml": b"application/xml",  # RFC 7303
    "json": b"application/json",  # RFC 8259 §11
    "map": b"application/json",  # Source Map spec: a JSON document
    "jsonld": b"application/ld+json",  # W3C JSON-LD
    "webmanifest": b"application/manifest+json",  # W3C Web App Manifest
    "rss": b"application/rss+xml",  # RSS 2.0 (what feed readers expect)
    "atom": b"application/atom+xml",  # RFC 4287
    # binary applications
    "wasm": b"application/wasm",  # W3C WebAssembly, IANA
    "pdf": b"application/pdf",  # RFC 8118
    "zip": b"application/zip",  # IANA
    "gz": b"application/gzip",  # RFC 6713
    "tar": b"application/x-tar",  # no registration; the de facto type
    # images
    "avif": b"image/avif",  # IANA (AOM)
    "bmp": b"image/bmp",  # IANA
    "gif": b"image/gif",  # RFC 2046
    "ico": b"image/vnd.microsoft.icon",  # IANA
    "jpeg": b"image/jpeg",  # RFC 2046
    "jpg": b"image/jpeg",
    "jxl": b"image/jxl",  # IANA (ISO/IEC 18181)
    "png": b"image/png",  # IANA (W3C PNG)
    "svg": b"image/svg+xml",  # W3C SVG, IANA
    "tif": b"image/tiff",  # RFC 3302
    "tiff": b"image/tiff",
    "webp": b"image/webp",  # RFC 9649
    # fonts: RFC 8081, and the older EOT registration
    "eot": b"application/vnd.ms-fontobject",
    "otf": b"font/otf",
    "ttf": b"font/ttf",
    "woff": b"font/woff",
    "woff2": b"font/woff2",
    # audio
    "aac": b"audio/aac",  # IANA
    "flac": b"audio/flac",  # IANA (RFC 9639)
    "m4a": b"audio/mp4",  # RFC 4337
    "mp3": b"audio/mpeg",  # RFC 3003
    "oga": b"audio/ogg",  # RFC 5334
    "ogg": b"audio/ogg",  # RFC 5334
    "opus": b"audio/ogg",  # RFC 7845 §9: Opus in Ogg
    "wav": b"audio/wav",  # the common name browsers play (IANA has only audio/vnd.wave)
    "weba": b"audio/webm",  # WebM project
    # video
    "m4v": b"video/mp4",  # RFC 4337
    "mp4": b"video/mp4",  # RFC 4337
    "mov": b"video/quicktime",  # IANA
    "ogv": b"video/ogg",  # RFC 5334
    "webm": b"video/webm",  # WebM project
}


def test_the_table_has_exactly_the_expected_extensions() -> None:
    assert sorted(CONTENT_TYPES) == sorted(BY_EXTENSION)


@pytest.mark.parametrize(("extension", "expected"), BY_EXTENSION.items(), ids=list(BY_EXTENSION))
def test_each_extension_has_its_registered_type(extension: str, expected: bytes) -> None:
    assert content_type_for(f"dir/file.{extension}") == expected


BY_NAME = {
    "upper-case extension": ("img/a.JPEG", b"image/jpeg"),
    "mixed-case extension": ("css/App.Css", b"text/css; charset=utf-8"),
    "only the last suffix counts": ("js/app.js.map", b"application/json"),
    "a hashed name": ("css/app.3f2a9c1d7e4b.css", b"text/css; charset=utf-8"),
    "a compressed archive": ("dist/pkg.tar.gz", b"application/gzip"),
    "an unknown extension": ("archive.unknown", b"application/octet-stream"),
    "no extension": ("Makefile", b"application/octet-stream"),
    "a dot in a folder name only": ("dir.d/noext", b"application/octet-stream"),
    "a trailing dot": ("file.", b"application/octet-stream"),
    "a file named like an extension": ("a-file-named/css", b"application/octet-stream"),
}


@pytest.mark.parametrize(("name", "expected"), BY_NAME.values(), ids=list(BY_NAME))
def test_the_type_follows_the_last_suffix_of_the_file_name(name: str, expected: bytes) -> None:
    assert content_type_for(name) == expected
