"""Helpers for build tests: source trees in tmp_path, built with the Python API."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from staticserve.manifest import Manifest
from staticserve.pipeline import BuildConfig, BuildReport, Source, build
from staticserve.pipeline.unchanged import RACY_SECONDS

Tree = Mapping[str, "str | bytes"]


def write_tree(root: Path, files: Tree) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    return root


def settle() -> None:
    """Let files just written grow older than the racy window (pipeline/unchanged.py): a build
    trusts the stamp of a file changed shortly before it only after reading it once more."""
    time.sleep(RACY_SECONDS * 1.5)


def compressible(n: int = 2000, word: str = "body { color: red; }\n") -> str:
    return (word * (n // len(word) + 1))[:n]


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., BuildReport]:
    """``project(files, **settings)`` writes ``files`` under ``assets/`` and builds into ``out/``."""

    def run(files: Tree | None = None, **settings: Any) -> BuildReport:
        if files is not None:
            write_tree(tmp_path / "assets", files)
        settings.setdefault("sources", (Source(Path("assets")),))
        run_options = {
            k: settings.pop(k) for k in ("clear", "dry_run", "progress", "notice") if k in settings
        }
        config = BuildConfig(base_dir=tmp_path, output=Path("out"), **settings)
        return build(config, **run_options)

    return run


def build_with_cache(base: Path, output: str, **settings: Any) -> BuildReport:
    """Build ``base/assets`` into ``base/output`` with the cache folder ``base/cache`` (each call
    may name another output, as a clean checkout would have)."""
    config = BuildConfig(
        base_dir=base,
        sources=(Source(Path("assets")),),
        output=Path(output),
        cache_dir=Path("cache"),
        **settings,
    )
    return build(config)


def load(out: Path) -> Manifest:
    return Manifest.load(out)
