"""A build killed with SIGKILL at each moment of its writes leaves the live build complete.

The build runs as a subprocess that freezes itself at a named moment (:mod:`tests.paused_build`);
the test reads the output to check the build stands where it was aimed, kills it there, checks
the live build file by file, and builds again: the next build recovers and leaves nothing behind.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from staticserve.manifest import ENCODING_SUFFIXES, MANIFEST_NAME, Manifest
from staticserve.pipeline.output_dir import STATE_DIR

from .. import paused_build
from ..conftest import check_live_build
from .conftest import write_tree

BUILD_ARGS = ["build", "--source", "assets", "--output", "out", "--quiet"]


def make_corpus(root: Path, version: int, count: int = 12) -> None:
    rng = random.Random(version)
    files = {}
    for i in range(count):
        words = " ".join(rng.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(3000))
        files[f"css/f{i}.css"] = f"/* v{version} */ .c{i} {{ content: '{words}' }}\n"
    files["css/all.css"] = "".join(f'@import "f{i}.css";\n' for i in range(count))
    write_tree(root, files)


def leftovers(out: Path, manifest: Manifest) -> list[str]:
    expected = manifest.files() | {MANIFEST_NAME}
    for asset in manifest.assets.values():
        expected.add(asset.logical)
        expected.update(asset.logical + ENCODING_SUFFIXES[e] for e in asset.encodings)
    on_disk = {
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and STATE_DIR not in p.parts
    }
    return sorted(on_disk - expected)


@pytest.mark.parametrize("moment", paused_build.MOMENTS)
def test_sigkill_at_each_moment_leaves_the_previous_build_servable(
    tmp_path: Path, moment: str
) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2])])}
    make_corpus(tmp_path / "assets", version=0)
    command = [sys.executable, "-m", "staticserve", *BUILD_ARGS]
    subprocess.run(command, cwd=tmp_path, env=env, check=True)
    first = Manifest.load(tmp_path / "out")

    make_corpus(tmp_path / "assets", version=1)
    before = paused_build.standing(tmp_path / "out")
    marker = tmp_path / "paused"
    process = paused_build.start(moment, BUILD_ARGS, cwd=tmp_path, env=env, marker=marker)
    try:
        assert paused_build.wait_paused(process, marker) == moment
        now = paused_build.standing(tmp_path / "out")
        assert paused_build.stands_at(moment, now, before), now.describe()
    finally:
        paused_build.kill(process)

    live = check_live_build(tmp_path / "out")
    assert live.generation == first.generation + (moment == "switched")

    subprocess.run(command, cwd=tmp_path, env=env, check=True)
    final = check_live_build(tmp_path / "out")
    assert final.generation > first.generation
    assert leftovers(tmp_path / "out", final) == []
    assert not list((tmp_path / "out").rglob("*staticserve-tmp"))
    assert not (tmp_path / "out" / paused_build.JOURNAL).exists()
