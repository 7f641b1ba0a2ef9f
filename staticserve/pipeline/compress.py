"""Compress: bytes -> precompressed variants, for the encodings worth keeping."""

from __future__ import annotations

import functools
import importlib
import zlib
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, Protocol

from ..errors import BuildError, ConfigError

__all__ = [
    "CODECS",
    "INCOMPRESSIBLE_SUFFIXES",
    "IN_MEMORY_LIMIT",
    "LEVELS",
    "MAX_RATIO",
    "Readable",
    "compress",
    "compress_variants",
    "recipe",
    "worth_compressing",
]

# Content-coding -> the setting its codec runs at (brotli quality, gzip and zstd level): the
# highest practical one. The persistent cache keys its entries by it (see recipe()).
LEVELS: Mapping[str, int] = MappingProxyType({"br": 11, "gzip": 9, "zstd": 19})

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


# A source larger than this is compressed from its chunks, never held whole (zstd aside, see
# _ENCODERS); a smaller one is read whole first, which is quicker and makes the same bytes.
IN_MEMORY_LIMIT = 8 * 1024 * 1024


class Readable(Protocol):
    """Bytes left on disk: their size, and a fresh pass over them, in chunks, per call."""

    @property
    def size(self) -> int: ...

    def chunks(self) -> Iterator[bytes]: ...


