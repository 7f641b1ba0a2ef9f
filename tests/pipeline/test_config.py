from __future__ import annotations

from pathlib import Path

import pytest

from staticserve.errors import ConfigError
from staticserve.manifest import Manifest
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
    assert config.ignore_patterns == DEFAULT_IGNORE


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
    assert config.ignore_patterns == (*DEFAULT_IGNORE, "*.scss")
    assert config.encodings == ("br", "gzip", "zstd")
    assert (config.keep, config.strict, config.jobs) == (5, True, 2)
    assert (config.rewrite_js, config.min_size) == (False, 100)


def test_ignore_defaults_can_be_switched_off(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'ignore_defaults = false\nignore = ["*.tmp"]\n')
    assert load_config(start=tmp_path).ignore_patterns == ("*.tmp",)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("outptu = 'x'\n", "unknown key 'outptu'"),
        ("keep = 'three'\n", "keep: must be a whole number"),
        ("strict = 1\n", "strict: must be true or false"),
        ("keep = true\n", "keep: must be a whole number"),
        ("sources = 'assets'\n", "sources: must be a list"),
        ("sources = [3]\n", "sources: an entry must be a folder path or a"),
        (
            "sources = [{path = 'a', prefx = 'b'}]\n",
            "unknown key 'prefx' in a {path, prefix} table",
        ),
        ("sources = [{path = 'a', prefix = '../up'}]\n", "may not contain '.' or '..'"),
        ("encodings = ['lzma']\n", "unknown encoding 'lzma'"),
        ("keep = 0\n", "keep: must be at least 1"),
        ("prefix = 'static'\n", "prefix: must be a URL path"),
        ("packages = [1]\n", "packages: must be a list of package names"),
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


# -- one validation for the three ways in: keywords, the command line, the config file ----------

KNOWN_KEYS = "cache_dir, cache_max_size, encodings, fingerprinted, ignore, ignore_defaults, jobs, keep, keep_age, min_size, output, packages, prefix, rewrite_js, sources, strict"  # fmt: skip

