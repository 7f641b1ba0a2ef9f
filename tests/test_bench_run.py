"""bench/run.py: a section skipped in this run keeps its figures from the previous results."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))


def _run_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_skipped_sections_are_kept_from_the_previous_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _run_module()
    previous = tmp_path / "results.json"
    previous.write_text(
        json.dumps({"date": "2026-12-01 10:00 UTC", "serving": {"contenders": [1]}, "build": {}})
    )
    monkeypatch.setattr(run, "RESULTS_JSON", previous)
    results = {"date": "now", "build": {"new": True}}
    run.keep_skipped(results, ["serving", "startup"])
    assert results["serving"] == {"contenders": [1]}
    assert results["build"] == {"new": True}  # measured in this run: not replaced
    assert "startup" not in results  # nothing to keep
    assert results["kept_from_previous"] == {"serving": "2026-12-01 10:00 UTC"}


def test_a_section_kept_twice_keeps_the_date_it_was_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _run_module()
    previous = tmp_path / "results.json"
    previous.write_text(
        json.dumps(
            {
                "date": "2026-12-02 10:00 UTC",
                "serving": {"contenders": []},
                "kept_from_previous": {"serving": "2026-11-30 09:00 UTC"},
            }
        )
    )
    monkeypatch.setattr(run, "RESULTS_JSON", previous)
    results: dict[str, object] = {}
    run.keep_skipped(results, ["serving"])
    assert results["kept_from_previous"] == {"serving": "2026-11-30 09:00 UTC"}
