"""A build killed with SIGKILL at any moment leaves the live build complete and servable."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from staticserve.manifest import ENCODING_SUFFIXES, MANIFEST_NAME, Manifest
from staticserve.pipeline.output_dir import STATE_DIR

from ..conftest import check_live_build
from .conftest import write_tree


def make_corpus(root: Path, version: int, count: int = 60) -> None:
    rng = random.Random(version)
    files = {}
    for i in range(count):
        words = " ".join(rng.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(3000))
        files[f"css/f{i}.css"] = f"/* v{version} */ .c{i} {{ content: '{words}' }}\n"
    files["css/all.css"] = "".join(f'@import "f{i}.css";\n' for i in range(count))
    write_tree(root, files)


def build_command(tmp_path: Path) -> list[str]:
    return [sys.executable, "-m", "staticserve", "build", "--source", "assets", "--output", "out", "--quiet"]  # fmt: skip


def leftovers(out: Path, manifest: Manifest) -> list[str]:
    expected = manifest.files() | {MANIFEST_NAME}
    for asset in manifest.assets.values():
        expected.add(asset.logical)
        expected.update(asset.logical + ENCODING_SUFFIXES[e] for e in asset.encodings)
    on_disk = {
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and STATE_DIR not in p.parts
    }
    return sorted(on_disk - expected)


@pytest.mark.parametrize("trial", range(4))
def test_sigkill_at_a_random_moment_leaves_the_previous_build_servable(
    tmp_path: Path, trial: int
) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    make_corpus(tmp_path / "assets", version=0)
    subprocess.run(build_command(tmp_path), cwd=tmp_path, env=env, check=True)
    first = Manifest.load(tmp_path / "out")

    make_corpus(tmp_path / "assets", version=1)
    started = time.monotonic()
    process = subprocess.Popen(build_command(tmp_path), cwd=tmp_path, env=env)
    time.sleep(random.Random(trial).uniform(0.2, 1.5))
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert time.monotonic() - started < 60

    live = check_live_build(tmp_path / "out")
    assert live.generation in (first.generation, first.generation + 1)

    subprocess.run(build_command(tmp_path), cwd=tmp_path, env=env, check=True)
    final = check_live_build(tmp_path / "out")
    assert leftovers(tmp_path / "out", final) == []
    assert not list((tmp_path / "out").rglob("*staticserve-tmp"))