# (key, TOML value, the same as a Python keyword, the same as command-line arguments or None
# where the command line cannot express it, the one message all of them give)
BAD_SETTINGS = [
    ("keep", "0", 0, ["--keep", "0"], "keep: must be at least 1, got 0"),
    ("keep", "'many'", "many", ["--keep", "many"], "keep: must be a whole number of builds, got 'many'"),
    ("keep", "'3'", "3", None, "keep: must be a whole number of builds, got '3'"),
    ("keep", "true", True, None, "keep: must be a whole number of builds, got True"),
    ("keep_age", "'1 hour'", "1 hour", ["--keep-age", "1 hour"], "keep_age: must be a duration such as '30m', '1h', '2d' or '1h30m' (0: none), got '1 hour'"),
    ("keep_age", "-60", -60, None, "keep_age: must be a duration such as '30m', '1h', '2d' or '1h30m' (0: none), got -60"),
    ("keep_age", "'90'", "90", ["--keep-age", "90"], "keep_age: must be a duration such as '30m', '1h', '2d' or '1h30m' (0: none), got '90'"),
    ("jobs", "-1", -1, ["--jobs", "-1"], "jobs: must be 0 (all cores) or more, got -1"),
    ("jobs", "1.5", 1.5, ["--jobs", "1.5"], "jobs: must be a whole number of threads (0: all cores), got 1.5"),
    ("min_size", "-5", -5, ["--min-size", "-5"], "min_size: must be 0 or more, got -5"),
    ("encodings", "['lzma']", ["lzma"], ["--encodings", "lzma"], "encodings: unknown encoding 'lzma' (known: br, gzip, zstd)"),
    ("encodings", "'br'", "br", None, "encodings: must be a list of encodings (br, gzip, zstd), got 'br'"),
    ("prefix", "'static'", "static", ["--prefix", "static"], "prefix: must be a URL path such as '/static/', got 'static'"),
    ("strict", "'yes'", "yes", None, "strict: must be true or false, got 'yes'"),
    ("output", "3", 3, None, "output: must be a folder path, got 3"),
    ("sources", "'assets'", "assets", None, "sources: must be a list of folder paths or {path, prefix} tables, got 'assets'"),
    ("sources", "[3]", [3], None, "sources: an entry must be a folder path or a {path, prefix} table, got 3"),
    ("sources", "[{path = 'a', prefix = '../up'}]", [{"path": "a", "prefix": "../up"}], ["--source", "a=../up"], "sources: a prefix may not contain '.' or '..', got '../up'"),
    ("sources", "[{path = 'a', prefx = 'b'}]", [{"path": "a", "prefx": "b"}], None, "sources: unknown key 'prefx' in a {path, prefix} table"),
    ("packages", "[1]", [1], None, "packages: must be a list of package names, got [1]"),
    ("ignore", "'*.scss'", "*.scss", None, "ignore: must be a list of glob patterns, got '*.scss'"),
    ("ignore_defaults", "0", 0, None, "ignore_defaults: must be true or false, got 0"),
    ("cache_dir", "3", 3, None, "cache_dir: must be a folder path, got 3"),
    ("cache_dir", "''", "", None, "cache_dir: must be a folder path (leave it out for none), got ''"),
    ("cache_max_size", "-1", -1, ["--cache-max-size", "-1"], "cache_max_size: must be 0 or more, got -1"),
    ("cache_max_size", "'1G'", "1G", ["--cache-max-size", "1G"], "cache_max_size: must be a whole number of bytes, got '1G'"),
    ("outptu", "'x'", "x", None, f"unknown key 'outptu' (known keys: {KNOWN_KEYS})"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("key", "toml", "value", "cli_args", "message"),
    BAD_SETTINGS,
    ids=[f"{case[0]}={case[1]}" for case in BAD_SETTINGS],
)
def test_a_bad_setting_gives_one_message_from_keywords_command_line_and_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    toml: str,
    value: object,
    cli_args: list[str] | None,
    message: str,
) -> None:
    """Regression: build(keep="3") raised TypeError, build(output="dist") AttributeError, and
    the command line and the file worded the same mistakes differently."""
    from click.testing import CliRunner

    from staticserve import build
    from staticserve.cli import main

    (tmp_path / "assets").mkdir()
    monkeypatch.chdir(tmp_path)
    pyproject = write_pyproject(tmp_path, f"{key} = {toml}\n")
    with pytest.raises(ConfigError) as from_file:
        load_config()
    assert str(from_file.value) == f"{pyproject}: [tool.staticserve] {message}"

    pyproject.write_text('[tool.staticserve]\nsources = ["assets"]\noutput = "out"\n')
    with pytest.raises(ConfigError) as from_keyword:
        build(**{key: value})
    assert str(from_keyword.value) == message
    if key != "outptu":  # else a TypeError, as for any unknown argument of a class
        with pytest.raises(ConfigError) as from_config:
            BuildConfig(**{key: value})  # type: ignore[arg-type]
        assert str(from_config.value) == message

    if cli_args is not None:
        result = CliRunner().invoke(main, ["build", *cli_args])
        assert (result.exit_code, result.stderr) == (2, f"Error: {message}\n")


@pytest.mark.parametrize(
    "settings",
    [
        {"output": "dist/static", "strict": True},  # the README's example
        {"output": Path("dist/static"), "sources": ["assets"]},
        {"output": "dist/static", "sources": [Path("assets")]},
        {"output": "dist/static", "sources": [{"path": "assets", "prefix": ""}]},
        {"output": "dist/static", "sources": [Source("assets")]},  # type: ignore[arg-type]
    ],
    ids=["readme", "str source", "path source", "table source", "Source of a str"],
)
def test_paths_may_be_given_as_str_or_pathlike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict[str, object]
) -> None:
    from staticserve import build

    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "a.css").write_text("a{}")
    write_pyproject(tmp_path, 'sources = ["assets"]\n')
    monkeypatch.chdir(tmp_path)
    report = build(**settings)
    assert report.output == tmp_path.resolve() / "dist/static"
    assert (tmp_path / "dist/static/a.css").exists()


def test_the_ignore_keyword_means_what_the_file_key_means(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: ``build(ignore=[...])`` replaced the defaults, where the file's ``ignore``
    adds to them and ``ignore_defaults = false`` drops them."""
    from staticserve import build

    (tmp_path / "assets").mkdir()
    for name in ("a.css", "a.scss", ".env"):
        (tmp_path / "assets" / name).write_text("x")
    write_pyproject(tmp_path, 'sources = ["assets"]\noutput = "out"\n')
    monkeypatch.chdir(tmp_path)
    assert set(build(ignore=["*.scss"]).planned) == set()  # a real build: nothing planned
    assert set(Manifest.load(tmp_path / "out").assets) == {"a.css"}
    build(ignore=["*.scss"], ignore_defaults=False)
    assert set(Manifest.load(tmp_path / "out").assets) == {"a.css", ".env"}
