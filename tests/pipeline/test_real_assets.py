"""Build a real third-party asset set (Django's admin, shipped in the django wheel)."""

from __future__ import annotations

import hashlib
import posixpath
from pathlib import Path
from urllib.parse import unquote

import pytest

from staticserve.manifest import Manifest
from staticserve.pipeline import BuildConfig, build
from staticserve.pipeline.fingerprint import HASH_LENGTH, syntax_of
from staticserve.pipeline.scan import find_references

pytest.importorskip("django", reason="django is a test dependency: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def admin_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    root = tmp_path_factory.mktemp("django-admin")
    report = build(
        BuildConfig(packages=("django.contrib.admin",), output=Path("out"), base_dir=root)
    )
    assert report.files > 50
    return root / "out", Manifest.load(root / "out")


def test_every_hashed_name_matches_its_content(admin_build: tuple[Path, Manifest]) -> None:
    out, manifest = admin_build
    for asset in manifest.assets.values():
        data = (out / asset.path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        assert digest == asset.sha256, asset.logical
        assert f".{digest[:HASH_LENGTH]}." in asset.path or asset.path.endswith(
            digest[:HASH_LENGTH]
        )


def test_every_rewritten_reference_resolves_to_a_file_in_the_output(
    admin_build: tuple[Path, Manifest],
) -> None:
    out, manifest = admin_build
    checked = 0
    for asset in manifest.assets.values():
        syntax = syntax_of(asset.path, rewrite_js=True)
        if syntax is None:
            continue
        text = (out / asset.path).read_bytes().decode("utf-8", "surrogateescape")
        for reference in find_references(text, syntax):
            if reference.path.startswith("/"):
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(asset.path), unquote(reference.path)))  # fmt: skip
            assert (out / target).is_file(), f"{asset.path}: {reference.url} -> {target}"
            assert f".{hashlib.sha256((out / target).read_bytes()).hexdigest()[:HASH_LENGTH]}." in target  # fmt: skip
            checked += 1
    assert checked >= 20  # the admin's CSS really references its images and fonts
