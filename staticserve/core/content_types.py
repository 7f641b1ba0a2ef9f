"""Content-Type by file extension: one table, the same on every host (no ``mimetypes``)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["CONTENT_TYPES", "DEFAULT_CONTENT_TYPE", "content_type_for"]

DEFAULT_CONTENT_TYPE = b"application/octet-stream"
_UTF8 = "; charset=utf-8"

# Extension (lower case, no dot) -> media type. Text types get their charset below.
_MEDIA_TYPES = {
    # text and code
    "css": "text/css",
    "csv": "text/csv",
    "htm": "text/html",
    "html": "text/html",
    "js": "text/javascript",  # RFC 9239 §6: text/javascript for JavaScript, modules included
    "cjs": "text/javascript",
    "mjs": "text/javascript",
    "md": "text/markdown",
    "txt": "text/plain",
    "vtt": "text/vtt",
    "ics": "text/calendar",
    "xml": "application/xml",
    # data
    "json": "application/json",  # RFC 8259 §11: no charset parameter is defined
    "map": "application/json",  # source maps are JSON
    "jsonld": "application/ld+json",
    "webmanifest": "application/manifest+json",
    "wasm": "application/wasm",
    "pdf": "application/pdf",
    "zip": "application/zip",
    "gz": "application/gzip",
    "tar": "application/x-tar",
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    # images
    "avif": "image/avif",
    "bmp": "image/bmp",
    "gif": "image/gif",
    "ico": "image/vnd.microsoft.icon",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "jxl": "image/jxl",
    "png": "image/png",
    "svg": "image/svg+xml",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "webp": "image/webp",
    # fonts (RFC 8081)
    "eot": "application/vnd.ms-fontobject",
    "otf": "font/otf",
    "ttf": "font/ttf",
    "woff": "font/woff",
    "woff2": "font/woff2",
    # audio and video
    "aac": "audio/aac",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "mp3": "audio/mpeg",
    "oga": "audio/ogg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "wav": "audio/wav",
    "weba": "audio/webm",
    "m4v": "video/mp4",
    "mov": "video/quicktime",
    "mp4": "video/mp4",
    "ogv": "video/ogg",
    "webm": "video/webm",
}

CONTENT_TYPES: Mapping[str, bytes] = MappingProxyType(
    {
        extension: (media + _UTF8 if media.startswith("text/") else media).encode("ascii")
        for extension, media in _MEDIA_TYPES.items()
    }
)


def content_type_for(name: str) -> bytes:
    """The Content-Type field value for a file name, by its last suffix."""
    base = name.rpartition("/")[2]
    _, dot, extension = base.rpartition(".")
    return (
        CONTENT_TYPES.get(extension.lower(), DEFAULT_CONTENT_TYPE) if dot else DEFAULT_CONTENT_TYPE
    )