class _Encoder(Protocol):
    def process(self, chunk: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


def _brotli(data: bytes) -> bytes:
    import brotli  # imported here so that servers importing staticserve never load it

    return bytes(brotli.compress(data, quality=LEVELS["br"]))


class _BrotliEncoder:
    def __init__(self, quality: int) -> None:
        import brotli

        self._compressor = brotli.Compressor(quality=quality)

    def process(self, chunk: bytes) -> bytes:
        return bytes(self._compressor.process(chunk))

    def finish(self) -> bytes:
        return bytes(self._compressor.finish())


# wbits 31: deflate with a gzip header (mtime 0, so rebuilds are byte-identical; zlib's header,
# the same under every Python version, where gzip.compress's OS byte changed between them).
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def _gzip(data: bytes) -> bytes:
    encoder = _GzipEncoder()
    return encoder.process(data) + encoder.finish()


class _GzipEncoder:
    def __init__(self) -> None:
        self._compressor = zlib.compressobj(LEVELS["gzip"], zlib.DEFLATED, _GZIP_WBITS)

    def process(self, chunk: bytes) -> bytes:
        return self._compressor.compress(chunk)

    def finish(self) -> bytes:
        return self._compressor.flush()


def _zstd(data: bytes) -> bytes:
    return _zstd_compressor()(data)


@functools.cache
def _zstd_compressor() -> Callable[[bytes], bytes]:
    """Level 19 from the standard library (3.14+), its backport, or the zstandard package."""
    module, _ = _zstd_module()
    level = LEVELS["zstd"]
    if module.__name__ != "zstandard":
        return lambda data: bytes(module.compress(data, level=level))
    # A ZstdCompressor must not be shared between threads: one per file.
    return lambda data: bytes(module.ZstdCompressor(level=level).compress(data))


def _zstd_module() -> tuple[Any, str]:
    """The zstd module the build uses, and the version of the libzstd inside it (each call
    looks again: the imports are cached by Python, and tests hide modules)."""
    for name in ("compression.zstd", "backports.zstd"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return module, str(module.zstd_version)
    try:
        zstandard = importlib.import_module("zstandard")
    except ImportError:
        raise ConfigError(
            "zstd needs Python 3.14+, the backports.zstd or the zstandard package: "
            "pip install 'staticserve[zstd]'"
        ) from None
    return zstandard, str(zstandard.ZSTD_VERSION)


# Content-coding token (RFC 9110 §8.4.1) -> compressor at its highest practical setting.
CODECS: Mapping[str, Callable[[bytes], bytes]] = MappingProxyType(
    {"br": _brotli, "gzip": _gzip, "zstd": _zstd}
)


# Content-coding -> an encoder that makes from chunks the very bytes its CODECS entry makes in one
# call (tests/pipeline/test_large_files.py compares). zstd has none: a zstd frame made from a
# stream differs from a one-shot one (block boundaries), so zstd variants are made from the
# whole bytes, read into memory for the time of that compression.
_ENCODERS: Mapping[str, Callable[[], _Encoder]] = MappingProxyType(
    {"br": lambda: _BrotliEncoder(LEVELS["br"]), "gzip": _GzipEncoder}
)
_PROBE_QUALITY = 5  # see GZIP_HOPELESS_RATIO


def check_available(encodings: tuple[str, ...]) -> None:
    """Fail early, before any work, when a requested codec's library is missing."""
    if "zstd" in encodings:
        _zstd_compressor()


def recipe(encoding: str, *, probed: bool) -> str:
    """Everything that decides the ``encoding`` variant of given bytes, as text: the codec, its
    setting, its library's version (a new version may make other bytes) and the rules that say
    whether a variant is kept. ``probed``: gzip runs too, so the cheap look of GZIP_HOPELESS_RATIO
    may decide instead of the codec (and then zlib's version counts as well).

    The persistent cache keys its entries by it: bytes made any other way are never reused.
    """
    parts = [encoding, f"level={LEVELS[encoding]}", f"keep<={MAX_RATIO}", _library(encoding)]
    if probed and encoding != "gzip":
        parts += [
            f"probe=brotli-{_PROBE_QUALITY}/{GZIP_HOPELESS_RATIO}/{PROBE_HOPELESS_RATIO}",
            f"from={PROBE_MIN_SIZE}",
            _library("gzip"),
            _library("br"),
        ]
    return " ".join(dict.fromkeys(parts))


def _library(encoding: str) -> str:
    """The codec library and its version, for :func:`recipe`."""
    if encoding == "gzip":
        return f"zlib-{zlib.ZLIB_RUNTIME_VERSION}"
    if encoding == "br":
        import brotli

        return f"brotli-{getattr(brotli, '__version__', 'unknown')}"
    module, version = _zstd_module()
    return f"{module.__name__}-libzstd-{version}"


def worth_compressing(logical: str, size: int, min_size: int) -> bool:
    dot = logical.rfind(".")
    suffix = logical[dot:].lower() if dot > logical.rfind("/") else ""
    return size >= min_size and suffix not in INCOMPRESSIBLE_SUFFIXES


def compress(data: bytes, encoding: str) -> bytes | None:
    """The ``encoding`` variant of ``data``, or None when it would not be meaningfully smaller."""
    packed = CODECS[encoding](data)
    return packed if len(packed) <= len(data) * MAX_RATIO else None


def compress_variants(
    source: bytes | Readable, encodings: tuple[str, ...]
) -> dict[str, bytes | None]:
    """Every variant of ``source`` in ``encodings`` (None: not worth keeping), skipping hopeless
    work. A large :class:`Readable` is compressed from its chunks: the same decisions and bytes,
    in memory only a chunk, the encoders' state and the variants kept.

    gzip runs first because it is cheap (about 1/25 of the CPU of brotli 11 on text) and tells
    whether the expensive codecs can pay at all.
    """
    if not isinstance(source, bytes) and source.size <= IN_MEMORY_LIMIT:
        source = b"".join(source.chunks())
    size = len(source) if isinstance(source, bytes) else source.size
    gzip_size: int | None = None
    out: dict[str, bytes | None] = {}
    for encoding in sorted(encodings, key=lambda e: e != "gzip"):
        try:
            if encoding == "gzip":
                out[encoding], gzip_size = _gzip_variant(source, size)
            elif gzip_size is not None and _hopeless(source, size, gzip_size):
                out[encoding] = None
            else:
                out[encoding] = _variant(source, encoding)
        except (ConfigError, BuildError):
            raise
        except Exception as exc:  # a codec's own error type, MemoryError, ...
            raise BuildError(
                f"{encoding} compression failed ({type(exc).__name__}: {exc})"
            ) from exc
    return out


def _gzip_variant(source: bytes | Readable, size: int) -> tuple[bytes | None, int]:
    """The gzip variant worth keeping (or None) and the size of the gzip encoding."""
    if isinstance(source, bytes):
        packed = CODECS["gzip"](source)
        return (packed if len(packed) <= size * MAX_RATIO else None), len(packed)
    # Counted first, kept only when it pays: incompressible bytes never pile up in memory.
    gzip_size = _encoded_size(source, _ENCODERS["gzip"])
    if gzip_size > size * MAX_RATIO:
        return None, gzip_size
    return _encoded(source, _ENCODERS["gzip"], limit=None), gzip_size


def _variant(source: bytes | Readable, encoding: str) -> bytes | None:
    if isinstance(source, bytes):
        return compress(source, encoding)
    encoder = _ENCODERS.get(encoding)
    if encoder is None:
        return compress(b"".join(source.chunks()), encoding)  # zstd: see _ENCODERS
    return _encoded(source, encoder, limit=source.size * MAX_RATIO)


def _encoded(
    source: Readable, encoder: Callable[[], _Encoder], limit: float | None
) -> bytes | None:
    """``source`` encoded from its chunks; None as soon as the output grows past ``limit``."""
    state = encoder()
    parts: list[bytes] = []
    total = 0
    chunks = source.chunks()
    try:
        for chunk in chunks:
            parts.append(state.process(chunk))
            total += len(parts[-1])
            if limit is not None and total > limit:
                return None
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # stopped early: the file is closed now, not when collected
    parts.append(state.finish())
    total += len(parts[-1])
    return None if limit is not None and total > limit else b"".join(parts)


def _encoded_size(source: Readable, encoder: Callable[[], _Encoder]) -> int:
    """The size of ``source`` encoded, counted from its chunks without keeping the bytes."""
    state = encoder()
    total = 0
    for chunk in source.chunks():
        total += len(state.process(chunk))
    return total + len(state.finish())


def _hopeless(source: bytes | Readable, size: int, gzip_size: int) -> bool:
    """True when no codec can save MAX_RATIO's 5 % on ``source`` (see GZIP_HOPELESS_RATIO)."""
    if size < PROBE_MIN_SIZE or gzip_size <= size * GZIP_HOPELESS_RATIO:
        return False
    if isinstance(source, bytes):
        import brotli

        probe = len(brotli.compress(source, quality=_PROBE_QUALITY))
    else:
        probe = _encoded_size(source, lambda: _BrotliEncoder(_PROBE_QUALITY))
    return probe > size * PROBE_HOPELESS_RATIO
