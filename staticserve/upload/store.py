"""The bucket, through obstore: a few async operations, each error turned into one sentence.

obstore (one Rust-backed wheel, no other dependency) reaches S3 and S3-compatible stores, Google
Cloud Storage and Azure Blob Storage with the same calls, sets an object's Content-Type,
Content-Encoding and Cache-Control, writes conditionally, and deletes in batches of up to a
thousand keys per request. It is imported only here, and only when a publish runs: it is the
optional ``publish`` extra, which the middleware never needs.
"""

from __future__ import annotations

import gc
import importlib
import os
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import ConfigError, StaticServeError

if TYPE_CHECKING:
    from obstore.store import ObjectStore

__all__ = ["Bucket", "PublishError", "StaleState", "Target", "parse_target"]

# The URL schemes a publish accepts, by the service they name. Azure's aliases are those of the
# library (fsspec's ``az://`` and ``abfs[s]://``, its own ``azure://``), each followed by the
# container name; the account comes from AZURE_STORAGE_ACCOUNT_NAME.
SCHEMES = {
    "s3": "s3",
    "gs": "gcs",
    "az": "azure",
    "azure": "azure",
    "abfs": "azure",
    "abfss": "azure",
}
# Where each service's credentials come from, for the permission-denied message.
CREDENTIALS = {
    "s3": "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    "gcs": "GOOGLE_SERVICE_ACCOUNT or GOOGLE_APPLICATION_CREDENTIALS",
    "azure": "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY",
}
# The environment variables naming an endpoint, by service (the library reads them too; they
# are read here to allow plain http:// and to name the endpoint in network errors).
ENDPOINT_VARIABLES = {
    "s3": ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
    "gcs": ("GOOGLE_BASE_URL",),
    "azure": ("AZURE_STORAGE_ENDPOINT", "AZURE_ENDPOINT"),
}
EMULATOR_DEFAULT = "http://127.0.0.1:10000"  # Azurite's, when AZURE_STORAGE_USE_EMULATOR is set
# The object metadata that names the asset whose bytes a logical name holds (a C#-style
# identifier, as Azure requires of metadata names).
ASSET_METADATA = "staticserve_sha256"
CONNECT_TIMEOUT = "10s"
REQUEST_TIMEOUT = "300s"  # one object, the largest included
RETRIES = 3  # server errors and dropped connections, with exponential backoff
RETRY_WINDOW = timedelta(seconds=60)
CLOSE_GRACE = 0.1  # seconds for the dropped clients' connections to close


class PublishError(StaticServeError):
    """The publish could not finish; the bucket still serves the build it served before."""


class StaleState(PublishError):
    """Another publish changed the bucket's state while this one ran."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a build goes: ``s3://bucket/prefix`` (``gs://``, ``az://`` alike)."""

    url: str
    scheme: str
    bucket: str
    prefix: str

    @property
    def service(self) -> str:
        """``s3``, ``gcs`` or ``azure``."""
        return SCHEMES[self.scheme]

    def __str__(self) -> str:
        return self.url

    def name(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket}/{self.prefix + '/' if self.prefix else ''}{key}"


def parse_target(url: str) -> Target:
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            f"{url!r} is not a bucket URL: expected s3://BUCKET[/PREFIX], gs://BUCKET[/PREFIX] "
            "or az://CONTAINER[/PREFIX]"
        )
    prefix = parts.path.strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise ConfigError(f"{url!r}: the prefix may not contain empty, '.' or '..' parts")
    return Target(url.rstrip("/"), parts.scheme, parts.netloc, prefix)


def _check_endpoint(endpoint_url: str | None) -> None:
    """An endpoint the client library can take: without a scheme (``127.0.0.1:8333``) its
    request signing panics instead of raising an error."""
    if endpoint_url is None:
        return
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"endpoint URL {endpoint_url!r}: expected http://HOST[:PORT] or https://HOST[:PORT]"
        )


