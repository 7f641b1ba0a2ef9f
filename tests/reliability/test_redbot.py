"""HTTP lint by REDbot: no error-level ("bad") finding on what staticserve serves.

REDbot checks a response and runs its own follow-up requests (gzip negotiation, a range, an
If-None-Match and an If-Modified-Since revalidation). It runs (see :mod:`redbot_check`) against
uvicorn and gunicorn on 127.0.0.1 for a hashed asset, an unhashed name, a 304 and a range
request. Its exit code is 0 whatever it finds, so the levels of its HAR report are read:

- any ``bad`` finding fails the test;
- every ``warning`` must be one of :data:`ACCEPTED_WARNINGS`, each with the reason it is
  acceptable, so a new warning is looked at rather than ignored.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from staticserve.manifest import Manifest

from .conftest import PROJECT, Server, Site, child_env, make_site, record

pytest.importorskip(
    "redbot", reason="REDbot (Python 3.11+) is in the test extra: pip install -e '.[test]'"
)

# note id -> (the checks it may appear on, None for any; why it is acceptable)
ACCEPTED_WARNINGS: dict[str, tuple[set[str] | None, str]] = {
    "STORE_PUBLIC_UNNECESSARY": (
        None,
        "Cache-Control: public is redundant for a request without Authorization, but a static "
        "file served behind HTTP authentication (a staging site) still belongs in shared "
        "caches and CDNs, which RFC 9111 §3.5 allows only with public (or s-maxage).",
    ),
    "VARY_STATUS_MISMATCH": (
        {"304"},
        "REDbot revalidates with the identity ETag while asking for gzip. Each coding has its "
        "own strong ETag (RFC 9110 §8.8.3: a strong tag names one representation), so the gzip "
        "representation does not match the identity tag and its 200 is right.",
    ),
}


def notes(entry: dict[str, Any]) -> Iterator[dict[str, Any]]:
    pending = list(entry["_red_messages"])
    while pending:
        note = pending.pop()
        yield note
        pending.extend(note.get("subnotes", []))


def redbot(url: str, headers: list[str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "tests.reliability.redbot_check", url]
    for header in headers:
        command += ["-H", header]
    result = subprocess.run(
        command, cwd=PROJECT, env=child_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(tmp_path_factory.mktemp("redbot") / "project", stray=False)


def cases(site: Site) -> list[tuple[str, str, list[str], int]]:
    manifest = Manifest.load(site.out)
    css = manifest.assets["css/app.css"]
    clip = manifest.assets["media/clip.mp4"]
    return [
        ("hashed asset", "/static/" + css.path, [], 200),
        ("unhashed asset", "/static/css/app.css", [], 200),
        ("304", "/static/" + css.path, [f'If-None-Match: "{css.sha256[:16]}"'], 304),
        ("range request", "/static/" + clip.path, ["Range: bytes=0-99"], 206),
    ]


@pytest.mark.parametrize("kind", ["uvicorn", "gunicorn"])
def test_redbot_finds_nothing_bad(
    site: Site, kind: str, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = start_server(kind, site)
    findings: dict[str, set[str]] = {}
    unexplained: list[str] = []
    for name, path, headers, status in cases(site):
        report = redbot(f"http://127.0.0.1:{server.port}{path}", headers)
        entries = report["log"]["entries"]
        assert entries, f"{name}: REDbot got no response: {report}"
        assert entries[0]["response"]["status"] == status, name
        for note in notes(entries[0]):
            level = note["level"].lower()
            if level in ("bad", "warning", "warn"):
                finding = f"{level} {note['note_id']}: {note['summary']}"
                findings.setdefault(finding, set()).add(name)
                where, _ = ACCEPTED_WARNINGS.get(note["note_id"], (set(), ""))
                if level != "bad" and where is not None and name not in where:
                    unexplained.append(f"{name}: {finding}")
    bad = [finding for finding in findings if finding.startswith("bad")]
    assert bad == [], bad
    for finding, where in sorted(findings.items()):
        record(f"REDbot ({kind}) {finding}", sorted(where))
    assert unexplained == [], f"new REDbot warnings, explain or fix them: {unexplained}"
