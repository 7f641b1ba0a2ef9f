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


def keep_skipped(
    monkeypatch: pytest.MonkeyPatch,
    results_json: Path,
    results_md: Path,
    results: dict[str, object],
    skipped: list[str],
) -> None:
    """run.keep_skipped with the previous results read from these two files."""
    run = _run_module()
    monkeypatch.setattr(run, "RESULTS_JSON", results_json)
    monkeypatch.setattr(run, "RESULTS_MD", results_md)
    run.keep_skipped(results, skipped)


def test_skipped_sections_are_kept_from_the_previous_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = tmp_path / "results.json"
    previous.write_text(
        json.dumps({"date": "2026-12-01 10:00 UTC", "serving": {"contenders": [1]}, "build": {}})
    )
    results: dict[str, object] = {"date": "now", "build": {"new": True}}
    keep_skipped(monkeypatch, previous, tmp_path / "absent.md", results, ["serving", "startup"])
    assert results["serving"] == {"contenders": [1]}
    assert results["build"] == {"new": True}  # measured in this run: not replaced
    assert "startup" not in results  # nothing to keep
    assert results["kept_from_previous"] == {"serving": "2026-12-01 10:00 UTC"}


def test_a_section_kept_twice_keeps_the_date_it_was_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    results: dict[str, object] = {}
    keep_skipped(monkeypatch, previous, tmp_path / "absent.md", results, ["serving"])
    assert results["kept_from_previous"] == {"serving": "2026-11-30 09:00 UTC"}


OLD_RESULTS_MD = """# staticserve benchmark results

Generated 2026-11-28 06:27 UTC by `python bench/run.py` (full run, 712 s).

## Targets

- FAIL — uvicorn, small: staticserve >= 0.9x bare ASGI: 0.69x
- PASS — gunicorn-gthread, 304: staticserve WSGI >= 0.9x bare WSGI: 0.97x
- FAIL — full build >= 3x faster than collectstatic + WhiteNoise: 0.84x
- PASS — staticserve-asgi: 10,000-file manifest startup <= 300 ms: 221 ms

What bounds the uvicorn ratios: the header fields.

## Serving

| contender | req/s |
|---|---|
| nginx | 30,000 |

## Build

old build figures

## Startup and memory

| middleware | construct ms |
|---|---|
| staticserve-asgi | 221 |

## Caveats

- noisy
"""


def test_without_results_json_skipped_sections_are_kept_from_results_md(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """results/ is not in git, RESULTS.md is: a fresh checkout keeps the committed figures."""
    _run_module()  # puts bench/ on the import path
    from harness import report, targets

    old = tmp_path / "RESULTS.md"
    old.write_text(OLD_RESULTS_MD)
    results: dict[str, object] = {"build": {"error": "new build figures"}}
    keep_skipped(monkeypatch, tmp_path / "absent.json", old, results, ["serving", "startup"])
    assert results["kept_from_previous"] == {
        "serving": "2026-11-28 06:27 UTC",
        "startup": "2026-11-28 06:27 UTC",
    }
    header = {"nproc": 2, "cpu_model": "x", "kernel": "k", "load_average_before": [0, 0, 0]}
    results |= {
        "date": "now",
        "command": "python bench/run.py --skip-serve --skip-startup",
        "mode": "full",
        "elapsed_s": 1.0,
        "machine": header | {"busy_cores_before": 0},
        "versions": {},
        "wrk": {"threads": 1, "connections": 32, "duration_s": 1, "warmup_s": 0},
    }
    text = report.render(results, targets.evaluate(results))
    assert "| nginx | 30,000 |" in text
    assert "| staticserve-asgi | 221 |" in text
    assert "old build figures" not in text
    assert "- FAIL — uvicorn, small: staticserve >= 0.9x bare ASGI: 0.69x" in text
    assert "- PASS — staticserve-asgi: 10,000-file manifest startup <= 300 ms: 221 ms" in text
    assert "What bounds the uvicorn ratios: the header fields." in text
    assert "full build >= 3x faster than collectstatic + WhiteNoise: 0.84x" not in text
    assert "not measured (startup benchmark not run)" not in text
    lines = text.splitlines()
    assert (
        lines.index("## Serving") < lines.index("## Build") < lines.index("## Startup and memory")
    )


def test_a_section_a_results_md_kept_keeps_the_date_it_was_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A RESULTS.md made by a --skip-serve run says from when it kept serving: a third run
    carries that date on, not the date of the RESULTS.md it read it from."""
    old = tmp_path / "RESULTS.md"
    carried = OLD_RESULTS_MD.replace(
        "Generated 2026-11-28 06:27 UTC by `python bench/run.py` (full run, 712 s).\n",
        "Generated 2026-12-03 06:59 UTC by `python bench/run.py --skip-serve` (full run, 9 s).\n"
        "\n- Skipped in this run, kept from an earlier one (its machine and versions may "
        "differ): serving (2026-11-28 06:27 UTC), startup (2026-11-28 06:27 UTC).\n",
        1,
    )
    assert carried != OLD_RESULTS_MD
    old.write_text(carried)
    results: dict[str, object] = {}
    keep_skipped(monkeypatch, tmp_path / "absent.json", old, results, ["serving", "startup"])
    assert results["kept_from_previous"] == {
        "serving": "2026-11-28 06:27 UTC",
        "startup": "2026-11-28 06:27 UTC",
    }
