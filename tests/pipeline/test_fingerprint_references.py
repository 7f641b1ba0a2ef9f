"""References as a browser follows them, through the whole fingerprint stage: the rewritten
reference must name the hashed file."""

from __future__ import annotations

import hashlib

from staticserve.pipeline.fingerprint import Fingerprinted, Problem, fingerprint


def run(files: dict[str, bytes]) -> tuple[dict[str, Fingerprinted], list[Problem]]:
    results, problems = fingerprint(files, prefix="/static/", strict=True)
    return {r.logical: r for r in results}, problems


def short(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def test_dynamic_import_of_a_template_literal_points_at_the_hashed_module() -> None:
    lazy = b"export const x = 1\n"
    results, problems = run(
        {"js/app.js": b"const m = await import(`./lazy.js`)\n", "js/lazy.js": lazy}
    )
    assert problems == []
    assert (
        results["js/app.js"].data == f"const m = await import(`./lazy.{short(lazy)}.js`)\n".encode()
    )
