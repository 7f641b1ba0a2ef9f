"""Compress: bytes -> precompressed variants, for the encodings worth keeping."""

from __future__ import annotations

import gzip
import importlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError

__all__ = ["CODECS", "INCOMPRESSIBLE_SUFFIXES", "MAX_RATIO", "compress", "worth_compressing"]

# A variant is kept only when it saves at least 5 %: below that the extra file, the extra
# negotiation and the extra ETag buy nothing.
MAX_RATIO = 0.95

# Formats that are compressed already: another pass costs CPU and saves nothing.
INCOMPRESSIBLE_SUFFIXES = frozenset(
    {
        # images
        ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".heic", ".jxl",
        # fonts
        ".woff", ".woff2",
        # archives and compressed streams
        ".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".br", ".7z", ".rar", ".jar", ".whl",
        # audio and video
        ".mp3", ".mp4", ".m4a", ".m4v", ".ogg", ".oga", ".ogv", ".opus", ".webm", ".mov", ".aac",
        ".flac",
        # documents that are zip or deflate inside
        ".pdf", ".docx", ".xlsx", ".pptx", ".odt", ".epub",
    }
)  # fmt: skip


def _brotli(data: bytes) -> bytes:
    import brotli  # imported here so that servers importing staticserve never load it

    return bytes(brotli.compress(data, quality=11))


def _gzip(data: bytes) -> bytes:
    # mtime=0 keeps rebuilds byte-identical.
    return gzip.compress(data, compresslevel=9, mtime=0)


def _zstd(data: bytes) -> bytes:
    module = _zstd_module()
    return bytes(module.compress(data, level=19))


def _zstd_module() -> Any:
    for name in ("compression.zstd", "backports.zstd"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ConfigError(
        "zstd needs Python 3.14+ or the backports.zstd package: pip install 'staticserve[zstd]'"
    )


# Content-coding token (RFC 9110 §8.4.1) -> compressor at its highest practical setting.
CODECS: Mapping[str, Callable[[bytes], bytes]] = MappingProxyType(
    {"br": _brotli, "gzip": _gzip, "zstd": _zstd}
)


def check_available(encodings: tuple[str, ...]) -> None:
    """Fail early, before any work, when a requested codec's library is missing."""
    if "zstd" in encodings:
        _zstd_module()


def worth_compressing(logical: str, size: int, min_size: int) -> bool:
    dot = logical.rfind(".")
    suffix = logical[dot:].lower() if dot > logical.rfind("/") else ""
    return size >= min_size and suffix not in INCOMPRESSIBLE_SUFFIXES


def compress(data: bytes, encoding: str) -> bytes | None:
    """The ``encoding`` variant of ``data``, or None when it would not be meaningfully smaller."""
    packed = CODECS[encoding](data)
    return packed if len(packed) <= len(data) * MAX_RATIO else None
