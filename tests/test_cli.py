"""The ``staticserve build`` command: options, summary, exit codes, errors without tracebacks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from staticserve.cli import main
from staticserve.manifest import Manifest

from .pipeline.conftest import compressible, write_tree


def run(tmp_path: Path, *args: str, monkeypatch: pytest.MonkeyPatch) -> Result:
    monkeypatch.chdir(tmp_path)
    return CliRunner().invoke(main, ["build", *args])


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    write_tree(tmp_path / "assets", {"css/app.css": compressible() + "a{background:url(../img/x.png)}", "img/x.png": b"png"})  # fmt: skip
    write_tree(tmp_path / "vendor", {"css/app.css": "shadowed", "lib.js": "export const x = 1;"})
    return tmp_path


def test_build_prints_a_concise_summary(sources: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(sources, "--source", "assets", "--source", "vendor=vendor", "--output", "out", monkeypatch=monkeypatch)  # fmt: skip
    assert result.exit_code == 0, result.output
    first, *rest = result.output.splitlines()
    assert first.startswith("Built 4 files")
    assert "generation 1" in first
    assert any(line.strip().startswith("br ") and "over 1 files" in line for line in rest)
    assert Manifest.load(sources / "out").assets["vendor/lib.js"]


def test_duplicates_are_listed_with_both_origins(
    sources: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(sources, "--source", "assets", "--source", "vendor", "--output", "out", monkeypatch=monkeypatch)  # fmt: skip
    assert "1 duplicate(s), the first source wins:" in result.output
    assert "css/app.css: " in result.output
    assert "assets/css/app.css shadows " in result.output
    assert "vendor/css/app.css" in result.output


def test_json_summary_is_machine_readable(sources: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(
        sources, "--source", "assets", "--output", "out", "--json", monkeypatch=monkeypatch
    )
    data = json.loads(result.output)
    assert data["files"] == 2
    assert data["changed"] is True
    assert set(data["encodings"]) == {"br", "gzip"}
    assert data["encodings"]["br"]["compressed_bytes"] < data["encodings"]["br"]["original_bytes"]


def test_quiet_prints_nothing(sources: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(sources, "--source", "assets", "--output", "out", "-q", monkeypatch=monkeypatch)
    assert (result.exit_code, result.output) == (0, "")


def test_a_second_run_reports_up_to_date(sources: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run(sources, "--source", "assets", "--output", "out", monkeypatch=monkeypatch)
    result = run(sources, "--source", "assets", "--output", "out", monkeypatch=monkeypatch)
    assert result.output.startswith("Up to date: 2 files")
    assert "compressed 0, reused 2 variants; 0 files (0 with variants) written" in result.output


def test_settings_come_from_pyproject_and_flags_override_them(
    sources: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (sources / "pyproject.toml").write_text(
        '[tool.staticserve]\nsources = ["assets"]\noutput = "from_config"\nencodings = ["gzip"]\n'
    )
    result = run(sources, "--encodings", "br", "--prefix", "/assets", monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    manifest = Manifest.load(sources / "from_config")
    assert manifest.prefix == "/assets/"
    assert set(manifest.assets["css/app.css"].encodings) == {"br"}


def test_config_flag_reads_another_file(sources: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (sources / "static.toml").write_text('[tool.staticserve]\nsources = ["vendor"]\noutput = "o"\n')
    result = run(sources, "--config", "static.toml", monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    assert "lib.js" in Manifest.load(sources / "o").assets


def test_ignore_flag_adds_patterns(sources: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run(
        sources,
        "--source",
        "vendor",
        "--output",
        "out",
        "--ignore",
        "*.js",
        monkeypatch=monkeypatch,
    )
    assert list(Manifest.load(sources / "out").assets) == ["css/app.css"]


def test_dry_run_writes_nothing(sources: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(
        sources, "--source", "assets", "--output", "out", "--dry-run", monkeypatch=monkeypatch
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Would build 2 files")
    assert re.search(r"css/app\.[0-9a-f]{12}\.css\n", result.output)
    assert not (sources / "out").exists()


def test_help_documents_every_option_with_its_config_key() -> None:
    text = " ".join(
        CliRunner().invoke(main, ["build", "--help"], terminal_width=100).output.split()
    )
    for option in ("--source", "--output", "--prefix", "--config", "--keep", "--strict", "--jobs", "--encodings", "--ignore", "--json", "--quiet", "--dry-run", "--clear", "--package", "--min-size", "--rewrite-js"):  # fmt: skip
        assert option in text, option
    for key in ("config: output", "config: keep", "config: encodings", "config: strict"):
        assert key in text, key


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "staticserve", "build", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--source", "nowhere", "--output", "out"], 2, "Error: source folder nowhere does not exist"),
        ([], 2, "Error: no sources: pass --source DIR"),
        (["--source", "assets", "--output", "assets/out"], 2, "assets/out overlaps source"),
        (["--source", "assets", "--output", "out", "--encodings", "lzma"], 2, "Error: encodings: unknown encoding 'lzma'"),
        (["--source", "assets", "--output", "out", "--keep", "0"], 2, "Error: keep: must be at least 1"),
        (["--source", "broken", "--output", "out", "--strict"], 1, "Error: 1 broken reference(s); nothing was published:"),
        (["--source", "assets", "--output", "out", "--config", "nope.toml"], 2, "Error: --config nope.toml: no such file"),
        (["--source", "assets", "--output", "out", "--keep", "many"], 2, "Error: keep: must be a whole number of builds, got 'many'"),
    ],
    ids=["missing source", "no sources", "output inside source", "unknown encoding", "keep zero", "strict broken reference", "missing config", "keep not a number"],
)  # fmt: skip
def test_user_mistakes_get_one_clear_line_and_the_documented_exit_code(
    sources: Path, args: list[str], code: int, message: str
) -> None:
    write_tree(sources / "broken", {"a.css": "a{background:url(missing.png)}"})
    result = cli(sources, *args)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_file_name_that_is_not_utf8_is_a_warning_not_a_traceback(sources: Path) -> None:
    """Regression: the build crashed in Manifest.content_hash, leaving an output that every
    later build refused."""
    with open(os.fsencode(sources / "assets") + b"/bad\xff.css", "wb") as file:
        file.write(b"b{}")
    for _run in range(2):
        result = cli(sources, "--source", "assets", "--output", "out")
        assert (result.returncode, result.stderr) == (0, "")
        assert "assets/bad\\xff.css: the file name is not valid UTF-8" in result.stdout
    assert result.stdout.startswith("Up to date: 2 files")


def test_a_corrupt_manifest_in_the_output_is_reported_not_a_traceback(sources: Path) -> None:
    (sources / "out").mkdir()
    (sources / "out/staticserve.json").write_text('{"version": 99}')
    result = cli(sources, "--source", "assets", "--output", "out")
    assert result.returncode == 1
    assert "manifest version 99" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("corrupt", ['{"broken', '{"version": 99}', "[]"], ids=["cut short", "unknown version", "not a manifest"])  # fmt: skip
def test_a_corrupt_manifest_names_the_way_out_and_clear_rebuilds_over_it(
    sources: Path, corrupt: str
) -> None:
    """Regression: a corrupt manifest blocked every build, --clear included, and the advice
    ("run `staticserve build` again") sent the user round in a loop."""
    assert cli(sources, "--source", "assets", "--output", "out").returncode == 0
    (sources / "out/staticserve.json").write_text(corrupt)
    refused = cli(sources, "--source", "assets", "--output", "out")
    assert refused.returncode == 1
    assert len(refused.stderr.splitlines()) == 1, refused.stderr
    assert "run `staticserve build --clear` to rebuild the output from scratch" in refused.stderr
    assert "build` again" not in refused.stderr

    rebuilt = cli(sources, "--source", "assets", "--output", "out", "--clear")
    assert (rebuilt.returncode, rebuilt.stderr) == (0, ""), rebuilt.stderr
    assert "could not be read" in rebuilt.stdout  # said, not silently replaced
    manifest = Manifest.load(sources / "out")
    assert set(manifest.assets) == {"css/app.css", "img/x.png"}
    again = cli(sources, "--source", "assets", "--output", "out")
    assert again.stdout.startswith("Up to date: 2 files"), again.stdout + again.stderr


def counts(summary: str, phrase: str) -> tuple[int, int]:
    """(files, files with variants) from "N files (M with variants) <phrase>"."""
    match = re.search(rf"(\d+) files \((\d+) with variants\) {phrase}", summary)
    assert match, summary
    return int(match[1]), int(match[2])


def test_a_dry_run_counts_what_the_build_then_writes(sources: Path) -> None:
    """Regression: the dry run counted no variants ("498 files would be written") and the
    build counted them ("wrote 1494 files")."""
    write_tree(sources / "assets", {f"css/part{i}.css": compressible(3000 + i) for i in range(5)})
    args = ("--source", "assets", "--output", "out")
    for change in ("first build", "one file changed", "a variant deleted"):
        if change == "one file changed":
            write_tree(sources / "assets", {"css/part0.css": compressible(4000)})
        elif change == "a variant deleted":
            next((sources / "out/css").glob("part1.*.css.br")).unlink()
        planned = counts(cli(sources, *args, "--dry-run").stdout, "would be written")
        result = cli(sources, *args)
        assert result.returncode == 0, result.stderr
        assert counts(result.stdout, "written") == planned, change
        assert planned[1] > planned[0] or change == "a variant deleted"


def test_a_dry_run_counts_what_the_build_then_prunes(sources: Path) -> None:
    """Regression: a dry run said "pruned": 0 where the build then pruned the deleted file's."""
    write_tree(sources / "assets", {f"css/part{i}.css": compressible(3000 + i) for i in range(3)})
    args = ("--source", "assets", "--output", "out", "--keep", "1", "--json")
    assert cli(sources, *args).returncode == 0
    (sources / "assets/css/part2.css").unlink()
    planned = json.loads(cli(sources, *args, "--dry-run").stdout)["pruned"]
    done = json.loads(cli(sources, *args).stdout)["pruned"]
    assert planned == done > 0


