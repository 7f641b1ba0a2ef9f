from __future__ import annotations

import fnmatch
import importlib
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staticserve.errors import BuildError, ConfigError
from staticserve.pipeline.collect import collect, is_ignored, resolve_sources
from staticserve.pipeline.config import BuildConfig, Source

from .conftest import write_tree

collect_module = importlib.import_module("staticserve.pipeline.collect")  # not the function


def config_for(tmp_path: Path, *sources: Source, **settings: object) -> BuildConfig:
    return BuildConfig(sources=sources, base_dir=tmp_path, **settings)  # type: ignore[arg-type]


def test_the_first_source_wins_and_every_shadowed_duplicate_is_reported(tmp_path: Path) -> None:
    write_tree(tmp_path / "a", {"css/site.css": "first", "only-a.txt": "a"})
    write_tree(tmp_path / "b", {"css/site.css": "second", "only-b.txt": "b"})
    write_tree(tmp_path / "c", {"css/site.css": "third"})
    result = collect(config_for(tmp_path, Source(Path("a")), Source(Path("b")), Source(Path("c"))))
    assert result.files["css/site.css"].data == b"first"
    assert sorted(result.files) == ["css/site.css", "only-a.txt", "only-b.txt"]
    assert [(d.logical, d.winner.parent.parent.name, d.shadowed.parent.parent.name)
            for d in result.duplicates] == [("css/site.css", "a", "b"), ("css/site.css", "a", "c")]  # fmt: skip


def test_a_source_prefix_places_its_files_under_that_path(tmp_path: Path) -> None:
    write_tree(tmp_path / "vendor/bootstrap/dist", {"css/bootstrap.css": "x"})
    result = collect(config_for(tmp_path, Source(Path("vendor/bootstrap/dist"), "bootstrap")))
    assert list(result.files) == ["bootstrap/css/bootstrap.css"]


def test_default_ignores_skip_dotfiles_backups_and_caches(tmp_path: Path) -> None:
    write_tree(
        tmp_path / "a",
        {
            "app.js": "x",
            ".DS_Store": "x",
            ".git/config": "x",
            "app.js~": "x",
            "#app.js#": "x",
            "__pycache__/m.cpython-311.pyc": "x",
            "m.pyc": "x",
            "sub/.hidden/file.css": "x",
        },
    )
    assert list(collect(config_for(tmp_path, Source(Path("a")))).files) == ["app.js"]


def test_ignore_patterns_match_names_or_whole_paths(tmp_path: Path) -> None:
    write_tree(tmp_path / "a", {"a.scss": "x", "src/b.css": "x", "c.css": "x", "d/src/e.css": "x"})
    config = config_for(tmp_path, Source(Path("a")), ignore=("*.scss", "src/*"))
    assert sorted(collect(config).files) == ["c.css", "d/src/e.css"]


def test_names_with_spaces_and_unicode_are_collected(tmp_path: Path) -> None:
    write_tree(tmp_path / "a", {"img/my logo.png": b"x", "fonts/ünïcode €.woff2": b"y"})
    files = collect(config_for(tmp_path, Source(Path("a")))).files
    assert sorted(files) == ["fonts/ünïcode €.woff2", "img/my logo.png"]


def test_a_symlink_loop_is_reported_not_followed_forever(tmp_path: Path) -> None:
    write_tree(tmp_path / "a", {"sub/x.css": "x"})
    (tmp_path / "a/sub/loop").symlink_to(tmp_path / "a", target_is_directory=True)
    result = collect(config_for(tmp_path, Source(Path("a"))))
    assert "sub/x.css" in result.files
    assert any("symlink loop" in w for w in result.warnings)


def test_a_broken_symlink_is_a_warning(tmp_path: Path) -> None:
    write_tree(tmp_path / "a", {"x.css": "x"})
    (tmp_path / "a/gone.css").symlink_to(tmp_path / "nowhere.css")
    result = collect(config_for(tmp_path, Source(Path("a"))))
    assert list(result.files) == ["x.css"]
    assert any("broken symlink" in w for w in result.warnings)


def test_a_missing_source_folder_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"source folder nope does not exist"):
        resolve_sources(config_for(tmp_path, Source(Path("nope"))))


