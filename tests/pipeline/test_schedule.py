"""Scheduling the compression: largest job first whenever it arrives, each file handed over as
soon as its bytes are final, and an output that does not depend on any of it."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pytest

from staticserve.manifest import ENCODING_SUFFIXES, Manifest
from staticserve.pipeline import BuildConfig, build
from staticserve.pipeline.compress import compress_variants
from staticserve.pipeline.fingerprint import Fingerprinted, final_as_read, fingerprint
from staticserve.pipeline.schedule import LargestFirst


def test_the_largest_waiting_job_runs_next_whatever_the_order_of_submission() -> None:
    pool = LargestFirst(1, "test")
    started = threading.Event()
    release = threading.Event()
    order: list[int] = []

    def first() -> None:
        started.set()
        release.wait(30)

    pool.submit(0, first)
    assert started.wait(30)  # the one thread is busy: what follows waits
    futures = [pool.submit(cost, order.append, cost) for cost in (1, 5, 3, 10, 2, 5)]
    release.set()
    for future in futures:
        future.result(30)
    pool.shutdown(cancel=False)
    assert order == [10, 5, 5, 3, 2, 1]


def test_a_job_error_reaches_its_future_and_shutdown_drops_what_has_not_started() -> None:
    pool = LargestFirst(1, "test")
    started, release = threading.Event(), threading.Event()

    def fail() -> None:
        started.set()
        release.wait(30)
        raise ValueError("codec broke")

    failing = pool.submit(9, fail)
    assert started.wait(30)
    waiting = pool.submit(1, int, "1")
    pool_stopped = threading.Thread(target=pool.shutdown, kwargs={"cancel": True})
    pool_stopped.start()
    for _ in range(3000):  # the shutdown drops the waiting job while the first one runs
        if waiting.cancelled():
            break
        time.sleep(0.01)
    release.set()
    pool_stopped.join(30)
    with pytest.raises(ValueError, match="codec broke"):
        failing.result(30)
    assert waiting.cancelled()
    with pytest.raises(RuntimeError):
        pool.submit(1, int, "1")


def test_each_file_is_handed_over_once_as_soon_as_its_bytes_are_final() -> None:
    """Before the files that reference it (they need its name), and never twice."""
    data = {
        "a.css": b"@import 'b.css'; x{background:url(img/c.png)}",
        "b.css": b"y{background:url(img/c.png)}",
        "cycle1.css": b"@import 'cycle2.css';",
        "cycle2.css": b"@import 'cycle1.css';",
        "img/c.png": b"png",
        "plain.js": b"let x = 1;",
    }
    known = final_as_read(data, rewrite_js=True)
    handed: list[Fingerprinted] = []
    results, _ = fingerprint(data, prefix="/s/", strict=True, known=known, ready=handed.append)
    order = [item.logical for item in handed]
    assert sorted(order) == sorted(set(data) - set(known))  # all but those known, once each
    assert order.index("b.css") < order.index("a.css")
    assert abs(order.index("cycle1.css") - order.index("cycle2.css")) == 1  # as one group
    assert {item.logical: item for item in handed} == {
        item.logical: item for item in results if item.logical not in known
    }


@pytest.mark.slow
def test_the_output_does_not_depend_on_the_schedule(tmp_path: Path) -> None:
    """Django's admin built on one thread and on three: the same bytes, file for file, and each
    variant what compressing its file alone gives."""
    pytest.importorskip("django", reason="django is a test dependency: pip install -e '.[test]'")
    trees = []
    for jobs in (1, 3):
        config = BuildConfig(
            packages=("django.contrib.admin",), output=Path(f"out{jobs}"), base_dir=tmp_path
        )
        build(config, jobs=jobs)
        out = tmp_path / f"out{jobs}"
        trees.append(
            {
                p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(out.rglob("*"))
                if p.is_file() and ".staticserve" not in p.parts and p.name != "staticserve.json"
            }
        )
    assert trees[0] == trees[1]
    out = tmp_path / "out3"
    manifest = Manifest.load(out)
    assert manifest.assets == Manifest.load(tmp_path / "out1").assets
    checked = 0
    for asset in manifest.assets.values():
        if not asset.encodings:
            continue
        alone = compress_variants((out / asset.path).read_bytes(), ("br", "gzip"))
        for encoding, packed in alone.items():
            variant = out / (asset.path + ENCODING_SUFFIXES[encoding])
            assert (variant.read_bytes() if variant.exists() else None) == packed, variant
            checked += 1
    assert checked > 50
