"""``staticserve nginx-conf`` and ``staticserve.nginx_conf()`` as text: settings, checks, quoting.

What the text does under a real nginx is tests/test_nginx.py's part.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import staticserve
from staticserve.cli import main
from staticserve.errors import ConfigError
from staticserve.nginx import NginxSite, _quoted, render


def directive(text: str, name: str) -> list[str]:
    """The arguments of every ``name`` directive in ``text`` (comments left out)."""
    found = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].strip().rstrip(";").split(None, 1)
        if words and words[0] == name:
            found.append(words[1] if len(words) > 1 else "")
    return found


def test_the_block_serves_the_root_under_the_prefix(tmp_path: Path) -> None:
    text = staticserve.nginx_conf(tmp_path / "build", "/assets/")
    assert directive(text, "location")[0] == "^~ /assets/ {"
    assert directive(text, "alias") == [f'"{tmp_path}/build/"'] * 3
    assert "location = /assets/staticserve.json { return 404; }" in text
    assert 'rewrite "^/assets/(.*)$" /assets/$staticserve_part/$1 last;' in text


def test_root_and_prefix_come_from_the_config_and_arguments_override_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.staticserve]\noutput = "dist/static"\nprefix = "/s/"\nencodings = ["gzip"]\n'
    )
    monkeypatch.chdir(tmp_path)
    text = staticserve.nginx_conf()
    assert f'alias "{tmp_path}/dist/static/";' in text  # relative to the config file
    assert "location ^~ /s/ {" in text
    assert directive(text, "gzip_static") == ["on", "off"]
    assert directive(text, "brotli_static") == []  # the build makes no .br: no module needed
    assert "brotli" not in text
    other = staticserve.nginx_conf("elsewhere", "/static/")
    assert f'alias "{tmp_path}/elsewhere/";' in other  # relative to the working folder
    assert "location ^~ /static/ {" in other


def test_the_cache_lifetimes_and_cors_follow_the_middleware_options(tmp_path: Path) -> None:
    default = staticserve.nginx_conf(tmp_path, "/static/")
    assert 'set $staticserve_cache_control "public, max-age=60";' in default
    assert directive(default, "add_header").count('Access-Control-Allow-Origin "*"') == 1
    custom = staticserve.nginx_conf(
        tmp_path, "/static/", max_age=5, allow_origin="https://app.example.com"
    )
    assert 'set $staticserve_cache_control "public, max-age=5";' in custom
    assert 'Access-Control-Allow-Origin "https://app.example.com"' in custom
    none = staticserve.nginx_conf(tmp_path, "/static/", allow_origin=None)
    assert "Access-Control-Allow-Origin" not in none


def test_fingerprinted_patterns_become_immutable_rules(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.staticserve]\nfingerprinted = ['assets/.*-[A-Za-z0-9_-]{8}\\.(js|css)']\n"
    )
    text = staticserve.nginx_conf(tmp_path / "out", config=tmp_path / "pyproject.toml")
    assert 'if ($uri ~ "^/static/(?:assets/.*-[A-Za-z0-9_-]{8}\\.(js|css))$") {' in text


def test_every_content_type_of_the_middleware_is_in_the_types_block(tmp_path: Path) -> None:
    from staticserve.core.content_types import CONTENT_TYPES

    text = staticserve.nginx_conf(tmp_path, "/static/")
    block = text[text.index("types {") : text.index("}", text.index("types {"))]
    listed = {}
    for line in filter(str.strip, block.splitlines()[1:]):
        content_type, extensions = re.fullmatch(r'\s*"([^"]+)" ([^;]+);', line).groups()  # type: ignore[union-attr]
        listed.update(dict.fromkeys(extensions.split(), content_type.encode()))
    assert listed == dict(CONTENT_TYPES)


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"prefix": "static"}, "prefix: must be a URL path such as '/static/', got 'static'"),
        ({"max_age": -1}, "max_age must be a whole number >= 0, not -1"),
        ({"max_age": "soon"}, "max_age must be a whole number >= 0, not 'soon'"),
        ({"allow_origin": "*\r\nX: y"}, "the value of header 'Access-Control-Allow-Origin'"),
        ({"root": "/srv/$build"}, "root '/srv/$build' holds '$'"),
    ],
    ids=["prefix", "negative max_age", "word max_age", "CRLF in the origin", "dollar in root"],
)
def test_bad_values_get_the_builds_and_the_middlewares_messages(
    tmp_path: Path, keywords: dict[str, object], message: str
) -> None:
    arguments = {"root": tmp_path, "prefix": "/static/", **keywords}
    with pytest.raises(ConfigError) as raised:
        staticserve.nginx_conf(**arguments)  # type: ignore[arg-type]
    assert message in str(raised.value)


def test_a_relative_site_root_is_refused_by_the_record() -> None:
    with pytest.raises(ConfigError, match="absolute"):
        NginxSite(root="static_build")


def nginx_unquote(token: str) -> str:
    """How nginx reads a double-quoted token (src/core/ngx_conf_file.c, ngx_conf_read_token)."""
    assert token.startswith('"')
    assert token.endswith('"')
    body, out, index = token[1:-1], [], 0
    while index < len(body):
        character = body[index]
        following = body[index + 1 : index + 2]
        if character == "\\" and following in ('"', "'", "\\"):
            out.append(following)
            index += 2
        elif character == "\\" and following in ("t", "r", "n"):
            out.append({"t": "\t", "r": "\r", "n": "\n"}[following])
            index += 2
        else:
            out.append(character)
            index += 1
    return "".join(out)


@given(st.text(alphabet=st.sampled_from("ab.\\\"'trn${}; "), max_size=30))
def test_quoted_tokens_read_back_as_written(text: str) -> None:
    token = _quoted(text)
    read = nginx_unquote(token)
    # \t, \r, \n written as two characters come back as control characters: the same to a
    # regular expression, and the only way nginx can take them.
    assert read == text or read == text.replace("\\t", "\t").replace("\\r", "\r").replace(
        "\\n", "\n"
    )
    inner = token[1:-1]
    assert not re.search(r'(?<!\\)(?:\\\\)*"', inner)  # no quote ends the token early


def test_render_is_pure_text_from_the_record() -> None:
    site = NginxSite(root="/srv/static_build", encodings=("br", "gzip", "zstd"))
    assert render(site) == render(site)
    assert "no zstd module" in render(site)


# -- the command ---------------------------------------------------------------------------------


def test_the_command_prints_the_block_and_flags_override_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.staticserve]\noutput = "built"\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["nginx-conf"])
    assert result.exit_code == 0, result.output
    assert result.output == staticserve.nginx_conf()
    flagged = CliRunner().invoke(
        main,
        [
            "nginx-conf",
            "--root",
            "/srv/b",
            "--prefix",
            "/a/",
            "--max-age",
            "9",
            "--allow-origin",
            "",
        ],
    )
    assert flagged.output == staticserve.nginx_conf("/srv/b", "/a/", max_age=9, allow_origin=None)


def test_the_help_names_every_option_with_its_config_key_or_default() -> None:
    text = " ".join(
        CliRunner().invoke(main, ["nginx-conf", "--help"], terminal_width=100).output.split()
    )
    for option in ("--root", "--prefix", "--config", "--max-age", "--allow-origin"):
        assert option in text, option
    for key in ("config: output", "config: prefix", "default: 60"):
        assert key in text, key


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prefix", "static"], "Error: prefix: must be a URL path such as '/static/'"),
        (["--max-age", "soon"], "Error: max_age must be a whole number >= 0, not 'soon'"),
        (["--config", "nope.toml"], "Error: --config nope.toml: no such file"),
        (["--root", "/srv/$x"], "Error: root '/srv/$x' holds '$'"),
    ],
    ids=["prefix", "max-age", "missing config", "dollar"],
)
def test_mistakes_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "staticserve", "nginx-conf", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""
