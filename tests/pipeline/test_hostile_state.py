"""Hostile state and settings found by a review: a tampered journal, a build of nothing, a
package path that is a plain folder. Each gets a clear error or is ignored, never a loss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import staticserve
from staticserve.cli import main
from staticserve.errors import ConfigError
from staticserve.manifest import MANIFEST_NAME
from staticserve.pipeline.output_dir import STATE_DIR


def first_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.css").write_text("a { color: red }\n")
    staticserve.build(sources=["src"], output="out")
    return tmp_path / "out"


def test_a_journal_naming_files_outside_the_output_never_deletes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = first_build(tmp_path, monkeypatch)
    outside = tmp_path / "sentinel.txt"
    outside.write_text("keep me")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "abs.txt").write_text("keep me too")
    names = ["../sentinel.txt", str(elsewhere / "abs.txt"), "css/../../sentinel.txt", ""]
    (out / STATE_DIR / "journal.json").write_text(json.dumps(names))
    (tmp_path / "src" / "a.css").write_text("a { color: blue }\n")
    staticserve.build(sources=["src"], output="out")
    assert outside.read_text() == "keep me"
    assert (elsewhere / "abs.txt").read_text() == "keep me too"
    assert staticserve.Manifest.load(out).assets["a.css"].size == len("a { color: blue }\n")


def test_a_build_of_no_sources_is_refused_by_the_api_as_by_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = first_build(tmp_path, monkeypatch)
    live = (out / MANIFEST_NAME).read_bytes()
    with pytest.raises(ConfigError, match=r"^no sources: "):
        staticserve.build(sources=[], output="out")
    (tmp_path / "pyproject.toml").write_text('[tool.staticserve]\nsources = []\noutput = "out"\n')
    with pytest.raises(ConfigError, match=r"^no sources: "):
        staticserve.build()
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: no sources: ")
    assert (out / MANIFEST_NAME).read_bytes() == live  # the live build untouched


def test_a_package_path_through_a_plain_folder_is_one_line_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mypkg" / "static" / "css").mkdir(parents=True)
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "static" / "css" / "a.css").write_text("a{}")
    (tmp_path / "nsp" / "static").mkdir(parents=True)
    for name in ("mypkg.static", "nsp.static", "mypkg.nonexistent"):
        result = CliRunner().invoke(main, ["build", "--package", name, "--output", "o"])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("Error: ")
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.output


def test_a_source_named_like_a_kept_hashed_file_of_an_earlier_build_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = first_build(tmp_path, monkeypatch)
    old = staticserve.Manifest.load(out).assets["a.css"]
    old_bytes = (out / old.path).read_bytes()
    (tmp_path / "src" / "a.css").write_text("a { color: blue }\n")
    staticserve.build(sources=["src"], output="out")  # the first build's file is kept
    (tmp_path / "src" / old.path).write_text("evil {}\n")
    with pytest.raises(staticserve.BuildError, match=r"earlier build published, kept"):
        staticserve.build(sources=["src"], output="out")
    assert (out / old.path).read_bytes() == old_bytes
    # The very same bytes under that name (a built file copied back) take nothing from anyone.
    (tmp_path / "src" / old.path).write_bytes(old_bytes)
    staticserve.build(sources=["src"], output="out")
    assert (out / old.path).read_bytes() == old_bytes
