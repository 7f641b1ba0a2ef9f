from __future__ import annotations

from pathlib import Path

import pytest

from staticserve.errors import ConfigError
from staticserve.pipeline.config import (
    DEFAULT_IGNORE,
    BuildConfig,
    Source,
    load_config,
    parse_source,
)


def write_pyproject(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text("[project]\nname = 'x'\n\n[tool.staticserve]\n" + table, encoding="utf-8")
    return path


def test_defaults_apply_when_there_is_no_pyproject(tmp_path: Path) -> None:
    config = load_config(start=tmp_path)
    assert config.output_dir == tmp_path.resolve() / "static_build"
    assert config.prefix == "/static/"
    assert config.encodings == ("br", "gzip")
    assert config.keep == 3
    assert config.ignore == DEFAULT_IGNORE


def test_every_key_is_read_from_tool_staticserve(tmp_path: Path) -> None:
    write_pyproject(
        tmp_path,
        """
sources = ["assets", {path = "vendor/bootstrap/dist", prefix = "bootstrap"}]
packages = ["mypkg"]
output = "dist/static"
prefix = "/assets"
ignore = ["*.scss"]
encodings = ["br", "gzip", "zstd"]
keep = 5
strict = true
jobs = 2
rewrite_js = false
min_size = 100
""",
    )
    config = load_config(start=tmp_path)
    assert config.sources == (
        Source(Path("assets")),
        Source(Path("vendor/bootstrap/dist"), "bootstrap"),
    )
    assert config.packages == ("mypkg",)
    assert config.output_dir == tmp_path.resolve() / "dist/static"
    assert config.prefix == "/assets/"
    assert config.ignore == (*DEFAULT_IGNORE, "*.scss")
    assert config.encodings == ("br", "gzip", "zstd")
    assert (config.keep, config.strict, config.jobs) == (5, True, 2)
    assert (config.rewrite_js, config.min_size) == (False, 100)


def test_ignore_defaults_can_be_switched_off(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'ignore_defaults = false\nignore = ["*.tmp"]\n')
    assert load_config(start=tmp_path).ignore == ("*.tmp",)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("outptu = 'x'\n", "unknown key tool.staticserve.outptu"),
        ("keep = 'three'\n", "tool.staticserve.keep must be a whole number"),
        ("strict = 1\n", "tool.staticserve.strict must be true or false"),
        ("keep = true\n", "tool.staticserve.keep must be a whole number"),
        ("sources = 'assets'\n", "tool.staticserve.sources must be a list"),
        ("sources = [3]\n", "sources entries must be a path or a table"),
        ("sources = [{path = 'a', prefx = 'b'}]\n", "unknown key 'prefx' in a source table"),
        ("sources = [{path = 'a', prefix = '../up'}]\n", "may not contain '.' or '..'"),
        ("encodings = ['lzma']\n", "unknown encoding 'lzma'"),
        ("keep = 0\n", "keep: must be at least 1"),
        ("prefix = 'static'\n", "prefix: must be a URL path"),
        ("packages = [1]\n", "packages must be a list of strings"),
    ],
    ids=lambda value: value.strip()[:30] if isinstance(value, str) else None,
)
def test_a_bad_setting_is_an_error_naming_the_key(tmp_path: Path, table: str, message: str) -> None:
    write_pyproject(tmp_path, table)
    with pytest.raises(ConfigError, match=r"pyproject\.toml") as info:
        load_config(start=tmp_path)
    assert message in str(info.value)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.staticserve\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(start=tmp_path)


def test_an_explicit_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml")


def test_an_explicit_config_file_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "static.toml"
    path.write_text('[tool.staticserve]\noutput = "out"\n', encoding="utf-8")
    assert load_config(path).output_dir == tmp_path.resolve() / "conf" / "out"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("assets", Source(Path("assets"))),
        ("vendor/bootstrap/dist=bootstrap", Source(Path("vendor/bootstrap/dist"), "bootstrap")),
        ("vendor=/lib/x/", Source(Path("vendor"), "lib/x")),
    ],
)
def test_a_cli_source_may_carry_a_prefix(spec: str, expected: Source) -> None:
    assert parse_source(spec) == expected


def test_overrides_replace_settings_and_ignore_none() -> None:
    config = BuildConfig(keep=3).with_overrides(keep=7, strict=None)
    assert (config.keep, config.strict) == (7, False)
