"""Where the demo's files are; the build settings themselves live in staticserve.toml.

``STATICSERVE_DEMO_CONFIG`` (or ``python -m demo_app --config FILE``) points the demo at another
configuration file, e.g. one over a copy of the sources, so that tests never touch these files.
"""

from __future__ import annotations

import os
from pathlib import Path

from staticserve.pipeline import BuildConfig, BuildReport, build, load_config

HERE = Path(__file__).resolve().parent
CONFIG_FILE = HERE / "staticserve.toml"
CONFIG_ENV = "STATICSERVE_DEMO_CONFIG"
TEMPLATES = HERE / "templates"


def config_file() -> Path:
    """The configuration in use: ``$STATICSERVE_DEMO_CONFIG`` if set, else staticserve.toml."""
    return Path(os.environ.get(CONFIG_ENV) or CONFIG_FILE)


def build_config() -> BuildConfig:
    return load_config(config_file())


def build_assets() -> BuildReport:
    """Build the assets; incremental, so this is nearly free when nothing changed."""
    return build(build_config())
