"""Large files go through the build as streams: its memory does not grow with the media folder.

Files the build never rewrites (images, fonts, media, anything that is not CSS or JS) are hashed
while collect reads them once, in chunks, then copied into the output in chunks, checked
against that hash on the way; large compressible ones are compressed from chunks too. The
build runs as a subprocess here, which reports its own peak resident set size.
"""

from __future__ import annotations

import base64
import filecmp
import gzip
import hashlib
import importlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import brotli
import pytest

from staticserve.errors import BuildError
from staticserve.manifest import Manifest
from staticserve.pipeline import BuildReport
from staticserve.pipeline.output_dir import STATE_DIR

from ..conftest import check_live_build
from .conftest import write_tree

Project = Callable[..., BuildReport]
compress = importlib.import_module("staticserve.pipeline.compress")
pipeline = importlib.import_module("staticserve.pipeline")

MIB = 1024 * 1024
# The build's own peak, whatever the file's size: the interpreter and libraries (about 40 MiB
# here), a brotli encoder at quality 11 (its window and match finder, about 40 MiB) and chunks.
PEAK_LIMIT = 120 * MIB

PROJECT = Path(__file__).resolve().parents[2]

# The peak is VmHWM, the high-water mark of this interpreter's own memory. Not ru_maxrss: Linux
# carries that over from the process that started it (a vfork'd child reports the parent's
# peak, the whole pytest process's, at exec), so a long test session made it fail at random.
PEAK_SCRIPT = """
import sys
from staticserve.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    print("peak-kib", peak, file=sys.stderr)
"""


