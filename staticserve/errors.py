"""The exceptions staticserve raises; every message says what went wrong and what to do."""

from __future__ import annotations

__all__ = [
    "BrokenReference",
    "BuildError",
    "ConfigError",
    "ManifestError",
    "StaticServeError",
]


class StaticServeError(Exception):
    """Base class of every staticserve error. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class ConfigError(StaticServeError):
    """The configuration or the command line is wrong (a usage error)."""

    exit_code = 2


class BuildError(StaticServeError):
    """The build could not finish; nothing was published."""


class BrokenReference(BuildError):
    """A CSS/JS reference names a file that is not in the build (strict mode), or escapes the root."""


class ManifestError(StaticServeError):
    """The manifest is missing, unreadable or of an unknown version."""
