"""Where the demo's files are; the build settings themselves live in staticserve.toml."""

from __future__ import annotations

from pathlib import Path

from staticserve.build import BuildConfig, BuildReport, build, load_config

HERE = Path(__file__).resolve().parent
CONFIG_FILE = HERE / "staticserve.toml"
TEMPLATES = HERE / "templates"


def build_config() -> BuildConfig:
    return load_config(CONFIG_FILE)


def build_assets() -> BuildReport:
    """Build the assets; incremental, so this is nearly free when nothing changed."""
    return build(build_config())
