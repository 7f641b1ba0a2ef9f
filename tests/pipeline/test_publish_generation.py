"""The build's assets are made with their generation: publish does not copy each to set it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from staticserve.manifest import Asset
from staticserve.pipeline import BuildReport

from .conftest import compressible, load


def test_assets_carry_their_generation_from_the_start(
    project: Callable[..., BuildReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    copied: list[Any] = []
    replace = dataclasses.replace

    def counting(obj: Any, /, **changes: Any) -> Any:
        if isinstance(obj, Asset):
            copied.append(obj)
        return replace(obj, **changes)

    monkeypatch.setattr(dataclasses, "replace", counting)
    files = {"a.css": compressible(), "ü b/c d.js": "let x = 1\n", "img/e.0123456789ab.png": "x"}
    first = project(files)
    second = project({"a.css": compressible(3000)})  # a change: a second generation
    out = first.output
    assert (first.generation, second.generation) == (1, 2)
    assert {a.generation for a in load(out).assets.values()} == {2}
    assert copied == []
