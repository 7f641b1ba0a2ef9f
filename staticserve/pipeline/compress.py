"""Compress: bytes -> precompressed variants, for the encodings worth keeping."""

from __future__ import annotations

import functools
import gzip
import importlib
from collections.abc import Callable, Mapping
from types import MappingProxyType

from ..errors import BuildError, ConfigError

__all__ = [
    "CODECS",
    "INCOMPRESSIBLE_SUFFIXES",
    "MAX_RATIO",
    "compress",
    "compress_variants",
    "worth_compressing",
]

# A variant is kept only when it saves at least 5 %: below that the extra file, the extra
# negotiation and the extra ETag buy nothing.
MAX_RATIO = 0.95

# When gzip -9 cannot save even 1 %, the bytes are entropy-coded already (an image or archive
# format the suffix list does not know, random data). Brotli then gets one quick look (quality
# 5 over the same window, so repeats further apart than gzip's 32 KiB still show) before it is
# run at quality 11. Measured on such data (random bytes, woff/woff2, jpeg, gzip files), quality
# 11 saved at most 0.1 % more than quality 5: when quality 5 cannot save 2 %, quality 11 cannot
# reach the 5 % that MAX_RATIO asks for. Cost of the probe: about 1/20 of quality 11.
# Below PROBE_MIN_SIZE neither shortcut holds (gzip's 18 bytes of framing outweigh what it
# saves, and quality 11 beats quality 5 by a few bytes, which is 5 % of a tiny file), while
# quality 11 costs next to nothing: small inputs always get the real codecs.
GZIP_HOPELESS_RATIO = 0.99
PROBE_HOPELESS_RATIO = 0.98
PROBE_MIN_SIZE = 4096

# Formats that are compressed already: another pass costs CPU and saves nothing. The README's
# Precompression section lists the same suffixes (tests/pipeline/test_compression.py compares).
INCOMPRESSIBLE_SUFFIXES = frozenset(
    {
        # images
        ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".heic", ".jxl",
        # fonts
        ".woff", ".woff2",
        # archives and compressed streams
        ".zip", ".gz", ".tgz", ".bz2", ".tbz", ".tbz2", ".xz", ".txz", ".lz", ".lzma", ".zst",
        ".br", ".7z", ".rar", ".jar", ".whl",
        # audio
        ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".flac",
        # video
        ".mp4", ".m4v", ".ogv", ".webm", ".mov", ".mkv", ".avi", ".mpg", ".mpeg", ".wmv", ".flv",
        ".swf", ".3gp", ".3gpp", ".asf",
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
    return _zstd_compressor()(data)


@functools.cache
def _zstd_compressor() -> Callable[[bytes], bytes]:
    """Level 19 from the standard library (3.14+), its backport, or the zstandard package."""
    for name in ("compression.zstd", "backports.zstd"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return lambda data: bytes(module.compress(data, level=19))
    try:
        zstandard = importlib.import_module("zstandard")
    except ImportError:
        raise ConfigError(
            "zstd needs Python 3.14+, the backports.zstd or the zstandard package: "
            "pip install 'staticserve[zstd]'"
        ) from None
    # A ZstdCompressor must not be shared between threads: one per file.
    return lambda data: bytes(zstandard.ZstdCompressor(level=19).compress(data))


# Content-coding token (RFC 9110 §8.4.1) -> compressor at its highest practical setting.
CODECS: Mapping[str, Callable[[bytes], bytes]] = MappingProxyType(
    {"br": _brotli, "gzip": _gzip, "zstd": _zstd}
)


def check_available(encodings: tuple[str, ...]) -> None:
    """Fail early, before any work, when a requested codec's library is missing."""
    if "zstd" in encodings:
        _zstd_compressor()


def worth_compressing(logical: str, size: int, min_size: int) -> bool:
    dot = logical.rfind(".")
    suffix = logical[dot:].lower() if dot > logical.rfind("/") else ""
    return size >= min_size and suffix not in INCOMPRESSIBLE_SUFFIXES


def compress(data: bytes, encoding: str) -> bytes | None:
    """The ``encoding`` variant of ``data``, or None when it would not be meaningfully smaller."""
    packed = CODECS[encoding](data)
    return packed if len(packed) <= len(data) * MAX_RATIO else None


def compress_variants(data: bytes, encodings: tuple[str, ...]) -> dict[str, bytes | None]:
    """Every variant of ``data`` in ``encodings`` (None: not worth keeping), skipping hopeless work.

    gzip runs first because it is cheap (about 1/25 of the CPU of brotli 11 on text) and tells
    whether the expensive codecs can pay at all.
    """
    gzip_size: int | None = None
    out: dict[str, bytes | None] = {}
    for encoding in sorted(encodings, key=lambda e: e != "gzip"):
        try:
            if encoding == "gzip":
                packed = CODECS["gzip"](data)
                gzip_size = len(packed)
                out[encoding] = packed if len(packed) <= len(data) * MAX_RATIO else None
            elif gzip_size is not None and _hopeless(data, gzip_size):
                out[encoding] = None
            else:
                out[encoding] = compress(data, encoding)
        except (ConfigError, BuildError):
            raise
        except Exception as exc:  # a codec's own error type, MemoryError, ...
            raise BuildError(
                f"{encoding} compression failed ({type(exc).__name__}: {exc})"
            ) from exc
    return out


def _hopeless(data: bytes, gzip_size: int) -> bool:
    """True when no codec can save MAX_RATIO's 5 % on ``data`` (see GZIP_HOPELESS_RATIO)."""
    if len(data) < PROBE_MIN_SIZE or gzip_size <= len(data) * GZIP_HOPELESS_RATIO:
        return False
    import brotli

    probe = brotli.compress(data, quality=5)
    return len(probe) > len(data) * PROBE_HOPELESS_RATIO
