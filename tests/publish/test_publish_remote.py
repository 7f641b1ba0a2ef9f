"""``staticserve publish`` against a real object store (SeaweedFS, started by the tests): what
lands in the bucket, byte for byte and field for field, and how few requests it takes. The
tests on ``any_site`` run against Azure Blob Storage's emulator (Azurite) too."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import httpx
import pytest

from staticserve import StaticServe
from staticserve.manifest import ENCODING_SUFFIXES, MANIFEST_NAME, Manifest
from staticserve.upload import PublishError
from staticserve.upload.objects import STATE_KEY, hashed_objects, logical_objects

from .conftest import Fetched, Site, compressible
from .seaweed import READER

FILES = {
    "css/app.css": compressible(4000),
    "js/app.js": "export const greet = (name) => `Hello, ${name}!`;\n" * 40,
    "img/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
    "img/my logo.svg": '<svg xmlns="http://www.w3.org/2000/svg">' + "<g/>" * 300 + "</svg>",
    "fonts/icons.woff2": b"wOF2" + bytes(300),
    "robots.txt": "User-agent: *\n",
    "data/empty.txt": "",
    "fonts/ünï cödé #1?.css": "/* a hostile name */\n" * 50,
}
CODING_OF = {suffix: coding for coding, suffix in ENCODING_SUFFIXES.items()}
COMPARED = ("content-type", "cache-control", "content-encoding", "content-length")


def every_key(site: Site) -> set[str]:
    manifest = site.live()
    return set(hashed_objects(manifest, 60)) | set(logical_objects(manifest, 60))


def middleware_answer(site: Site, key: str) -> Fetched:
    """What the middleware serves for the URL whose bytes ``key`` holds: the file's URL, asked
    with the Accept-Encoding of the variant (identity for the file itself). Through the ASGI
    adapter: httpx's WSGI transport puts undecodable text in PATH_INFO (not PEP 3333's latin-1
    of the UTF-8 bytes), so it cannot ask for the hostile name."""
    app = StaticServe(None, root=site.out, prefix="/static")
    name, coding = key, "identity"
    for suffix, variant in CODING_OF.items():
        if key.endswith(suffix) and key[: -len(suffix)] in every_key(site):
            name, coding = key[: -len(suffix)], variant
    accept = {"accept-encoding": coding if coding != "identity" else ""}

    async def ask() -> Fetched:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport) as client:
            url = "http://test/static/" + quote(name)
            async with client.stream("GET", url, headers=accept) as answer:
                body = b"".join([part async for part in answer.aiter_raw()])
                return Fetched(answer.status_code, answer.headers, body)

    return asyncio.run(ask())


def http_date(value: str) -> datetime:
    return parsedate_to_datetime(value).astimezone(timezone.utc)


def test_every_object_has_the_middlewares_bytes_and_fields(any_site: Site) -> None:
    site = any_site
    site.build(FILES)
    report = site.publish()
    keys = every_key(site)
    assert report.uploaded == len(keys)
    assert report.present == 0
    # hashed names, their variants and the logical names, each an object of its own
    assert {"css/app.css", "css/app.css.br", "css/app.css.gz"} <= keys
    assert any(
        k.startswith("css/app.") and k.endswith(".css.br") and k != "css/app.css.br" for k in keys
    )
    assert site.stored_keys() == keys | {MANIFEST_NAME, STATE_KEY}  # nothing else
    for key in sorted(keys):
        stored, served = site.http(key), middleware_answer(site, key)
        assert stored.status_code == 200 == served.status_code, key
        assert stored.content == served.content, key
        assert stored.content == (site.out / key).read_bytes(), key  # as sent: br stays br
        for name in COMPARED:
            assert stored.headers.get(name) == served.headers.get(name), (key, name)
        if "immutable" in served.headers["cache-control"] and site.has_expires:
            # the same year-long Expires (the store's was fixed at upload, a moment ago)
            gap = http_date(stored.headers["expires"]) - http_date(served.headers["expires"])
            assert abs(gap.total_seconds()) < 300, key
        elif "immutable" in served.headers["cache-control"]:
            assert "expires" not in stored.headers, key  # Azure has no such property
        else:
            assert "expires" not in stored.headers, key
            assert "expires" not in served.headers, key


def test_text_types_carry_their_charset_and_variants_their_coding(any_site: Site) -> None:
    site = any_site
    site.build(FILES)
    site.publish()
    assert site.http("css/app.css").headers["content-type"] == "text/css; charset=utf-8"
    assert site.http("css/app.css.br").headers["content-encoding"] == "br"
    assert site.http("css/app.css.gz").headers["content-encoding"] == "gzip"
    assert site.http("css/app.css").headers["cache-control"] == "public, max-age=60"
    hashed_path = site.live().assets["css/app.css"].path
    hashed = site.http(hashed_path + ".br")
    assert hashed.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert hashed.headers["content-type"] == "text/css; charset=utf-8"
    assert site.http("img/my logo.svg").headers["content-type"] == "image/svg+xml"


def test_a_no_op_publish_reads_one_small_object(any_site: Site) -> None:
    site = any_site
    site.build(FILES)
    site.publish()
    site.proxy.reset()
    report = site.publish()
    requests = site.proxy.taken()
    assert [(r.method, r.path) for r in requests] == [("GET", site.key_path(STATE_KEY))]
    assert (report.changed, report.uploaded, report.deleted) == (False, 0, 0)
    assert report.present == len(every_key(site))


def test_a_second_build_uploads_only_what_changed_then_the_manifest(any_site: Site) -> None:
    site = any_site
    site.build(FILES)
    site.publish()
    first = site.live()
    site.build({"css/app.css": compressible(4100)})
    site.proxy.reset()
    report = site.publish()
    base = site.key_path("")
    puts = [r.path.removeprefix(base) for r in site.proxy.taken() if r.method == "PUT"]
    new = site.live().assets["css/app.css"].path
    content = [new, new + ".br", new + ".gz"]
    logical = ["css/app.css", "css/app.css.br", "css/app.css.gz"]
    # the state (pending), the new files, the manifest, the logical names, the state (done)
    assert puts[0] == STATE_KEY
    assert puts[-1] == STATE_KEY
    assert sorted(puts[1:4]) == sorted(content)
    assert puts[4] == MANIFEST_NAME
    assert sorted(puts[5:8]) == sorted(logical)
    assert len(puts) == 9
    assert report.uploaded == 6
    assert report.present == len(every_key(site)) - 6
    # the first build's file stays for the pages that still ask for it
    old = first.assets["css/app.css"].path
    assert old in site.live().retained
    assert site.http(old).status_code == 200
    assert site.live().generation == 2


def test_retention_deletes_what_only_builds_past_keep_used(any_site: Site) -> None:
    site = any_site
    paths = []
    for version in range(4):
        site.build({"a.css": compressible(3000 + version)})
        report = site.publish(keep=2)
        paths.append(site.live().assets["a.css"].path)
        assert report.deleted == (3 if version >= 2 else 0)  # a hashed file and its variants
    assert set(site.live().retained) == {paths[2]}
    assert site.http(paths[1]).status_code == 404
    assert site.http(paths[0] + ".br").status_code == 404
    assert site.http(paths[2] + ".gz").status_code == 200
    assert {k for k in site.stored_keys() if k.startswith("a.")} == {
        p + s for p in [*paths[2:], "a.css"] for s in ("", ".br", ".gz")
    }


def _age_bucket(site: Site, seconds: int) -> None:
    """The bucket as a publish ``seconds`` ago would have left it: every recorded time moved
    back (written as the publisher, over the live manifest and state)."""
    import obstore

    bucket = site.publisher_bucket()
    manifest = json.loads(bytes(obstore.get(bucket, MANIFEST_NAME).bytes()))
    for generation, moment in manifest.get("superseded", {}).items():
        when = datetime.strptime(moment, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        manifest["superseded"][generation] = datetime.fromtimestamp(
            when.timestamp() - seconds, timezone.utc
        ).strftime("%Y-%m-%dT%H:%M:%SZ")
    obstore.put(bucket, MANIFEST_NAME, json.dumps(manifest).encode())
    state = json.loads(bytes(obstore.get(bucket, STATE_KEY).bytes()))
    if state["prune_at"] is not None:
        state["prune_at"] -= seconds
    obstore.put(bucket, STATE_KEY, json.dumps(state).encode())


def test_keep_age_keeps_a_burst_of_builds_and_lets_them_go_when_old(any_site: Site) -> None:
    site = any_site
    paths = []
    for version in range(4):  # a burst of deploys, faster than keep=1 could follow
        site.build({"a.css": compressible(3000 + version)})
        site.publish(keep=1, keep_age="1h")
        paths.append(site.live().assets["a.css"].path)
    assert set(site.live().retained) == set(paths[:3])
    assert all(site.http(p).status_code == 200 for p in paths)
    site.proxy.reset()
    assert site.publish(keep=1, keep_age="1h").changed is False  # young: one GET, nothing due
    assert len(site.proxy.taken()) == 1
    _age_bucket(site, 2 * 3600)
    report = site.publish(keep=1, keep_age="1h")  # nothing new to upload; the old builds go
    assert (report.uploaded, report.deleted) == (0, 9)
    assert site.live().retained == {}
    assert site.live().generation == 4
    assert all(site.http(p).status_code == 404 for p in paths[:3])
    assert site.http(paths[3]).status_code == 200


def test_the_endpoint_may_come_from_the_environment(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: AWS_ENDPOINT_URL with http:// failed ("builder error": plain HTTP refused)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", site.proxy.url)
    site.build(FILES)
    report = site.publish(endpoint_url=None)
    assert report.uploaded == len(every_key(site))
    assert site.proxy.taken()  # through the endpoint the environment named


def test_a_dry_run_reads_and_reports_but_writes_nothing(any_site: Site) -> None:
    site = any_site
    site.build(FILES)
    report = site.publish(dry_run=True)
    assert site.proxy.methods(site.proxy.taken()) == {"GET": 2}  # the state, the manifest
    assert report.dry_run
    assert set(report.planned) == every_key_of_build(site)
    assert report.uploaded == 0
    assert report.uploaded_bytes > 0
    assert site.stored_keys() == set()


def every_key_of_build(site: Site) -> set[str]:
    manifest = Manifest.load(site.out)
    return set(hashed_objects(manifest, 60)) | set(logical_objects(manifest, 60))


# -- the command: --json, exit codes, one-line errors ---------------------------------------------


def run_cli(
    site: Site, *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "staticserve", "publish", *arguments],
        cwd=site.root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_prints_a_summary_and_json(any_site: Site) -> None:
    site = any_site
    site.build(FILES)
    count = len(every_key_of_build(site))
    plan = run_cli(site, site.url, "--output", "out", "--endpoint-url", site.endpoint, "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.startswith(f"Would upload {count} objects (")
    assert site.stored_keys() == set()
    done = run_cli(site, site.url, "--output", "out", "--endpoint-url", site.endpoint)
    assert done.returncode == 0, done.stderr
    assert f"uploaded {count} objects" in done.stdout
    assert "0 already there; deleted 0" in done.stdout
    again = run_cli(site, site.url, "--output", "out", "--endpoint-url", site.endpoint, "--json")
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    dry = run_cli(site, site.url, "--output", "out", "--endpoint-url", site.endpoint, "--dry-run")
    assert dry.stdout.startswith(f"Up to date (dry run): {site.url} serves this build")
    assert (data["changed"], data["uploaded"], data["already_there"]) == (False, 0, count)
    assert data["url"] == site.url
    assert data["generation"] == 1


def test_a_store_that_is_down_is_one_line_and_exit_1(site: Site) -> None:
    from tests.ports import free_port

    site.build(FILES)
    closed = f"http://127.0.0.1:{free_port()}"
    done = run_cli(site, site.url, "--output", "out", "--endpoint-url", closed)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"Error: cannot read {site.url}/.staticserve/publish.json: ")
    assert f"cannot reach {closed} (network error: connection refused)" in done.stderr


def test_credentials_that_may_not_write_are_one_line_and_nothing_is_published(site: Site) -> None:
    site.build(FILES)
    keys = {"AWS_ACCESS_KEY_ID": READER[0], "AWS_SECRET_ACCESS_KEY": READER[1]}
    # Regression: one such run in four ended in SIGABRT (-6) once the message was out, the
    # library's connection threads still running while the interpreter finalized.
    for _ in range(6):
        done = run_cli(site, site.url, "--output", "out", "--endpoint-url", site.endpoint, env=keys)
        assert done.returncode == 1, (done.returncode, done.stderr)
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert "permission denied (403 Forbidden, AccessDenied)" in done.stderr
    assert site.stored_keys() == set()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["http://bucket/x"], "is not a bucket URL: expected s3://BUCKET[/PREFIX]"),
        (["s3://bucket/a/../b"], "the prefix may not contain empty, '.' or '..' parts"),
        (["s3://bucket", "--keep-age", "soon"], "keep_age: must be a duration"),
        # Regression: an endpoint without its scheme made the library's signing panic (a Rust
        # backtrace on stderr, "rust future panicked", exit 1).
        (
            ["s3://bucket", "--endpoint-url", "127.0.0.1:9"],
            "endpoint URL '127.0.0.1:9': expected http://HOST[:PORT]",
        ),
    ],
)
def test_usage_errors_exit_2(site: Site, arguments: list[str], message: str) -> None:
    site.build(FILES)
    done = run_cli(site, *arguments, "--output", "out")
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1


def test_a_file_changed_since_the_build_is_refused_before_anything_is_written(
    any_site: Site,
) -> None:
    site = any_site
    site.build(FILES)
    css = site.out / Manifest.load(site.out).assets["css/app.css"].path
    css.write_text("tampered")
    with pytest.raises(PublishError, match="does not hold the bytes the manifest records"):
        site.publish()
    assert site.stored_keys() == set()


@pytest.mark.slow
def test_a_2500_file_build_republished_costs_one_request_and_one_change_seven(
    site: Site,
) -> None:
    files = {f"lib/part{i // 100}/file{i}.js": f"export const n{i} = {i};\n" for i in range(2500)}
    site.build(files, encodings=())
    first = site.publish()
    assert first.uploaded == 5000  # each file by its hashed and by its logical name
    site.proxy.reset()
    again = site.publish()
    assert (again.changed, again.present) == (False, 5000)
    assert len(site.proxy.taken()) == 1  # the state object: no listing, no HEAD per object
    site.build({"lib/part0/file0.js": "export const n0 = -1;\n"}, encodings=())
    site.proxy.reset()
    changed = site.publish()
    requests = site.proxy.taken()
    assert site.proxy.methods(requests) == {"GET": 2, "PUT": 5}
    assert (changed.uploaded, changed.present) == (2, 4999)  # 4,998 + the retained old file


def test_two_publishes_at_once_do_not_mix_the_second_to_write_its_state_stops(
    any_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state is replaced only over the version a publish read: one that read it before
    another publish replaced it stops with one sentence, and the bucket keeps that build."""
    site = any_site
    from staticserve.upload import store

    site.build(FILES)
    site.publish()
    read_before = site.http(STATE_KEY)  # what a slower publish read, with its ETag
    site.build({"css/app.css": compressible(4200)})
    site.publish()  # the other publish, finished first
    winner = site.live()
    get = store.Bucket.get

    async def stale_get(self: store.Bucket, key: str) -> tuple[bytes, str] | None:
        if key == STATE_KEY:
            return read_before.content, read_before.headers["etag"]
        return await get(self, key)

    monkeypatch.setattr(store.Bucket, "get", stale_get)
    site.build({"css/app.css": compressible(4300)})
    with pytest.raises(PublishError, match=r"another publish changed .* while this one ran"):
        site.publish()
    assert site.live() == winner