def child_env() -> dict[str, str]:
    """This environment with the project under test first on the import path."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": str(PROJECT) + (os.pathsep + path if path else "")}


def build_peak(base: Path, *args: str) -> int:
    """Run ``staticserve build ARGS`` in a fresh interpreter; return its peak RSS in bytes."""
    result = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, "build", *args, "--quiet"],
        cwd=base,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stderr.splitlines() if line.startswith("peak-kib"))
    return int(line.split()[1]) * 1024


def digests(path: Path) -> tuple[str, str]:
    sha256, sha384 = hashlib.sha256(), hashlib.sha384()
    with open(path, "rb") as file:
        while chunk := file.read(MIB):
            sha256.update(chunk)
            sha384.update(chunk)
    return sha256.hexdigest(), "sha384-" + base64.b64encode(sha384.digest()).decode()


def test_a_200_mb_video_is_hashed_and_copied_in_bounded_memory(tmp_path: Path) -> None:
    size = 200 * MIB
    video = tmp_path / "s/media/film.mp4"
    video.parent.mkdir(parents=True)
    write_tree(tmp_path / "s", {"css/site.css": "a{background:url(../media/film.mp4)}"})
    with open(video, "wb") as file:  # sparse, quick to make; a few marked blocks to copy right
        file.truncate(size)
        for offset in (0, size // 3, size - 4096):
            file.seek(offset)
            file.write(os.urandom(4096))
    peak = build_peak(tmp_path, "--source", "s", "--output", "out")
    print(f"build peak RSS with a 200 MiB video: {peak / MIB:.0f} MiB")
    out = tmp_path / "out"
    asset = Manifest.load(out).assets["media/film.mp4"]
    assert (asset.sha256, asset.integrity) == digests(video)
    assert asset.size == size
    assert filecmp.cmp(video, out / asset.path, shallow=False)
    assert peak < PEAK_LIMIT, f"peak RSS {peak / MIB:.0f} MiB for a {size / MIB:.0f} MiB file"
    assert asset.path in (out / Manifest.load(out).assets["css/site.css"].path).read_text()


@pytest.mark.slow
def test_a_large_compressible_file_is_compressed_from_chunks_in_bounded_memory(
    tmp_path: Path,
) -> None:
    size = 160 * MIB
    text = tmp_path / "s/data/log.txt"
    text.parent.mkdir(parents=True)
    line = b"2026-01-02 03:04:05 INFO request served in %04d us\n"
    with open(text, "wb") as file:
        written = 0
        while written < size:
            block = b"".join(line % (i % 9973) for i in range(20000))[: size - written]
            file.write(block)
            written += len(block)
    peak = build_peak(tmp_path, "--source", "s", "--output", "out")
    print(f"build peak RSS with a 160 MiB text file: {peak / MIB:.0f} MiB")
    manifest = check_live_build(tmp_path / "out")  # each variant decompresses to the file
    asset = manifest.assets["data/log.txt"]
    assert set(asset.encodings) == {"br", "gzip"}
    assert peak < PEAK_LIMIT, f"peak RSS {peak / MIB:.0f} MiB for a {size / MIB:.0f} MiB file"


# -- streamed compression makes the bytes in-memory compression makes -------------------------


@dataclass(frozen=True)
class Chunked:
    """Bytes handed out in chunks of ``step``, as a file read in chunks is."""

    data: bytes
    step: int

    @property
    def size(self) -> int:
        return len(self.data)

    def chunks(self) -> Iterator[bytes]:
        for start in range(0, len(self.data), self.step):
            yield self.data[start : start + self.step]


SAMPLES = {
    "text": b"".join(b"<p class='c%d'>paragraph %d</p>\n" % (i % 7, i) for i in range(30000)),
    "random": os.urandom(200_000),  # hopeless: gzip and the probe say so
    "half random": os.urandom(60_000) + bytes(60_000),
    "barely compressible": bytes(b & 0xFE for b in os.urandom(150_000)),
    "empty": b"",
}


@pytest.mark.parametrize("sample", list(SAMPLES))
@pytest.mark.parametrize("step", [1000, 65536])
def test_streamed_variants_are_byte_identical_to_in_memory_ones(
    sample: str, step: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("backports.zstd", reason="zstd extra not installed")
    data = SAMPLES[sample]
    encodings = ("br", "gzip", "zstd")
    in_memory = compress.compress_variants(data, encodings)
    monkeypatch.setattr(compress, "IN_MEMORY_LIMIT", 0)  # every source streamed
    assert compress.compress_variants(Chunked(data, step), encodings) == in_memory
    if in_memory["gzip"] is not None:
        assert gzip.decompress(in_memory["gzip"]) == data
    if in_memory["br"] is not None:
        assert brotli.decompress(in_memory["br"]) == data


def test_gzip_variants_are_the_same_bytes_on_every_python_version() -> None:
    # The header zlib writes (mtime 0, no name, OS 3), not gzip.compress's, whose OS byte
    # changed between Python versions: a rebuild with another interpreter changes nothing.
    packed = compress.compress_variants(b"x" * 1000, ("gzip",))["gzip"]
    assert packed is not None
    assert packed[:10] == bytes.fromhex("1f8b0800000000000203")


# -- a source that changes while the build runs ------------------------------------------------


def published_files(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and STATE_DIR not in p.parts
    }


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("media/clip.mp4", lambda: os.urandom(300_000)),  # copied in chunks
        ("img/pic.svg", lambda: b"<svg>" + os.urandom(8).hex().encode() * 5000 + b"</svg>"),
    ],
    ids=["copied", "compressed"],
)
def test_a_streamed_source_changed_during_the_build_is_an_error_not_wrong_bytes(
    project: Project,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    make: Callable[[], bytes],
) -> None:
    project({"a.css": "a{}", name: make()})
    out = tmp_path / "out"
    before = published_files(out)
    source = tmp_path / "assets" / name
    source.write_bytes(make())
    real = pipeline.final_as_read

    def edit_after_collect(*args: object, **kwargs: object) -> object:
        source.write_bytes(make())  # after collect hashed it, before it is read again
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "final_as_read", edit_after_collect)
    with pytest.raises(BuildError) as failure:
        project()
    message = str(failure.value)
    assert f"{name}: changed while the build ran; nothing was published" in message
    assert message.count("nothing was published") == 1
    assert "\n" not in message
    assert published_files(out) == before  # no temporary left, no file replaced
    monkeypatch.undo()
    project()
    check_live_build(out)
