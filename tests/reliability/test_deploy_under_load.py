"""New builds published while a real server is under load: no failed or wrong answer.

Client threads (see :mod:`load`) hammer the server with the hashed URLs of every build still
kept on disk, the unhashed names, compressed variants and ranges, while the main thread changes
every source file and runs ``staticserve build`` again and again. Before each build the clients
stop asking for the oldest kept build's URLs (that build is pruned by the next one, by design);
the moment ``staticserve build`` returns, the new build's hashed URLs join the pool, and the
deployer asks for each of them once itself: a page rendered by a process that already serves
the new build sends browsers to one that may not have noticed it yet (the reload interval is
long here). So every hashed URL asked for belongs to one of the last ``keep`` builds, and must
be answered.

Asserted: zero transport errors and statuses other than 200/206, zero bodies that do not match
their ETag (or the hash in their name), zero 404s on hashed URLs, and zero wrong answers to the
new build's URLs asked for right after each build returned.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from urllib.parse import quote

import pytest

from staticserve.manifest import Manifest

from .conftest import Server, Site, check_live_build, make_site, raw_request, record, run_build
from .load import Pool, Url, run_load

KEEP = 3  # the build's default


def build_urls(site: Site, manifest: Manifest) -> list[Url]:
    return [Url("/static/" + quote(a.path), True) for a in manifest.assets.values()]


def unhashed_urls(manifest: Manifest) -> list[Url]:
    return [Url("/static/" + quote(logical), False) for logical in manifest.assets]


def remember_contents(site: Site, manifest: Manifest, pool: Pool) -> None:
    for asset in manifest.assets.values():
        pool.contents[asset.sha256[:16]] = (site.out / asset.path).read_bytes()


def wrong_answers_to_new_urls(server: Server, manifest: Manifest) -> list[str]:
    """Ask once for every hashed URL of a build that was just published: what went wrong."""
    wrong = []
    for asset in manifest.assets.values():
        reply = raw_request(server.port, b"/static/" + quote(asset.path).encode())
        if reply.status != 200 or hashlib.sha256(reply.body).hexdigest() != asset.sha256:
            wrong.append(f"{asset.path}: {reply.status} {reply.body[:40]!r}")
    return wrong


def serving(server: Server, manifest: Manifest) -> bool:
    asset = manifest.assets["css/app.css"]
    reply = raw_request(server.port, b"/static/css/app.css")
    return reply.header(b"etag") == f'"{asset.sha256[:16]}"'.encode()


def deploy_under_load(site: Site, server: Server, deploys: int, clients: int) -> None:
    pool = Pool()
    first = Manifest.load(site.out)
    remember_contents(site, first, pool)
    kept = [build_urls(site, first)]  # newest last
    unhashed = unhashed_urls(first)
    pool.replace([*unhashed, *kept[-1]])
    switch_times: list[float] = []
    wrong_new: list[str] = []

    def deployer() -> None:
        time.sleep(1.0)  # let the load settle first
        for number in range(deploys):
            # The next build prunes the oldest of the kept builds: stop asking for it first.
            kept[:] = kept[-(KEEP - 1) :]
            pool.replace([*unhashed, *(url for urls in kept for url in urls)])
            time.sleep(0.2)  # requests already in flight finish
            site.write_sources(site.version + 1)
            started = time.monotonic()
            run_build(site)
            manifest = check_live_build(site.out)
            remember_contents(site, manifest, pool)
            # From the moment the build returns, its hashed URLs must be served.
            kept.append(build_urls(site, manifest))
            pool.replace([*unhashed, *(url for urls in kept for url in urls)])
            wrong_new.extend(
                f"deploy {number}: {w}" for w in wrong_answers_to_new_urls(server, manifest)
            )
            deadline = time.monotonic() + 20
            while not serving(server, manifest):
                assert time.monotonic() < deadline, f"deploy {number}: not picked up"
                time.sleep(0.02)
            switch_times.append(time.monotonic() - started)
            time.sleep(0.5)  # every kept build under load for a while

    tally = run_load(
        server.port, pool, clients=clients, seconds=30 + 8 * deploys, limit=200_000, during=deployer
    )
    label = f"deploy under load ({server.kind})"
    record(f"{label}: deploys", deploys)
    record(f"{label}: requests", tally.counts["requests"])
    record(
        f"{label}: hashed / unhashed requests", (tally.counts["hashed"], tally.counts["unhashed"])
    )
    record(f"{label}: failed requests", tally.counts["errors"])
    record(f"{label}: 404s on kept hashed URLs", tally.counts["hashed 404"])
    record(f"{label}: build to switch-over, max s", round(max(switch_times), 2))
    record(f"{label}: wrong answers to a new build's URLs", len(wrong_new))
    assert tally.errors == [], tally.errors[:10]
    assert tally.counts["hashed 404"] == 0
    assert wrong_new == [], wrong_new[:10]
    assert tally.counts["requests"] > 100 * deploys  # the load was real
    assert "Traceback" not in server.log_text(), server.log_text()[-3000:]


def test_deploys_under_load(
    tmp_path_factory: pytest.TempPathFactory, start_server: Callable[..., Server]
) -> None:
    base = tmp_path_factory.mktemp("deploy")
    site = make_site(base / "project", stray=False)
    # Polling effectively off: only requests for the new URLs can bring the new build in.
    server = start_server("uvicorn", site, reload="3600")
    deploy_under_load(site, server, deploys=2, clients=4)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["uvicorn", "gunicorn"])
def test_many_deploys_under_load(
    tmp_path_factory: pytest.TempPathFactory, start_server: Callable[..., Server], kind: str
) -> None:
    base = tmp_path_factory.mktemp("deploy")
    site = make_site(base / "project", stray=False)
    # Polling on as well: a reload the poll started races the one a request for a new URL needs.
    server = start_server(kind, site, reload="0.2")
    deploy_under_load(site, server, deploys=10, clients=6)
    run_build(site)  # and the output is still consistent afterwards
    check_live_build(site.out)
