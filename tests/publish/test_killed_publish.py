"""A publish killed at each of its moments (frozen there with SIGSTOP, then SIGKILL): the bucket
serves one whole build all along, and the next publish finishes without uploading any object
a second time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from staticserve.manifest import MANIFEST_NAME, Manifest
from staticserve.upload.objects import STATE_KEY, assets_digest, hashed_objects, logical_objects

from .conftest import AzureSite, Site, compressible
from .paused_publish import MARKER_ENV

pytestmark = pytest.mark.slow

FIRST = {
    **{f"css/page{i}.css": compressible(2000 + i) for i in range(6)},
    "js/app.js": "export const a = 1;\n" * 200,
    "img/gone.svg": "<svg/>" * 100,
}
SECOND = {
    **{f"css/page{i}.css": compressible(2500 + i) for i in range(4)},  # four files changed
    "img/new.svg": "<svg><g/></svg>" * 100,  # one added
}
PAUSE_TIMEOUT = 120.0


def whole_build(site: Site, builds: dict[str, Manifest]) -> str:
    """Which build the bucket serves; every object its manifest names is there, in full."""
    live = site.live()
    name = next(n for n, m in builds.items() if assets_digest(m) == assets_digest(live))
    for key, item in hashed_objects(live, 60).items():
        answer = site.http(key)
        assert answer.status_code == 200, (name, key)
        assert len(answer.content) == item.size, (name, key)
    return name


def put_counts(site: Site) -> Counter[str]:
    """Completed uploads per object key (the store answered 200, or Azure's 201 Created)."""
    marker = site.key_path("")
    return Counter(
        r.path.removeprefix(marker)
        for r in site.proxy.taken()
        if r.method == "PUT" and r.status in (200, 201)
    )


@pytest.mark.parametrize(
    "aim",
    ["journaled", "uploading:1", "uploading:5", "switched", "replacing:2", "deleted"],
)
def test_a_killed_publish_leaves_a_whole_build_and_the_next_one_finishes(
    site: Site, aim: str
) -> None:
    killed_and_rerun(site, aim)


@pytest.mark.parametrize("aim", ["uploading:1", "replacing:2"])
def test_a_killed_publish_to_azure_leaves_a_whole_build_and_the_next_one_finishes(
    azure_site: AzureSite, aim: str
) -> None:
    """Two moments on Azurite: amid the content-addressed objects, and after two logical
    names were replaced (recognised by the asset hash they record, Azure's ETags being
    opaque)."""
    killed_and_rerun(azure_site, aim)


def killed_and_rerun(site: Site, aim: str) -> None:
    site.build(FIRST)
    site.publish(keep=1)
    first = Manifest.load(site.out)
    (site.root / "assets" / "img" / "gone.svg").unlink()
    site.build(SECOND)
    second = Manifest.load(site.out)
    builds = {"first": first, "second": second}
    site.proxy.reset()
    marker = site.root / "paused"
    command = [sys.executable, "-m", "tests.publish.paused_publish", aim, "publish", site.url]
    command += ["--output", "out", "--keep", "1", "--endpoint-url", site.endpoint, "-q"]
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, MARKER_ENV: str(marker), "PYTHONPATH": repo}
    process = subprocess.Popen(command, cwd=site.root, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + PAUSE_TIMEOUT
        while not marker.exists():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, f"the publish never reached {aim}"
            time.sleep(0.05)
        moment = marker.read_text().splitlines()[0]
        assert moment == aim.partition(":")[0]
        frozen = whole_build(site, builds)
        expected = "second" if moment in ("switched", "replacing", "deleted") else "first"
        assert frozen == expected
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        if process.stderr:
            process.stderr.close()
    assert whole_build(site, builds) == expected
    report = site.publish(keep=1)  # the rerun finishes the job
    assert whole_build(site, builds) == "second"
    counts = put_counts(site)
    uploaded_twice = {k: n for k, n in counts.items() if n > 1 and k != STATE_KEY}
    assert uploaded_twice == {}
    # every object the new build needs is there, and nothing else but the first build's
    # objects that keep=1 no longer needs has gone
    live = site.live()
    wanted = set(hashed_objects(live, 60)) | set(logical_objects(live, 60))
    assert site.stored_keys() == wanted | {MANIFEST_NAME, STATE_KEY}
    for key in logical_objects(live, 60):
        assert site.http(key).content == (site.out / key).read_bytes(), key
    assert report.changed is True
    again = site.publish(keep=1)
    assert (again.changed, again.uploaded) == (False, 0)
