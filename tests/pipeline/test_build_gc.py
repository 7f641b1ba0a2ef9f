"""A build pauses the cyclic garbage collector (it makes a few objects per file and almost no
cycles; each full collection walks every object alive) and always turns it back on."""

from __future__ import annotations

import gc
from collections.abc import Callable

import pytest

from staticserve.errors import BuildError
from staticserve.pipeline import BuildReport


def test_the_cycle_collector_rests_while_a_build_runs_and_is_back_after(
    project: Callable[..., BuildReport],
) -> None:
    seen: list[bool] = []
    project(
        {"café/a b.css": "body { color: red; }\n" * 200, "x.0123456789ab.js": "x"},
        progress=lambda stage, done, total: seen.append(gc.isenabled()),
    )
    assert seen
    assert not any(seen)  # paused at every moment the build reported
    assert gc.isenabled()
    with pytest.raises(BuildError):
        project({"b.css": "@import 'missing.css';"}, strict=True)
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_caller_stays_off(
    project: Callable[..., BuildReport],
) -> None:
    gc.disable()
    try:
        project({"a.css": "a { color: red }"})
        assert not gc.isenabled()
    finally:
        gc.enable()
