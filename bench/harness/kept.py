"""Sections a run skipped (``--skip-serve`` ...), kept from the previous results rather than
dropped: from ``results.json`` when it has them, else as the Markdown of the previous
``RESULTS.md`` (``results/`` is not in git; ``RESULTS.md`` is)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

HEADINGS = {"serving": "## Serving", "build": "## Build", "startup": "## Startup and memory"}
_SERVING_TARGET = re.compile(r"^- (PASS|FAIL) — (uvicorn|hypercorn|granian|gunicorn-[a-z]+)[,:]")
_STARTUP_TARGET = re.compile(r"^- (PASS|FAIL) — staticserve-(asgi|wsgi):")
_GENERATED = re.compile(r"^Generated (.+?) by ", re.MULTILINE)


def target_section(line: str) -> str:
    """Which section a target line of RESULTS.md judges."""
    if _SERVING_TARGET.match(line):
        return "serving"
    if _STARTUP_TARGET.match(line):
        return "startup"
    return "build"


def _section(lines: list[str], heading: str) -> list[str] | None:
    """The lines under ``heading`` up to the next ``## `` heading (None: no such heading)."""
    if heading not in lines:
        return None
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start:end]


def from_markdown(text: str, section: str) -> dict[str, Any] | None:
    """A section of a RESULTS.md and its target lines; None when it has no such section."""
    lines = text.splitlines()
    body = _section(lines, HEADINGS[section])
    if body is None or not any(line.strip() for line in body):
        return None
    targets = _section(lines, "## Targets") or []
    kept = [t for t in targets if t.startswith("- ") and target_section(t) == section]
    if section == "serving":  # the paragraph under the targets is about serving
        kept += ["", *(t for t in targets if t.strip() and not t.startswith("- "))]
    # A section this RESULTS.md kept from a run before it was measured then, not when it was made.
    carried = re.search(rf"kept from an earlier one[^\n]*?\b{section} \(([^)]+)\)", text)
    generated = _GENERATED.search(text)
    return {
        "date": carried.group(1)
        if carried
        else generated.group(1)
        if generated
        else "an earlier run",
        "targets": [t for t in kept if t or kept[-1] != ""],
        "markdown": "\n".join(body).strip(),
    }


def keep(results: dict[str, Any], skipped: list[str], results_json: Path, results_md: Path) -> None:
    """Put into ``results`` each skipped section: from the previous results.json, else its
    kept Markdown, else the previous RESULTS.md; ``kept_from_previous`` says from when."""
    previous: dict[str, Any] = {}
    if results_json.exists():
        try:
            previous = json.loads(results_json.read_text())
        except (OSError, json.JSONDecodeError):
            previous = {}
    dates = previous.get("kept_from_previous", {})
    markdown = results_md.read_text() if results_md.exists() else ""
    for section in skipped:
        if section in previous:
            results[section] = previous[section]
            date = dates.get(section, previous.get("date", "an earlier run"))
        elif section in previous.get("kept_markdown", {}):
            results.setdefault("kept_markdown", {})[section] = previous["kept_markdown"][section]
            date = dates.get(section, previous["kept_markdown"][section]["date"])
        elif (found := from_markdown(markdown, section)) is not None:
            results.setdefault("kept_markdown", {})[section] = found
            date = found["date"]
        else:
            continue
        results.setdefault("kept_from_previous", {})[section] = date


def lines(results: dict[str, Any], section: str) -> list[str] | None:
    """A section kept as the Markdown of an earlier RESULTS.md, for RESULTS.md; None if not."""
    found = results.get("kept_markdown", {}).get(section)
    return None if found is None else [HEADINGS[section], "", found["markdown"]]
