"""Django system checks: each misconfiguration is reported by ``manage.py check`` with its id
and a message that says what to do — never found later as a 404 or a 500."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from . import django_inprocess
from .conftest import Build

pytest.importorskip("django")


@pytest.fixture(scope="module", autouse=True)
def django_settings() -> None:
    django_inprocess.configure()


def problems(**settings: Any) -> list[tuple[str, str]]:
    """(id, message) of every staticserve check message under these settings."""
    from django.test import override_settings

    from staticserve.integrations.django.checks import check_settings

    with override_settings(**settings):
        return [(m.id, m.msg) for m in check_settings()]


def test_a_served_build_is_no_problem(static_build: Build) -> None:
    assert problems(STATIC_ROOT=str(static_build.root)) == []


def test_staticserve_must_be_a_dict(static_build: Build) -> None:
    [(check, message)] = problems(STATIC_ROOT=str(static_build.root), STATICSERVE=["dev"])
    assert check == "staticserve.E001"
    assert message == "settings.STATICSERVE must be a dict of staticserve options, not ['dev']"


def test_unknown_keys_are_named(static_build: Build) -> None:
    [(check, message)] = problems(STATIC_ROOT=str(static_build.root), STATICSERVE={"roots": "x"})
    assert check == "staticserve.E002"
    assert message.startswith("settings.STATICSERVE: unknown option 'roots' (known: ")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"STATIC_URL": 5}, "STATIC_URL must be a string such as '/static/'"),
        ({"STATIC_ROOT": 5}, "STATIC_ROOT must be a path, not 5"),
        ({"STATICSERVE": {"root": ["x"]}}, "STATICSERVE['root'] must be a path, not ['x']"),
        (
            {"STATICSERVE": {"max_age": "60"}},
            "settings.STATICSERVE: max_age must be a whole number >= 0, not '60'",
        ),
        (
            {"STATICSERVE": {"allow_origin": True}},
            "settings.STATICSERVE: allow_origin must be '*', one origin such as "
            "'https://example.com' or None, not True",
        ),
        (
            {"STATICSERVE": {"index_file": "a/b.html"}},
            "settings.STATICSERVE: index_file must be a plain file name, not 'a/b.html'",
        ),
        (
            {"STATICSERVE": {"prefix": "/st atic"}},
            "settings.STATICSERVE: prefix '/st atic' must be a plain URL path such as '/static' "
            "(letters, digits, '-', '.', '_', '~' and '/')",
        ),
    ],
)
def test_a_setting_of_the_wrong_type_or_value(
    static_build: Build, settings: dict[str, Any], message: str
) -> None:
    found = problems(**{"STATIC_ROOT": str(static_build.root), **settings})
    assert found == [("staticserve.E003", message)]


def test_static_root_is_needed_in_production() -> None:
    [(check, message)] = problems(STATIC_ROOT=None, DEBUG=False)
    assert check == "staticserve.E004"
    assert "STATIC_ROOT is not set" in message


def test_no_build_yet_is_a_warning_that_says_to_run_collectstatic(tmp_path: Path) -> None:
    from django.core.checks import WARNING
    from django.test import override_settings

    from staticserve.integrations.django.checks import check_settings

    with override_settings(STATIC_ROOT=str(tmp_path), DEBUG=False):
        [message] = check_settings()
    assert message.id == "staticserve.W005"
    assert message.level == WARNING
    assert "collectstatic" in message.hint


def test_an_unreadable_build_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "staticserve.json").write_text("{not json")
    [(check, message)] = problems(STATIC_ROOT=str(tmp_path), DEBUG=False)
    assert check == "staticserve.E006"
    assert "staticserve.json" in message


def broken_finder() -> type:
    from django.contrib.staticfiles.finders import BaseFinder

    class BrokenFinder(BaseFinder):  # type: ignore[misc]
        def list(self, ignore_patterns: Any) -> Any:
            raise RuntimeError("the finder's server is down")

    return BrokenFinder


def __getattr__(name: str) -> Any:  # the finder class, made once Django is set up
    if name == "BrokenFinder":
        return broken_finder()
    raise AttributeError(name)


def test_a_failing_finder_in_development_is_an_error() -> None:
    finders = [
        "django.contrib.staticfiles.finders.AppDirectoriesFinder",
        f"{__name__}.BrokenFinder",
    ]
    found = problems(DEBUG=True, STATICFILES_FINDERS=finders)
    assert found == [
        (
            "staticserve.E007",
            f"a staticfiles finder fails: {__name__}.BrokenFinder: "
            "RuntimeError: the finder's server is down",
        )
    ]


def test_a_missing_staticfiles_dir_alone_means_no_sources(tmp_path: Path) -> None:
    # (django.contrib.staticfiles's own staticfiles.W004 names the missing folder as well)
    [(check, _)] = problems(DEBUG=True, STATICFILES_DIRS=[str(tmp_path / "nowhere")])
    assert check == "staticserve.W008"


def test_no_sources_in_development_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    found = problems(DEBUG=True, STATICFILES_DIRS=[str(tmp_path / "empty")])
    assert found == [
        (
            "staticserve.W008",
            "DEBUG is True but Django's staticfiles finders find no files to serve",
        )
    ]


def test_development_with_sources_is_no_problem(tmp_path: Path) -> None:
    (tmp_path / "site.css").write_text("body {}")
    assert problems(DEBUG=True, STATICFILES_DIRS=[str(tmp_path)]) == []


def test_a_config_file_that_cannot_be_loaded_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text("[tool.staticserve]\n")
    [(check, message)] = problems(DEBUG=True, STATICSERVE={"config": str(config)})
    assert check == "staticserve.E009"
    assert "no sources" in message


def test_staticfiles_listed_first_would_take_runserver_over(static_build: Build) -> None:
    apps = ["django.contrib.staticfiles", "staticserve.integrations.django"]
    found = problems(STATIC_ROOT=str(static_build.root), INSTALLED_APPS=apps)
    assert [check for check, _ in found] == ["staticserve.W010"]


def test_manage_py_check_reports_it_at_startup(tmp_path: Path) -> None:
    """The real command in a fresh process: the checks are registered by the app's ready()."""
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj/__init__.py").write_text("")
    (tmp_path / "proj/settings.py").write_text(
        "SECRET_KEY = 'x'\nDEBUG = False\nSTATIC_URL = '/static/'\n"
        "INSTALLED_APPS = ['staticserve.integrations.django', 'django.contrib.staticfiles']\n"
        "STATICSERVE = {'max_age': -1}\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "proj.settings"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *sys.path])
    result = subprocess.run(
        [sys.executable, "-m", "django", "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert (
        "?: (staticserve.E003) settings.STATICSERVE: max_age must be a whole number >= 0, not -1"
        in result.stderr
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"keep": -1}, 'STORAGES["staticfiles"]["OPTIONS"]: keep: must be at least 1, got -1'),
        ({"bogus": 1}, 'STORAGES["staticfiles"]["OPTIONS"]: unknown option \'bogus\' ('),
    ],
)
def test_options_of_the_storage_are_checked(
    static_build: Build, options: dict[str, Any], message: str
) -> None:
    # Else the first {% static %} of every page raises ImproperlyConfigured: a 500.
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "staticserve.integrations.django.ManifestStorage",
            "OPTIONS": options,
        },
    }
    [(check, found)] = problems(STATIC_ROOT=str(static_build.root), STORAGES=storages)
    assert check == "staticserve.E003"
    assert found.startswith(message)


def test_a_valid_storage_is_no_problem_whatever_media_url_is(static_build: Build) -> None:
    # startproject leaves MEDIA_URL unset: Django makes it "/" (the script prefix).
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "staticserve.integrations.django.ManifestStorage"},
    }
    found = problems(STATIC_ROOT=str(static_build.root), STORAGES=storages, MEDIA_URL="/")
    assert found == []
