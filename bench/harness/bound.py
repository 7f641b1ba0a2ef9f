"""The compression-only lower bound of a build: copy every file, and gzip -9 and brotli -q11 each
file staticserve compresses, on ``jobs`` processes, largest file first. No hashing, no
rewriting, no manifest, no fsync: only the work no build of these files can skip.

    python -m harness.bound SOURCE DEST JOBS
"""

from __future__ import annotations

import multiprocessing
import shutil
import sys
import zlib
from pathlib import Path

import brotli

from staticserve.pipeline.compress import worth_compressing


def _one(job: tuple[Path, Path, str]) -> None:
    source, dest, name = job
    target = dest / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / name, target)
    if not worth_compressing(name, (source / name).stat().st_size, 0):
        return
    data = (source / name).read_bytes()
    gzip = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip -9 -n
    target.with_name(target.name + ".gz").write_bytes(gzip.compress(data) + gzip.flush())
    target.with_name(target.name + ".br").write_bytes(brotli.compress(data, quality=11))


def main(source: Path, dest: Path, jobs: int) -> None:
    files = [p for p in source.rglob("*") if p.is_file()]
    files.sort(key=lambda p: -p.stat().st_size)  # largest first: the cores finish together
    work = [(source, dest, p.relative_to(source).as_posix()) for p in files]
    pool = multiprocessing.get_context("fork").Pool(jobs)
    for _ in pool.imap_unordered(_one, work, chunksize=1):
        pass
    pool.close()
    pool.join()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
