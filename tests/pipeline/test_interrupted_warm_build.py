"""Ctrl-C during a warm-cache build, which writes in the thread that takes the signal: the
interrupt may land inside a write, after the file (or its link to a cache entry) is in place but
before the build has noted it as written. The build must still remove it, or the next build
finds an output that is not empty and holds no staticserve.json, and refuses it."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from typing import Any

import pytest

from staticserve.manifest import MANIFEST_NAME, Manifest
from staticserve.pipeline.output_dir import STATE_DIR

from .conftest import build_with_cache, compressible, write_tree

publish_module = importlib.import_module("staticserve.pipeline.publish")

FILES = {
    "css/é clé.css": compressible(6000),
    "css/app.0123456789ab.css": compressible(4000, ".a { margin: 0 auto; }\n"),
    "js/ma in.js": compressible(5000, "export const answer = () => 42;\n"),
    "img/dot.png": b"\x89PNG\r\n\x1a\n" + bytes(300),
}


run = build_with_cache


def published(output: Path) -> dict[str, str]:
    """Every file the build left, by content; the manifest is compared by its assets instead,
    as it also records the second the build ran in."""
    return {
        str(p.relative_to(output)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in output.rglob("*")
        if p.is_file()
        and STATE_DIR not in p.relative_to(output).parts
        and p.relative_to(output) != Path(MANIFEST_NAME)
    }


@pytest.mark.parametrize("nth", [1, 2, 5, 9])
def test_ctrl_c_inside_a_warm_build_s_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nth: int
) -> None:
    write_tree(tmp_path / "assets", FILES)
    run(tmp_path, "ref")  # fills the cache: the next build is a warm one
    real = publish_module.write_atomic
    calls = [0]

    def interrupted(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)  # the file is in place...
        calls[0] += 1
        if calls[0] == nth:
            raise KeyboardInterrupt  # ...and the signal lands before the build notes it

    with monkeypatch.context() as patched:
        patched.setattr(publish_module, "write_atomic", interrupted)
        with pytest.raises(KeyboardInterrupt):
            run(tmp_path, "out")
    out = tmp_path / "out"
    assert published(out) == {}  # nothing was published, nothing left
    assert not (out / MANIFEST_NAME).exists()
    report = run(tmp_path, "out")
    assert report.compressed == 0
    assert published(out) == published(tmp_path / "ref")
    assert Manifest.load(out).assets == Manifest.load(tmp_path / "ref").assets