def _import_obstore() -> Any:
    try:
        import obstore
    except ImportError:
        raise ConfigError(
            "publishing needs the obstore package (Python 3.11 or later): "
            "pip install 'staticserve-assets[publish]'"
        ) from None
    return obstore


class Bucket:
    """The operations a publish makes, on ``target``; credentials, endpoint and region come
    from the usual environment variables (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``,
    ``AZURE_STORAGE_ACCOUNT_NAME``, ``AZURE_STORAGE_ENDPOINT``, ...) unless given.
    ``expires`` is the HTTP date stored as the Expires field of immutable objects (S3 keeps
    one; GCS and Azure have no such field). ``region`` is S3's alone."""

    def __init__(
        self,
        target: Target,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        expires: str | None = None,
        connections: int = 16,
    ) -> None:
        self.target = target
        self._versions: dict[str, str] = {}
        service = target.service
        if region and service != "s3":
            raise ConfigError(f"{target}: a region applies to s3:// buckets only")
        given = endpoint_url
        if endpoint_url is None:
            endpoint_url = _endpoint_from_environment(service)
        _check_endpoint(endpoint_url)
        self._obstore = _import_obstore()
        from_url = importlib.import_module("obstore.store").from_url

        config: dict[str, Any] = {}
        client: dict[str, Any] = {
            "connect_timeout": CONNECT_TIMEOUT,
            "timeout": REQUEST_TIMEOUT,
            "pool_max_idle_per_host": str(connections),
        }
        self.endpoint = endpoint_url
        if service == "s3":
            if endpoint_url:
                config["endpoint"] = endpoint_url
                config["virtual_hosted_style_request"] = False  # path-style, as MinIO & co. want
            if region:
                config["region"] = region
        elif given and service == "azure":  # the account's, e.g. Azurite's http://HOST:PORT/ACCOUNT
            config["endpoint"] = given
        elif given:
            config["base_url"] = given
        if endpoint_url and endpoint_url.startswith("http://"):
            client["allow_http"] = True
        retry = {"max_retries": RETRIES, "retry_timeout": RETRY_WINDOW}
        url = f"{target.scheme}://{target.bucket}/{target.prefix}"
        try:
            self._store: ObjectStore = from_url(
                url, config=config or None, client_options=client, retry_config=retry
            )
            self._immutable_store: ObjectStore = self._store
            if expires and service == "s3":
                dated = {**client, "default_headers": {"Expires": expires}}
                self._immutable_store = from_url(
                    url, config=config or None, client_options=dated, retry_config=retry
                )
        except Exception as exc:  # obstore's configuration errors
            raise ConfigError(f"{target}: {_first_line(exc)}") from None

    def close(self) -> None:
        """Let go of the clients and give their connections a moment to close.

        The library's connections are served by its own (Rust) threads. One still busy when the
        interpreter finalizes can abort the whole process (SIGABRT) after a publish that
        succeeded or failed alike, so the clients are dropped here, while the interpreter is
        whole, and their connection tasks given time to end.
        """
        self._store = self._immutable_store = None  # type: ignore[assignment]
        gc.collect()
        time.sleep(CLOSE_GRACE)

    async def get(self, key: str) -> tuple[bytes, str] | None:
        """The object's bytes and ETag; None when there is none."""
        try:
            result = await self._obstore.get_async(self._store, key)
            data = await result.bytes_async()
            self._remember_version(key, result.meta.get("version"))
            return bytes(data), str(result.meta.get("e_tag") or "")
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._error("read", key, exc) from None

    async def head(self, key: str) -> tuple[int, str, str] | None:
        """The object's size, ETag and :data:`ASSET_METADATA` (``""`` if it has none); None
        when there is no such object. One HEAD request."""
        try:
            result = await self._obstore.get_async(self._store, key, options={"head": True})
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._error("look up", key, exc) from None
        meta, attributes = result.meta, result.attributes
        asset = str(attributes.get(ASSET_METADATA) or "")
        return int(meta["size"]), str(meta.get("e_tag") or ""), asset

    async def put(
        self,
        key: str,
        data: bytes | Path,
        attributes: dict[str, str],
        *,
        immutable: bool = False,
        replacing: str | None = None,
        creating: bool = False,
    ) -> str:
        """Store ``data`` under ``key``; its new ETag. ``replacing``: only over the object with
        this ETag; ``creating``: only where there is none (else :class:`StaleState`)."""
        store = self._immutable_store if immutable else self._store
        mode: Any = "create" if creating else {"e_tag": replacing} if replacing else None
        if replacing and key in self._versions:  # GCS matches the generation, not the ETag
            mode["version"] = self._versions[key]
        try:
            result = await self._obstore.put_async(
                store, key, data, attributes=attributes, mode=mode
            )
        except Exception as exc:
            if type(exc).__name__ in ("PreconditionError", "AlreadyExistsError"):
                raise StaleState(
                    f"another publish changed {self.target.name(key)} while this one ran; "
                    "run this publish again once it has finished"
                ) from None
            raise self._error("upload", key, exc) from None
        self._remember_version(key, result.get("version"))
        return str(result.get("e_tag") or "")

    def _remember_version(self, key: str, version: object) -> None:
        """The object's version (GCS's generation) as last read or written: the library
        makes a conditional replacement on GCS from it, and from the ETag elsewhere."""
        if version:
            self._versions[key] = str(version)
        else:
            self._versions.pop(key, None)

    async def delete(self, keys: list[str]) -> None:
        """Delete ``keys`` (batched by the library: up to 1,000 keys a request on S3)."""
        if not keys:
            return
        try:
            await self._obstore.delete_async(self._store, keys)
        except FileNotFoundError:
            return
        except Exception as exc:
            raise self._error("delete", keys[0], exc) from None

    def _error(self, action: str, key: str, exc: BaseException) -> PublishError:
        return PublishError(f"cannot {action} {self.target.name(key)}: {self._reason(exc)}")

    def _reason(self, exc: BaseException) -> str:
        kind = type(exc).__name__
        text = str(exc)
        status = re.search(r"non-2xx status code: (\d{3}[^:]*)", text)
        code = re.search(r"<Code>([A-Za-z]+)</Code>", text)
        detail = ", ".join(x for x in (status and status.group(1), code and code.group(1)) if x)
        if kind in ("PermissionDeniedError", "UnauthenticatedError"):
            return (
                f"permission denied ({detail or kind}): check the credentials "
                f"({CREDENTIALS[self.target.service]}) and that they may write to this bucket"
            )
        if "NoSuchBucket" in text:
            return f"the bucket {self.target.bucket!r} does not exist ({detail})"
        if "ContainerNotFound" in text:
            return f"the container {self.target.bucket!r} does not exist ({detail})"
        if "error sending request" in text or ("connect" in text.lower() and not detail):
            where = self.endpoint or "the storage service"
            return f"cannot reach {where} (network error: {_network_cause(text)})"
        return detail or _first_line(exc)


def _endpoint_from_environment(service: str) -> str | None:
    for name in ENDPOINT_VARIABLES[service]:
        if os.environ.get(name):
            return os.environ[name]
    if service == "azure" and os.environ.get("AZURE_STORAGE_USE_EMULATOR", "").lower() in (
        "1",
        "true",
    ):
        return os.environ.get("AZURITE_BLOB_STORAGE_URL") or EMULATOR_DEFAULT
    return None


def _network_cause(text: str) -> str:
    for cause in ("Connection refused", "timed out", "dns error", "Connection reset", "tcp"):
        if cause.lower() in text.lower():
            return cause.lower()
    return "no answer"


def _first_line(exc: BaseException) -> str:
    line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return line[:300]