def test_a_file_larger_than_the_streaming_threshold_is_uploaded_whole(site: Site) -> None:
    import random

    big = random.Random(7).randbytes(9 * 1024 * 1024)  # random: no variant is kept
    site.build({"media/clip.mp4": big})
    site.publish()
    path = site.live().assets["media/clip.mp4"].path
    stored = site.http(path)
    assert stored.content == big
    assert stored.headers["content-type"] == "video/mp4"
    assert site.http("media/clip.mp4").content == big


def test_a_publish_stopped_midway_leaves_no_upload_unawaited(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first failed upload cancels the uploads still waiting for a connection. Regression:
    each of those had its request made before it waited, and every one dropped printed
    "RuntimeWarning: coroutine 'Bucket.put' was never awaited" after the one-line error (and
    after "Interrupted" on Ctrl-C)."""
    import gc
    import warnings

    from staticserve.upload import store

    site.build(FILES)
    put = store.Bucket.put

    async def failing_put(self: store.Bucket, key: str, *args: object, **kwargs: object) -> str:
        if key.startswith("img/"):
            raise PublishError(f"cannot upload {key}: refused")
        return await put(self, key, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store.Bucket, "put", failing_put)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(PublishError, match="cannot upload img/"):
            site.publish(connections=1)
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []


def test_a_publish_overtaken_before_its_switch_does_not_put_its_manifest_up(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two publishes at once, the slower one held just before it switches the manifest while
    the other runs from start to end (deleting, as keys no build of its own needs, the objects
    the slower one had uploaded). Regression: the slower one then put its manifest up
    regardless, and the bucket served a build whose new files were gone."""
    import shutil
    import threading

    import staticserve
    from staticserve.upload import store

    site.build(FILES)
    site.publish()
    site.build({"css/app.css": compressible(4400), "js/extra.js": "export const x = 1;\n" * 80})
    slower_out = site.root / "out-slower"
    shutil.copytree(site.out, slower_out)
    site.build({"css/app.css": compressible(4500), "js/extra.js": "export const y = 2;\n" * 80})
    held, release = threading.Event(), threading.Event()
    put = store.Bucket.put

    async def holding_put(self: store.Bucket, key: str, *args: object, **kwargs: object) -> str:
        if key == MANIFEST_NAME and threading.current_thread().name == "slower":
            held.set()
            await asyncio.to_thread(release.wait, 60)
        return await put(self, key, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store.Bucket, "put", holding_put)
    failures: list[BaseException] = []

    def slower() -> None:
        try:
            staticserve.publish(site.url, output=slower_out, endpoint_url=site.proxy.url)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=slower, name="slower")
    thread.start()
    try:
        assert held.wait(60)
        site.publish()  # the faster one, from start to end
        faster = site.live()
    finally:
        release.set()
        thread.join(60)
    assert [type(f) for f in failures] == [store.StaleState], failures
    assert site.live() == faster
    assert every_key(site) <= site.stored_keys()
