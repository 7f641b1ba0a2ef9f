"""Development mode's sources: Django's staticfiles finders, asked for one logical path.

The finders are asked in ``STATICFILES_FINDERS`` order, so the file served is the one
``collectstatic`` would collect (see :mod:`.finders`): ``STATICFILES_DIRS`` (with their
prefixes) before each ``INSTALLED_APPS`` app's ``static/`` folder, the first app listed
winning, and any custom finder. Names ``collectstatic`` ignores (``CVS``, ``.*``, ``*~`` by
default) are not served either. Each request asks the finders anew: a file added while the
server runs is served at once.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from .finders import DEFAULT_IGNORE_PATTERNS, found_files

__all__ = ["find_source", "finder_failures", "has_sources", "ignore_patterns"]


def ignore_patterns() -> tuple[str, ...]:
    """``django.contrib.staticfiles``'s ignore patterns when it is installed, else its defaults."""
    from django.apps import apps

    if apps.is_installed("django.contrib.staticfiles"):
        config = apps.get_app_config("staticfiles")
        return tuple(getattr(config, "ignore_patterns", DEFAULT_IGNORE_PATTERNS))
    return DEFAULT_IGNORE_PATTERNS


def find_source(logical: str) -> str | None:
    """The file a finder holds for ``logical`` (a clean ``a/b.css`` path), or None."""
    from django.contrib.staticfiles import finders

    patterns = ignore_patterns()
    if any(fnmatchcase(part, p) for part in logical.split("/") for p in patterns):
        return None
    found = finders.find(logical)
    if isinstance(found, list):  # only when asked for all matches; never here
        found = found[0] if found else None
    return str(found) if found else None


def finder_failures() -> list[str]:
    """One line per finder that cannot be loaded or listed: its name and the error."""
    from django.conf import settings
    from django.contrib.staticfiles.finders import get_finder

    names = getattr(settings, "STATICFILES_FINDERS", ())
    if not isinstance(names, (list, tuple)):
        return [f"STATICFILES_FINDERS must be a list of finder classes, not {names!r}"]
    failures = []
    for name in names:
        try:
            for _ in get_finder(name).list(list(ignore_patterns())):
                break
        except Exception as exc:  # any error of a third-party finder is what we report
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    return failures


def has_sources() -> bool:
    """True when some finder lists at least one file."""
    return next(found_files(ignore_patterns()), None) is not None
