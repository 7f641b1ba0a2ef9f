"""Large files kept in memory stay within ``memory_total``, measured on a real server process.

A build of forty 1 MiB files (40 MiB) is served with ``memory_total`` at 8 MiB by uvicorn
(ASGI, no pathsend) and gunicorn (WSGI); every file is asked for several times, the popular
ones more. The resident memory of the serving process may grow by the 8 MiB it is allowed to
hold plus allocator slack, far less than the 40 MiB that keeping every file would take.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from ..conftest import write_build
from .conftest import Server, Site, raw_request, record, rss_kib

MIB = 1024 * 1024
FILES = 40
TOTAL = 8 * MIB
SLACK = 12 * MIB  # allocator arenas, buffers in flight, the interpreter's own growth


@pytest.mark.parametrize("kind", ["uvicorn", "gunicorn"])
def test_resident_memory_stays_within_memory_total_under_many_large_files(
    start_server: Callable[..., Server], tmp_path: Path, kind: str
) -> None:
    site = Site(tmp_path / "project")  # its output written directly, without a build
    files = {f"media/f{i:02d}.bin": (random.Random(i).randbytes(MIB), ()) for i in range(FILES)}
    build = write_build(site.out, files)
    server = start_server(kind, site, memory_total=str(TOTAL))
    paths = {logical: ("/static/" + quote(build.asset(logical).path)).encode() for logical in files}
    digests = {logical: build.asset(logical).sha256 for logical in files}

    def ask(logical: str) -> None:
        reply = raw_request(server.port, paths[logical])
        assert reply.status == 200, (logical, reply.status)
        assert hashlib.sha256(reply.body).hexdigest() == digests[logical]

    names = sorted(files)
    for logical in names[:2]:  # the interpreter and the allocator warmed by 1 MiB bodies
        ask(logical)
    before = rss_kib(server.worker_pid) * 1024
    rng = random.Random(15)
    for _ in range(3):
        for logical in names:
            ask(logical)
        for _ in range(40):  # the popular few
            ask(names[min(int(rng.expovariate(0.4)), FILES - 1)])
    grown = rss_kib(server.worker_pid) * 1024 - before
    record(f"memory: RSS growth serving {FILES} x 1 MiB within 8 MiB ({kind}), MiB", grown / MIB)
    assert grown <= TOTAL + SLACK, f"{grown / MIB:.1f} MiB"
