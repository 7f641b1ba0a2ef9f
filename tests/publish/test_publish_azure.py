"""``staticserve publish az://...`` against a real Azure Blob Storage emulator (Azurite, started
by the tests): what only Azure has — its URL forms, its environment variables, its errors.
The behaviour both stores share is tested on each in ``test_publish_remote.py`` (``any_site``).
"""

from __future__ import annotations

import pytest

from staticserve.upload import PublishError
from staticserve.upload.objects import STATE_KEY

from . import azurite
from .conftest import AzureSite, compressible
from .test_publish_remote import FILES, every_key, run_cli


@pytest.mark.parametrize("scheme", ["azure", "abfs", "abfss"])
def test_the_other_azure_url_forms_reach_the_same_container(
    azure_site: AzureSite, scheme: str
) -> None:
    site = azure_site
    site.build(FILES)
    site.url = f"{scheme}://{azurite.CONTAINER}/{site.prefix}"
    report = site.publish()
    assert report.url == site.url
    assert report.uploaded == len(every_key(site))
    assert site.http("css/app.css").content == (site.out / "css/app.css").read_bytes()


def test_the_endpoint_may_come_from_azure_storage_endpoint(
    azure_site: AzureSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ENDPOINT", azure_site.endpoint)  # plain http:// too
    azure_site.build(FILES)
    report = azure_site.publish(endpoint_url=None)
    assert report.uploaded == len(every_key(azure_site))
    assert azure_site.proxy.taken()  # through the endpoint the environment named


def test_the_emulator_variables_reach_azurite_without_account_or_endpoint(
    azure_site: AzureSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AZURE_STORAGE_USE_EMULATOR: the library's own switch (the well-known account and key),
    at AZURITE_BLOB_STORAGE_URL (host and port; the account is added to the path)."""
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_NAME")
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_KEY")
    monkeypatch.setenv("AZURE_STORAGE_USE_EMULATOR", "true")
    monkeypatch.setenv("AZURITE_BLOB_STORAGE_URL", azure_site.proxy.url)
    azure_site.build(FILES)
    report = azure_site.publish(endpoint_url=None)
    assert report.uploaded == len(every_key(azure_site))
    assert azure_site.proxy.taken()


def test_a_wrong_account_key_is_one_line_naming_the_azure_variables(azure_site: AzureSite) -> None:
    site = azure_site
    site.build(FILES)
    wrong = {"AZURE_STORAGE_ACCOUNT_KEY": "d3Jvbmcta2V5LW5vdC10aGUtYWNjb3VudHM="}
    done = run_cli(site, site.url, "--output", "out", "--endpoint-url", site.endpoint, env=wrong)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"Error: cannot upload {site.url}/{STATE_KEY}: ")
    assert "permission denied (403 Forbidden" in done.stderr
    assert "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY" in done.stderr
    assert site.stored_keys() == set()


def test_azurite_down_is_one_line_and_exit_1(azure_site: AzureSite) -> None:
    from tests.ports import free_port

    site = azure_site
    site.build(FILES)
    closed = f"http://127.0.0.1:{free_port()}/{azurite.ACCOUNT}"
    done = run_cli(site, site.url, "--output", "out", "--endpoint-url", closed)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"Error: cannot read {site.url}/{STATE_KEY}: ")
    assert f"cannot reach {closed} (network error: connection refused)" in done.stderr


def test_a_missing_container_is_named(azure_site: AzureSite) -> None:
    site = azure_site
    site.build(FILES)
    site.url = f"az://no-such-container/{site.prefix}"
    with pytest.raises(PublishError, match="the container 'no-such-container' does not exist"):
        site.publish()


def test_a_region_is_refused_for_azure(azure_site: AzureSite) -> None:
    azure_site.build(FILES)
    done = run_cli(azure_site, azure_site.url, "--output", "out", "--region", "westeurope")
    assert done.returncode == 2
    assert "a region applies to s3:// buckets only" in done.stderr


def test_a_logical_names_object_records_its_assets_hash(
    azure_site: AzureSite,
) -> None:
    """Azure's ETags are opaque (not the MD5 S3 gives): a logical name's object records which
    asset's bytes it holds, so a rerun after a kill does not upload it again."""
    site = azure_site
    site.build({"a.css": compressible(3000)})
    site.publish()
    stored = site.http("a.css")
    assert stored.headers["x-ms-meta-staticserve_sha256"] == site.live().assets["a.css"].sha256
    assert "x-ms-meta-staticserve_sha256" not in site.http(site.live().assets["a.css"].path).headers
    # (test_killed_publish.py kills a publish on Azurite after it replaced two logical names)