def test_an_unreadable_file_is_a_build_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path / "a", {"locked.css": "x"})
    path = tmp_path / "a/locked.css"
    if os.geteuid() == 0:  # root reads anything: make the open itself fail as EACCES would
        real = open

        def refusing(file: Any, *args: Any, **kwargs: Any) -> Any:
            if Path(file) == path:
                raise PermissionError(13, "Permission denied", str(file))
            return real(file, *args, **kwargs)

        monkeypatch.setattr(collect_module, "open", refusing, raising=False)
    else:
        path.chmod(0)
    with pytest.raises(BuildError, match=r"locked\.css: cannot read: Permission denied"):
        collect(config_for(tmp_path, Source(Path("a"))))


def test_an_installed_package_contributes_its_static_folder_after_the_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path / "site/demo_pkg_static", {"__init__.py": "", "static/pkg.css": "p"})
    write_tree(tmp_path / "site/demo_pkg_static/static", {"shared.css": "from package"})
    write_tree(tmp_path / "a", {"shared.css": "from folder"})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    config = config_for(tmp_path, Source(Path("a")), packages=("demo_pkg_static",))
    result = collect(config)
    assert result.files["pkg.css"].data == b"p"
    assert result.files["shared.css"].data == b"from folder"
    assert (
        result.duplicates[0].shadowed
        == (tmp_path / "site/demo_pkg_static/static/shared.css").resolve()
    )
    sys.modules.pop("demo_pkg_static", None)


@pytest.mark.parametrize(
    ("name", "message"),
    [("no_such_package_xyz", "is not installed"), ("json.decoder", "is a module, not a package")],
)
def test_a_bad_package_source_is_a_config_error(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_sources(config_for(tmp_path, packages=(name,)))


def test_symlinks_out_of_the_source_folder_are_skipped_with_a_warning(tmp_path: Path) -> None:
    write_tree(tmp_path / "a", {"css/x.css": "x"})
    write_tree(tmp_path / "elsewhere", {"secret.txt": "s", "lib/y.js": "y"})
    (tmp_path / "a/secret.txt").symlink_to(tmp_path / "elsewhere/secret.txt")
    (tmp_path / "a/lib").symlink_to(tmp_path / "elsewhere/lib", target_is_directory=True)
    (tmp_path / "a/alias.css").symlink_to(tmp_path / "a/css/x.css")  # inside: followed
    result = collect(config_for(tmp_path, Source(Path("a"))))
    assert sorted(result.files) == ["alias.css", "css/x.css"]
    skipped = [w for w in result.warnings if "leads outside its source folder" in w]
    assert len(skipped) == 2
    assert any("secret.txt" in w for w in skipped)


def test_a_name_that_is_not_utf8_is_skipped_with_a_warning_showing_its_bytes(
    tmp_path: Path,
) -> None:
    """Regression: such a name reached the manifest, whose JSON cannot hold it (a traceback)."""
    write_tree(tmp_path / "a", {"ok.css": "a{}"})
    os.mkdir(os.fsencode(tmp_path / "a") + b"/dir\xfe")
    for name in (b"bad\xff.css", b"dir\xfe/inner.css"):
        with open(os.fsencode(tmp_path / "a") + b"/" + name, "wb") as file:
            file.write(b"b{}")
    result = collect(config_for(tmp_path, Source(Path("a"))))
    assert list(result.files) == ["ok.css"]
    skipped = sorted(w for w in result.warnings if "not valid UTF-8" in w)
    assert len(skipped) == 2
    assert "bad\\xff.css" in skipped[0]
    assert "dir\\xfe" in skipped[1]
    assert all(w.isascii() for w in skipped)


_PATTERN_TEXT = st.text(alphabet="ab.*?[]!/~#", max_size=6)


@given(
    patterns=st.lists(_PATTERN_TEXT, max_size=4).map(tuple),
    relative=st.lists(st.text(alphabet="ab.~#", min_size=1, max_size=4), min_size=1, max_size=3),
)
def test_ignoring_matches_fnmatch_pattern_by_pattern(
    patterns: tuple[str, ...], relative: list[str]
) -> None:
    """Every pattern compiled into one expression matches exactly what fnmatchcase matches
    (the name, or the whole path for a pattern with a '/')."""
    name, joined = relative[-1], "/".join(relative)
    expected = any(fnmatch.fnmatchcase(joined if "/" in p else name, p) for p in patterns)
    assert is_ignored(tuple(relative), patterns) == expected
