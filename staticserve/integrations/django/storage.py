"""``ManifestStorage``: Django's staticfiles storage, answered from staticserve's build.

``settings.py``::

    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "staticserve.integrations.django.ManifestStorage"},
    }

``url()`` -- what ``{% static %}``, ``static()``, ``form.media`` and ``ModelAdmin.Media`` call
-- gives the hashed URL of the build that is in ``STATIC_ROOT`` now (a newly published one
shows without a restart), under ``STATIC_URL``, which may be a CDN's full URL; a ``?query`` or
``#fragment`` is kept. In development mode (``DEBUG``, or ``STATICSERVE["dev"]``) it gives the
logical URL. A name the build does not hold is a ``ValueError`` naming it, as with Django's
``ManifestStaticFilesStorage``, unless ``OPTIONS = {"manifest_strict": False}``: then the
logical URL. The other ``OPTIONS`` are the build's settings (``encodings``, ``keep``, ...).

``collectstatic`` builds: the integration's command hands the finders' files to
:meth:`ManifestStorage.build`. Under Django's own command (the integration listed after
``django.contrib.staticfiles``) the storage still writes no plain copy: ``save()`` writes
nothing and ``post_process()`` builds from the files collectstatic found.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any

from django.contrib.staticfiles.storage import StaticFilesStorage
from django.core.exceptions import ImproperlyConfigured
from django.utils.encoding import filepath_to_uri

from ... import BuildConfig, ListedFile, StaticServeError
from ... import build as build_assets
from ...catalog import Catalog
from ...errors import ConfigError, ManifestError
from ...manifest import MANIFEST_NAME, Manifest, split_reference
from ...options import ServeOptions
from .finders import FoundFile, found_file
from .serving import serving_middleware

if TYPE_CHECKING:
    from ... import BuildReport

__all__ = ["BUILD_OPTIONS", "ManifestStorage"]

# The build settings a project may give in STORAGES["staticfiles"]["OPTIONS"]. The sources,
# the output and the prefix come from Django: the finders, STATIC_ROOT and STATIC_URL.
BUILD_OPTIONS = ("encodings", "fingerprinted", "jobs", "keep", "min_size", "rewrite_js", "strict")
_STORAGE_OPTIONS = ("file_permissions_mode", "directory_permissions_mode", "allow_overwrite")
_RETRY_SECONDS = 1.0  # before the first build: how often url() looks for one
_OPTIONS = 'STORAGES["staticfiles"]["OPTIONS"]'


class ManifestStorage(StaticFilesStorage):  # type: ignore[misc]  # django is untyped
    """The ``staticfiles`` storage of a project served by staticserve (see the module)."""

    manifest_strict = True  # as Django's ManifestFilesMixin: a subclass may set it

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        base_url: str | None = None,
        *,
        manifest_strict: bool | None = None,
        **options: Any,
    ) -> None:
        self.check_options(manifest_strict=manifest_strict, **options)
        if manifest_strict is not None:
            self.manifest_strict = manifest_strict
        self.build_options = {k: v for k, v in options.items() if k in BUILD_OPTIONS}
        storage_options = {k: v for k, v in options.items() if k in _STORAGE_OPTIONS}
        super().__init__(location, base_url, **storage_options)
        self._root = Path(self.location).absolute() if self.location else None
        self._own: Catalog | None = None  # STATIC_ROOT's build, when no middleware serves it
        self._next_look = -1.0
        self._lock = threading.Lock()
        self._clear_requested = False

    @staticmethod
    def check_options(**options: Any) -> None:
        """Raise ImproperlyConfigured naming the first unknown or invalid ``OPTIONS`` entry."""
        unknown = sorted(set(options) - {"manifest_strict", *BUILD_OPTIONS, *_STORAGE_OPTIONS})
        if unknown:
            known = ", ".join(sorted(("manifest_strict", *BUILD_OPTIONS, *_STORAGE_OPTIONS)))
            raise ImproperlyConfigured(f"{_OPTIONS}: unknown option {unknown[0]!r} ({known})")
        strict = options.get("manifest_strict")
        if strict is not None and not isinstance(strict, bool):
            raise ImproperlyConfigured(f"{_OPTIONS}: manifest_strict must be True or False")
        try:  # checked now, as the build will check them
            BuildConfig(**{k: v for k, v in options.items() if k in BUILD_OPTIONS})
        except ConfigError as exc:
            raise ImproperlyConfigured(f"{_OPTIONS}: {exc}") from None

    # -- URLs ---------------------------------------------------------------------------------

    def url(self, name: str | None, force: bool = False) -> str:
        """The URL of ``name``: hashed from the current build (logical in development mode,
        unless ``force``), with its ``?query`` and ``#fragment``."""
        if name is None or (not force and self._development()):
            return self._logical_url(name)
        path = split_reference(name)[0]
        if not path or path.endswith("/"):  # a folder: never hashed, as in Django
            return self._logical_url(name)
        catalog = self._catalog()
        if catalog is not None:
            for candidate in dict.fromkeys((name, _unquoted(name))):
                try:
                    hashed = catalog.static_url(candidate)
                except KeyError:
                    continue
                # Under the catalog's url_base (a CDN) when it has one, else under its mount.
                base = catalog.options.url_base or catalog.options.mount
                return str(self.base_url) + hashed[len(base) :]
        if self.manifest_strict:
            raise ValueError(self._missing(path, catalog))
        return self._logical_url(name)

    def _logical_url(self, name: str | None) -> str:
        if name is None:
            return str(super().url(name))
        logical, suffix = split_reference(name)
        return str(self.base_url) + str(filepath_to_uri(logical)) + suffix

    def _missing(self, path: str, catalog: Catalog | None) -> str:
        fallback = f"set {_OPTIONS} = {{'manifest_strict': False}} to link its unhashed URL"
        if catalog is None:
            return (
                f"Missing staticfiles manifest entry for {path!r}: there is no staticserve "
                f"build in STATIC_ROOT ({self.location}) yet; run `manage.py collectstatic`, "
                f"or {fallback}"
            )
        return (
            f"Missing staticfiles manifest entry for {path!r}: the build in {catalog.root} has "
            "no such file; is it in an app's static/ folder or in STATICFILES_DIRS, and has "
            f"`manage.py collectstatic` run since it was added? Or {fallback}"
        )

    def _development(self) -> bool:
        """Development mode: the serving middleware's, else ``STATICSERVE["dev"]``, else DEBUG."""
        from django.conf import settings

        middleware = serving_middleware()
        if middleware is not None:
            return middleware.dev
        options = getattr(settings, "STATICSERVE", None)
        if isinstance(options, Mapping) and options.get("dev") is not None:
            return bool(options["dev"])
        return bool(settings.DEBUG)

    def _catalog(self) -> Catalog | None:
        """The catalog of STATIC_ROOT's build: the serving middleware's when it serves that
        folder (a page then pins one build), else the storage's own; None before a build."""
        root = self._root or Path(self.path("")).absolute()  # (raises: no STATIC_ROOT)
        middleware = serving_middleware()
        if middleware is not None:
            catalog = middleware.catalog
            if isinstance(catalog, Catalog) and catalog.root == root:
                middleware.pinning = True
                return catalog
        if self._own is None and monotonic() >= self._next_look:
            with self._lock:
                if self._own is None:
                    self._next_look = monotonic() + _RETRY_SECONDS
                    if (root / MANIFEST_NAME).is_file():
                        self._own = self._load(root)
        return self._own

    def _load(self, root: Path) -> Catalog | None:
        try:
            return Catalog(root, ServeOptions(prefix=self.prefix))
        except ManifestError:
            return None  # a broken manifest: the next look (or build) tells

    @property
    def prefix(self) -> str:
        """The URL path the build is served under: STATIC_URL's (``/static/`` of a CDN URL)."""
        from urllib.parse import urlsplit

        path = urlsplit(str(self.base_url)).path or "/"
        return path if path.endswith("/") else path + "/"

    # -- the build ----------------------------------------------------------------------------

    def build(
        self,
        files: Iterable[FoundFile],
        *,
        clear: bool = False,
        dry_run: bool = False,
        notice: Any = None,
    ) -> BuildReport:
        """Build ``files`` (the finders', in their order) into STATIC_ROOT.

        Raises :class:`~staticserve.errors.StaticServeError` (nothing published).
        """
        output = Path(self.path("")).absolute()
        config = BuildConfig(
            output=output, prefix=self.prefix, base_dir=output.parent, **self.build_options
        )
        listed = (
            ListedFile(f.logical, f.path)
            if f.path is not None
            else ListedFile(f.logical, Path(f.origin), f.open)
            for f in files
        )
        return build_assets(config, files=listed, clear=clear, dry_run=dry_run, notice=notice)

    def current_manifest(self) -> Manifest | None:
        """The manifest in STATIC_ROOT (None when there is none, or it cannot be read)."""
        try:
            return Manifest.load(self.path(""))
        except ManifestError:
            return None

    # -- under Django's own collectstatic -------------------------------------------------------

    def save(self, name: str, content: Any, max_length: int | None = None) -> str:
        """Writes nothing: collectstatic's files are published by the build (post_process)."""
        return str(name)

    def delete(self, name: str) -> None:
        """Deletes nothing: the build prunes its output. ``collectstatic --clear`` under
        Django's own command deletes the manifest first: the build then starts afresh."""
        if name == MANIFEST_NAME:
            self._clear_requested = True

    def post_process(
        self, paths: Mapping[str, tuple[Any, str]], dry_run: bool = False, **options: Any
    ) -> Iterator[tuple[str, str, bool]]:
        """Build from the files Django's collectstatic found (the first of each path)."""
        from django.core.management.base import CommandError

        found = [
            found_file(prefixed, storage, name, type(storage).__name__)
            for prefixed, (storage, name) in paths.items()
        ]
        try:
            self.build(found, clear=self._clear_requested, dry_run=dry_run)
        except StaticServeError as exc:
            raise CommandError(str(exc)) from None
        finally:
            self._clear_requested = False
        manifest = None if dry_run else self.current_manifest()
        for item in found:
            asset = manifest.assets.get(item.logical) if manifest else None
            yield item.logical, asset.path if asset else item.logical, True


def _unquoted(name: str) -> str:
    """``name`` percent-decoded: Django's manifest storage looks names up decoded."""
    from urllib.parse import unquote

    return unquote(name) if "%" in name else name
