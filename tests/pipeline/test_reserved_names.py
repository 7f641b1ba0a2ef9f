"""Names the build keeps for itself, and names two source files would both be written under.

The manifest (``staticserve.json``) and the state folder (``.staticserve/``) at the output root,
and the temporary names beside every file, belong to staticserve: a source file published under
one of them is refused before anything is written, with one line naming the file and what to
do. So is a source file whose name is also the hashed name, the plain copy or a variant of
another file. Below the root, ``staticserve.json`` is just a file name like any other.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from staticserve.cli import main
from staticserve.errors import BuildError
from staticserve.manifest import MANIFEST_NAME, Manifest
from staticserve.pipeline import BuildReport

from ..conftest import LiveServer, check_live_build, wrap
from .conftest import Tree, compressible, write_tree

Project = Callable[..., BuildReport]

CSS = compressible(3000)
SHORT = hashlib.sha256(CSS.encode()).hexdigest()[:12]  # the hash the build gives CSS


def snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


# name -> (extra source files, the words the error must contain)
REFUSED: dict[str, tuple[Tree, str]] = {
    "the manifest's name": ({MANIFEST_NAME: '{"x": 1}'}, "staticserve.json"),
    "the manifest's name as a folder": ({f"{MANIFEST_NAME}/x.css": "x{}"}, "staticserve.json"),
    "the state folder's name as a file": ({".staticserve": "x"}, ".staticserve"),
    "a file in the state folder": ({".staticserve/cache.json": "{}"}, ".staticserve/cache.json"),
    "the state folder's lock": ({".staticserve/lock": ""}, ".staticserve/lock"),
    "a temporary name": ({".a.css.staticserve-tmp": "x"}, ".a.css.staticserve-tmp"),
    "a nested temporary name": ({"sub/.b.js.staticserve-tmp": "x"}, "sub/.b.js.staticserve-tmp"),
    "the br variant of another file's plain copy": ({"a.css.br": "not brotli"}, "a.css.br"),
    "the gzip variant, unicode and spaces": (
        {"ünï cödé 文件.css": CSS, "ünï cödé 文件.css.gz": "not gzip"},
        "ünï cödé 文件.css.gz",
    ),
    "another file's hashed name": ({f"a.{SHORT}.css": "a{color:red}"}, f"a.{SHORT}.css"),
    "the variant of another file's hashed name": ({f"a.{SHORT}.css.br": "x"}, f"a.{SHORT}.css.br"),
    "a folder named like another file's variant": ({"a.css.gz/x.png": "png"}, "a.css.gz"),
}


@pytest.mark.parametrize(("extra", "words"), REFUSED.values(), ids=list(REFUSED))
def test_a_source_file_under_a_name_the_build_writes_itself_is_refused_and_the_live_build_kept(
    project: Project, tmp_path: Path, extra: Tree, words: str
) -> None:
    project({"a.css": CSS, "img/x.png": b"\x89PNG" + os.urandom(300)}, ignore_defaults=False)
    out = tmp_path / "out"
    before = snapshot(out)
    write_tree(tmp_path / "assets", extra)
    with pytest.raises(BuildError) as failure:
        project(ignore_defaults=False)
    message = str(failure.value)
    assert words in message
    assert "nothing was published" in message
    assert "\n" not in message  # one line
    assert snapshot(out) == before  # manifest, files, state: untouched
    check_live_build(out)


def test_the_command_refuses_a_source_named_like_the_manifest_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path / "s", {"a.css": "a{}", MANIFEST_NAME: '{"x":1}'})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["build", "--source", "s", "--output", "o"])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    assert str(Path("s") / MANIFEST_NAME) in lines[0]
    assert "rename" in lines[0]
    assert "--ignore" in lines[0]
    assert not (tmp_path / "o" / MANIFEST_NAME).exists()  # no build, not a wrong one
    (tmp_path / "s" / MANIFEST_NAME).unlink()
    assert CliRunner().invoke(main, ["build", "--source", "s", "--output", "o"]).exit_code == 0
    check_live_build(tmp_path / "o")


# Hostile names that are nobody else's: built and served like any other file.
ALLOWED: Tree = {
    "a.css": CSS,
    f"sub/{MANIFEST_NAME}": '{"nested": true}',
    f"{MANIFEST_NAME}.br": "a file, not a variant of anything",
    "sub/.staticserve/notes.txt": "only the root's state folder is reserved",
    "app.0123456789ab.css": "b{}",  # looks hashed; collides with nothing
    f"same.{SHORT}.css": CSS,  # its name is its own hash: the same bytes as same.css's
    "same.css": CSS,
    "my file (1).txt": "spaces and parentheses",
    "ünïcödé/文件 名.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
}


@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
def test_names_that_only_look_reserved_are_built_and_served(
    project: Project,
    tmp_path: Path,
    adapter: str,
    live_servers: dict[str, LiveServer],
    framework_apps: dict[str, Any],
) -> None:
    project(ALLOWED, ignore_defaults=False)
    out = tmp_path / "out"
    manifest = check_live_build(out)
    assert set(manifest.assets) == set(ALLOWED)
    assert manifest.assets[f"same.{SHORT}.css"].path == manifest.assets["same.css"].path
    server = live_servers[adapter]
    server.switch.target = wrap(adapter, framework_apps[adapter], out)
    with httpx.Client(base_url=server.url) as client:
        for logical, content in ALLOWED.items():
            expected = content.encode() if isinstance(content, str) else content
            for path in (logical, manifest.assets[logical].path):
                reply = client.get(manifest.prefix + path, headers={"accept-encoding": "identity"})
                assert (reply.status_code, reply.content) == (200, expected), path
        assert client.get(f"/static/{MANIFEST_NAME}").status_code == 404  # the app's 404
    assert Manifest.load(out).assets[f"sub/{MANIFEST_NAME}"].logical == f"sub/{MANIFEST_NAME}"
