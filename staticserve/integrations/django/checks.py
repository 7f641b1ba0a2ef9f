"""System checks: a misconfiguration is reported by ``manage.py check`` (and at the start of
``runserver`` and ``migrate``), never found later as a silent 404 or a 500.

=====================  =========================================================================
``staticserve.E001``   ``STATICSERVE`` is not a dict
``staticserve.E002``   ``STATICSERVE`` has an unknown key
``staticserve.E003``   a setting of the wrong type or value (``STATIC_URL``, ``STATIC_ROOT``, an
                       option of ``STATICSERVE`` or of ``ManifestStorage``'s ``OPTIONS``)
``staticserve.E004``   ``STATIC_ROOT`` is not set while ``DEBUG`` is False
``staticserve.W005``   no build in ``STATIC_ROOT`` yet while ``DEBUG`` is False
``staticserve.E006``   the build in ``STATIC_ROOT`` cannot be served (an unreadable manifest)
``staticserve.E007``   a staticfiles finder fails (development mode)
``staticserve.W008``   the finders find no files at all (development mode)
``staticserve.E009``   ``STATICSERVE["config"]`` cannot be loaded (development mode)
``staticserve.W010``   ``django.contrib.staticfiles`` is listed before this app, so its
                       ``runserver`` serves static files without staticserve
=====================  =========================================================================

The missing build is a warning, not an error: ``check`` is often run before ``collectstatic``
in a deploy, and ``collectstatic`` is what makes the build.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.checks import CheckMessage, Error, Warning

from ...errors import ConfigError, ManifestError
from ...manifest import MANIFEST_NAME
from .conf import ServeSettings, SettingError, read_settings
from .sources import finder_failures, has_sources
from .storage import ManifestStorage

__all__ = ["check_settings"]

APP = "staticserve.integrations.django"
_OPTIONS = 'STORAGES["staticfiles"]["OPTIONS"]'


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every staticserve problem of the current settings (see the module's table)."""
    messages: list[CheckMessage] = list(_app_order())
    try:
        serve = read_settings()
    except SettingError as exc:
        return [*messages, Error(str(exc), hint=exc.hint, id=exc.check_id)]
    messages += _storage_options()
    if serve.uses_finders:
        messages += _finders()
    elif serve.dev:
        messages += _config_file(serve)
    else:
        messages += _build(serve)
    return messages


def _app_order() -> list[CheckMessage]:
    from django.conf import settings

    apps = [str(app) for app in getattr(settings, "INSTALLED_APPS", ())]
    ours = next((i for i, app in enumerate(apps) if app.startswith(APP)), None)
    theirs = next(
        (i for i, app in enumerate(apps) if app.startswith("django.contrib.staticfiles")), None
    )
    if ours is None or theirs is None or ours < theirs:
        return []
    return [
        Warning(
            "django.contrib.staticfiles is listed before staticserve.integrations.django in "
            "INSTALLED_APPS, so manage.py runserver serves static files without staticserve",
            hint="list 'staticserve.integrations.django' before 'django.contrib.staticfiles'",
            id="staticserve.W010",
        )
    ]


def _storage_options() -> list[CheckMessage]:
    """``STORAGES["staticfiles"]["OPTIONS"]`` of a ``ManifestStorage``, which Django only
    reads when a first ``{% static %}`` makes the storage (a 500 on every page)."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.utils.module_loading import import_string

    entry = (getattr(settings, "STORAGES", None) or {}).get("staticfiles")
    if not isinstance(entry, Mapping) or not isinstance(entry.get("BACKEND"), str):
        return []
    try:
        backend = import_string(entry["BACKEND"])
    except ImportError:
        return []  # Django's own error, when the storage is made
    if not (isinstance(backend, type) and issubclass(backend, ManifestStorage)):
        return []
    options = entry.get("OPTIONS") or {}
    if not isinstance(options, Mapping):
        return [Error(f"{_OPTIONS} must be a dict, not {options!r}", id="staticserve.E003")]
    try:
        backend.check_options(**options)
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="staticserve.E003")]
    return []


def _finders() -> list[CheckMessage]:
    failures = finder_failures()
    if failures:
        return [
            Error(f"a staticfiles finder fails: {failure}", id="staticserve.E007")
            for failure in failures
        ]
    if not has_sources():
        return [
            Warning(
                "DEBUG is True but Django's staticfiles finders find no files to serve",
                hint="add a static/ folder to an app in INSTALLED_APPS or set STATICFILES_DIRS",
                id="staticserve.W008",
            )
        ]
    return []


def _config_file(serve: ServeSettings) -> list[CheckMessage]:
    from ...middleware import MiddlewareBase

    try:
        MiddlewareBase(**serve.arguments())
    except ConfigError as exc:
        return [Error(f"settings.STATICSERVE['config']: {exc}", id="staticserve.E009")]
    return []


def _build(serve: ServeSettings) -> list[CheckMessage]:
    from pathlib import Path

    from ...middleware import MiddlewareBase

    assert serve.root is not None  # read_settings refuses production without it
    if not (Path(serve.root) / MANIFEST_NAME).is_file():
        return [
            Warning(
                f"no staticserve build in {serve.root} yet: static files will not be served",
                hint="run python manage.py collectstatic --noinput (or staticserve build)",
                id="staticserve.W005",
            )
        ]
    try:
        MiddlewareBase(**serve.arguments())
    except (ManifestError, ConfigError) as exc:
        return [Error(str(exc), id="staticserve.E006")]
    return []
