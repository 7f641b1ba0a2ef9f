"""A shared cache in front of the bucket (Varnish from Debian, with docs/varnish.vcl) keeps br,
gzip and identity clients apart: each gets its own variant object, cached on its own."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from staticserve.manifest import MANIFEST_NAME, Manifest

from ..ports import start_on_free_port, wait_listening
from .conftest import Site, compressible, fetch
from .seaweed import BUCKET, Store

VCL = Path(__file__).resolve().parents[2] / "docs" / "varnish.vcl"
FILES = {
    "css/app.css": compressible(5000),
    "js/app.js": "export const answer = 42;\n" * 100,
    "img/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
}
CLIENTS = {"br": "gzip, deflate, br", "gzip": "gzip, deflate", "identity": ""}


def vcl_for(store: Store, prefix: str, port: int | None = None) -> str:
    """The shipped VCL with its two marked lines pointed at this store (or ``port``) and
    prefix."""
    text = VCL.read_text()
    assert text.count("<- change") == 2
    text = text.replace('.port = "8333";', f'.port = "{port or store.port}";')
    return text.replace('"/site/static/"', f'"/{BUCKET}/{prefix}/"')


@pytest.fixture
def varnish(site: Site) -> Iterator[str]:
    with running_varnish(site, site.store.port) as url:
        yield url


@contextmanager
def running_varnish(site: Site, backend_port: int) -> Iterator[str]:
    binary = shutil.which("varnishd") or "/usr/sbin/varnishd"
    if not Path(binary).exists():
        reason = "Varnish is not installed (apt-get install varnish)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    (site.root / "varnish.vcl").write_text(vcl_for(site.store, site.prefix, backend_port))

    def start(port: int) -> tuple[subprocess.Popen[bytes], int]:
        log = site.root / f"varnish-{port}.log"
        with open(log, "wb") as sink:
            command = [binary, "-F", "-f", str(site.root / "varnish.vcl")]
            command += ["-a", f"127.0.0.1:{port}", "-n", str(site.root / "varnish"), "-j", "none"]
            command += ["-p", "http_gzip_support=off", "-s", "malloc,32m"]
            process = subprocess.Popen(
                command,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_listening(process, port, timeout=60, log=log)
        except BaseException:
            process.kill()
            process.wait()
            raise
        return process, port

    process, port = start_on_free_port(start)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def through(cache: str, path: str, accept: str) -> tuple[int, httpx.Headers, bytes]:
    deadline = time.monotonic() + 10
    while True:
        answer = fetch(httpx.Client(), cache + path, {"accept-encoding": accept})
        if answer.status_code != 503 or time.monotonic() > deadline:  # the child starting
            return answer.status_code, answer.headers, answer.content
        time.sleep(0.1)


def test_each_client_gets_its_own_variant_and_the_cache_keeps_them_apart(
    site: Site, varnish: str
) -> None:
    site.build(FILES)
    site.publish()
    manifest = Manifest.load(site.out)
    names = []
    for logical, asset in manifest.assets.items():
        names += [logical, asset.path]
    # Two rounds, the clients in turn: the first fills the cache, the second is served from it.
    for round_ in ("miss", "hit"):
        for name in names:
            asset = manifest.assets.get(name) or next(
                a for a in manifest.assets.values() if a.path == name
            )
            for coding, accept in CLIENTS.items():
                status, headers, body = through(varnish, "/static/" + name, accept)
                kept = coding in asset.encodings
                suffix = {"br": ".br", "gzip": ".gz"}.get(coding, "") if kept else ""
                assert status == 200, (name, coding)
                assert body == (site.out / (name + suffix)).read_bytes(), (name, coding, round_)
                assert headers.get("content-encoding") == (coding if kept else None)
                assert headers["vary"] == "Accept-Encoding"
                assert headers["x-cache"] == round_, (name, coding)
    # the compressed CSS really has both variants, so the test above told them apart
    assert set(manifest.assets["css/app.css"].encodings) == {"br", "gzip"}


def test_a_refused_coding_is_not_sent_and_the_bucket_records_are_not_served(
    site: Site, varnish: str
) -> None:
    site.build(FILES)
    site.publish()
    status, headers, body = through(varnish, "/static/css/app.css", "br;q=0, gzip;q=0")
    assert (status, headers.get("content-encoding")) == (200, None)
    assert body == (site.out / "css/app.css").read_bytes()
    status, headers, _ = through(varnish, "/static/css/app.css", "br;q=0, gzip")
    assert headers.get("content-encoding") == "gzip"
    assert through(varnish, "/static/" + MANIFEST_NAME, "")[0] == 404
    assert through(varnish, "/static/.staticserve/publish.json", "")[0] == 404
    # Regression: spellings that the store decodes to the records passed the URL check.
    for spelling in (
        "/static/staticserve%2Ejson",
        "/static/%73taticserve.json",
        "/static//staticserve.json",
        "/static/%2Estaticserve/publish.json",
    ):
        assert through(varnish, spelling, "")[0] == 404, spelling
        assert through(varnish, spelling, "gzip, br")[0] == 404, spelling


@contextmanager
def aws_like_front(store: Store) -> Iterator[int]:
    """The store as AWS S3 answers an anonymous reader that may not list the bucket (the usual
    public-read bucket policy, s3:GetObject only): 403 AccessDenied for a key that is not
    there, where SeaweedFS says 404."""

    class Front(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer = httpx.get(store.endpoint + self.path, timeout=30)
            status, body = answer.status_code, answer.content
            if status == 404:
                status, body = 403, b"<Error><Code>AccessDenied</Code></Error>"
            self.send_response(status)
            for name in ("content-type", "content-encoding", "cache-control", "etag"):
                if name in answer.headers and answer.status_code == 200:
                    self.send_header(name, answer.headers[name])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Front)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_missing_variant_answered_403_as_s3_does_falls_back_to_the_identity_object(
    site: Site,
) -> None:
    """Regression: the VCL fell back only on 404, so behind AWS S3 every br or gzip client got
    403 for each image and for each file too small to compress."""
    site.build(FILES)
    site.publish()
    assert "br" not in Manifest.load(site.out).assets["img/logo.png"].encodings
    with aws_like_front(site.store) as port, running_varnish(site, port) as cache:
        for accept in CLIENTS.values():
            status, headers, body = through(cache, "/static/img/logo.png", accept)
            assert (status, headers.get("content-encoding")) == (200, None), accept
            assert body == (site.out / "img/logo.png").read_bytes()
        status, headers, _ = through(cache, "/static/css/app.css", "br")
        assert (status, headers.get("content-encoding")) == (200, "br")
        assert through(cache, "/static/css/nothing.css", "br")[0] == 403