def test_clear_over_unchanged_inputs_keeps_the_generation(sources: Path) -> None:
    """Regression: --clear published the same files again as a new generation."""
    args = ("--source", "assets", "--output", "out")
    cli(sources, *args)
    result = cli(sources, *args, "--clear")
    assert result.stdout.startswith("Up to date: 2 files"), result.stdout + result.stderr
    assert "(generation 1)" in result.stdout
    assert Manifest.load(sources / "out").generation == 1


def test_the_ignore_help_does_not_promise_the_defaults_always_apply() -> None:
    """Regression: the help said "always: .* *~ …" where ignore_defaults = false drops them."""
    text = " ".join(CliRunner().invoke(main, ["build", "--help"], terminal_width=100).output.split())  # fmt: skip
    ignore_help = text[text.index("--ignore GLOB") : text.index("--rewrite-js")]
    assert "always" not in ignore_help
    assert "ignore_defaults = false" in ignore_help


@pytest.mark.parametrize("how", ["--package", "config file"])
def test_a_package_of_the_project_is_found_by_the_console_script(tmp_path: Path, how: str) -> None:
    """Regression: ``staticserve build --package blog`` said "not installed" for the project's
    own package, which ``python -m staticserve`` and the server found: the console script does
    not put the working folder on sys.path. Now the working folder and the config file's folder
    are searched first, in both."""
    script = Path(sys.executable).parent / "staticserve"
    if not script.exists():
        pytest.skip("no staticserve console script beside this Python")
    project = tmp_path / "project"
    write_tree(project, {"blog/__init__.py": "", "blog/static/blog/style.css": "a{}"})
    if how == "--package":
        cwd, args = project, ["--package", "blog", "--output", "out"]
    else:  # run from elsewhere: the config file's folder is where its packages are
        (project / "pyproject.toml").write_text(
            '[tool.staticserve]\npackages = ["blog"]\noutput = "out"\n'
        )
        cwd, args = tmp_path, ["--config", "project/pyproject.toml"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run(
        [str(script), "build", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert list(Manifest.load(project / "out").assets) == ["blog/style.css"]
