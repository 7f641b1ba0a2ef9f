"""A real Azure Blob Storage emulator (Azurite, Microsoft's, from npm) on 127.0.0.1.

Installed with npm into ``.cache/azurite`` of the repository (git-ignored), pinned: 3.35.0 is
the last release that runs on Node 18 and 20 (Debian 12's and this machine's; 3.36 wants 21,
3.37 wants 22). ``.ci/run`` installs it with ``python3 -m tests.publish.azurite install``; a
test session installs it on first use when npm is there. Started once per session with its
blob service only, telemetry off, on a free port; the container ``site`` is created with
anonymous read access to its blobs, so that tests fetch objects over plain HTTP as a CDN would.
The account is Azurite's well-known development account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import httpx

from ..ports import start_on_free_port, wait_listening

__all__ = ["ACCOUNT", "ACCOUNT_KEY", "CONTAINER", "Azurite", "azurite_binary", "running_azurite"]

VERSION = "3.35.0"
INSTALL_DIR = Path(__file__).resolve().parents[2] / ".cache" / "azurite"
# Azurite's published development account (the same in every copy; not a secret).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
CONTAINER = "site"
START_TIMEOUT = 60.0
STOP_GRACE = 5.0
API_VERSION = "2021-08-06"


@dataclass(frozen=True)
class Azurite:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def endpoint(self) -> str:
        """The account's blob endpoint (path-style, as the emulator serves it)."""
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    def url(self, key: str) -> str:
        """The anonymous HTTP URL of an object of the test container."""
        return f"{self.endpoint}/{CONTAINER}/{key}"


def azurite_binary() -> Path | None:
    """The pinned Azurite's blob service command, if that version is installed."""
    binary = INSTALL_DIR / "node_modules" / ".bin" / "azurite-blob"
    package = INSTALL_DIR / "node_modules" / "azurite" / "package.json"
    try:
        installed = json.loads(package.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None
    return binary if installed == VERSION and binary.exists() else None


def install() -> Path | None:
    """npm install the pinned Azurite into :data:`INSTALL_DIR`; None without npm."""
    npm = shutil.which("npm")
    if npm is None:
        return None
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--prefix", str(INSTALL_DIR), f"azurite@{VERSION}"]
    command += ["--no-audit", "--no-fund", "--omit=dev", "--loglevel=error"]
    subprocess.run(command, check=True, timeout=600)
    return azurite_binary()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def shared_key_request(
    method: str, endpoint: str, path: str, query: dict[str, str], headers: dict[str, str]
) -> httpx.Response:
    """A request signed with the account key (Azure's Shared Key scheme, path-style URL), for
    what the library cannot do: creating the container."""
    headers = {**headers, "x-ms-date": formatdate(usegmt=True), "x-ms-version": API_VERSION}
    canonical_headers = "".join(
        f"{name}:{value}\n"
        for name, value in sorted((k.lower(), v) for k, v in headers.items())
        if name.startswith("x-ms-")
    )
    resource = f"/{ACCOUNT}/{ACCOUNT}{path}" + "".join(
        f"\n{name}:{value}" for name, value in sorted(query.items())
    )
    # VERB, then eleven standard fields (all empty here), the x-ms- fields, the resource
    text = method + "\n" * 12 + canonical_headers + resource
    mac = hmac.new(base64.b64decode(ACCOUNT_KEY), text.encode(), hashlib.sha256).digest()
    headers["Authorization"] = f"SharedKey {ACCOUNT}:{base64.b64encode(mac).decode()}"
    return httpx.request(method, f"{endpoint}{path}", params=query, headers=headers, timeout=10)


@contextmanager
def running_azurite(folder: Path) -> Iterator[Azurite]:
    """Azurite's blob service with the container ``site`` created, stopped on exit."""
    binary = azurite_binary()
    assert binary is not None

    def start(port: int) -> Azurite:
        data = folder / f"data-{port}"
        data.mkdir(parents=True)
        log = folder / f"azurite-{port}.log"
        command = [str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port)]
        command += ["--location", str(data), "--skipApiVersionCheck", "--loose"]
        command += ["--disableTelemetry"]
        with open(log, "wb") as sink:
            process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, cwd=folder)
        running = Azurite(port, process, log)
        try:
            wait_listening(process, port, timeout=START_TIMEOUT, log=log)
            created = shared_key_request(
                "PUT",
                running.endpoint,
                f"/{CONTAINER}",
                {"restype": "container"},
                {"x-ms-blob-public-access": "blob"},  # anonymous reads of its blobs
            )
            assert created.status_code == 201, (created.status_code, created.text)
        except BaseException:
            _stop(process)
            raise
        return running

    azurite = start_on_free_port(start)
    try:
        yield azurite
    finally:
        _stop(azurite.process)


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        raise SystemExit("usage: python3 -m tests.publish.azurite install")
    if azurite_binary() is None and install() is None:
        raise SystemExit("npm is not installed")
    print(f"Azurite {VERSION}: {azurite_binary()}")
