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


# -- settings given to staticserve.build() as keywords (README "Python API") --------------------


def assets_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "assets/css").mkdir(parents=True)
    (tmp_path / "assets/css/app.css").write_text("body { color: red; }\n", encoding="utf-8")
    (tmp_path / "assets/css/app.scss").write_text("$c: red;\n", encoding="utf-8")
    write_pyproject(tmp_path, 'sources = ["assets"]\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_build_keywords_take_paths_as_str_or_pathlike_relative_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import staticserve

    root = assets_project(tmp_path, monkeypatch)
    report = staticserve.build(output="dist/static", strict=True)
    assert report.output == root / "dist/static"
    assert (root / "dist/static/staticserve.json").is_file()
    report = staticserve.build(sources=["assets"], output=Path("out"), ignore=["*.scss"])
    assert report.output == root / "out"
    assert report.files == 1  # app.css; the .scss is ignored, on top of the defaults
    report = staticserve.build(
        "pyproject.toml", sources=[{"path": root / "assets", "prefix": "x"}], output="o"
    )
    assert (root / "o/x/css/app.css").is_file()


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"keep": "3"}, "keep must be a whole number of builds, got '3'"),
        ({"jobs": True}, "jobs must be a whole number"),
        ({"strict": 1}, "strict must be true or false"),
        ({"sources": "assets"}, "sources must be a list"),
        ({"sources": [3]}, "sources entries must be a path or a table"),
        ({"encodings": "br"}, "encodings must be a list"),
        ({"encodings": ["lzma"]}, "unknown encoding 'lzma'"),
        ({"output": 3}, "output must be a folder path"),
        ({"keep": 0}, "keep: must be at least 1"),
        ({"prefix": "static"}, "prefix: must be a URL path"),
        ({"outptu": "x"}, "unknown key outptu"),
    ],
    ids=lambda value: ",".join(value) if isinstance(value, dict) else None,
)
def test_a_bad_build_keyword_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keywords: dict[str, object], message: str
) -> None:
    import staticserve

    assets_project(tmp_path, monkeypatch)
    with pytest.raises(ConfigError, match=r"^staticserve\.build\(\): ") as info:
        staticserve.build(**keywords)
    assert message in str(info.value)
    assert not (tmp_path / "static_build").exists()


def test_build_config_accepts_str_paths_and_checks_numbers(tmp_path: Path) -> None:
    config = BuildConfig(sources=["assets"], output="out", base_dir=str(tmp_path))  # type: ignore[arg-type]
    assert config.sources == (Source(Path("assets")),)
    assert config.output_dir == tmp_path / "out"
    with pytest.raises(ConfigError, match="keep: must be a whole number of builds"):
        BuildConfig(keep="3")  # type: ignore[arg-type]
