"""Choosing a representation by Accept-Encoding q-values (RFC 9110 §12.5.3), as a table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staticserve.core import IMMUTABLE, VariantSource, build_resource
from staticserve.core.negotiate import choose

# Sizes as a build leaves them: br smallest, then zstd, then gzip, identity largest.
SIZES = {"identity": 100, "br": 30, "zstd": 35, "gzip": 40}
RESOURCE = build_resource(
    [
        VariantSource(coding, "t" if coding == "identity" else f"t-{coding}", size, b"x" * size)
        for coding, size in SIZES.items()
    ],
    content_type=b"text/css; charset=utf-8",
    cache=IMMUTABLE,
)


def chosen(field: bytes | None) -> str:
    return choose(RESOURCE.representations, field, RESOURCE.identity).coding


CHOICES = [
    ("no field: identity", None, "identity"),
    ("an empty field: identity", b"", "identity"),
    ("every coding at q=1: the smallest", b"gzip, deflate, br, zstd", "br"),
    ("a higher q beats a smaller variant", b"br;q=0.1, gzip;q=1", "gzip"),
    ("identity competes: its higher q wins", b"gzip;q=0.5, identity;q=1", "identity"),
    ("identity listed at q=1 ties and loses to a smaller coding", b"gzip, identity", "gzip"),
    ("equal q: the smallest", b"gzip;q=0.5, zstd;q=0.5", "zstd"),
    ("q=0 refuses", b"br;q=0, gzip", "gzip"),
    ("thousandths count", b"br;q=0.501, gzip;q=0.502", "gzip"),
    ("the wildcard: the smallest", b"*", "br"),
    ("the wildcard weighs what is not listed", b"*;q=0.5, gzip;q=0.6", "gzip"),
    ("the wildcard weighs an unlisted identity too", b"*;q=0.5, br;q=0.4", "zstd"),
    ("an unlisted identity ranks below every named coding", b"gzip;q=0.2", "gzip"),
    ("identity;q=0 alone: identity anyway (no 406)", b"identity;q=0", "identity"),
    ("*;q=0: identity anyway (no 406)", b"*;q=0", "identity"),
    ("nothing offered is acceptable: identity", b"deflate, compress", "identity"),
    ("x-gzip is gzip", b"x-gzip;q=0.9, br;q=0.8", "gzip"),
    ("codings and q are case-insensitive", b"GZIP;Q=0.9, BR;q=0.8", "gzip"),
    ("a malformed q drops its member", b"br;q=2, gzip;q=0.5", "gzip"),
    ("the first mention of a coding counts", b"gzip;q=0.9, br;q=0.5, gzip;q=0.1", "gzip"),
]


@pytest.mark.parametrize(("field", "coding"), [c[1:] for c in CHOICES], ids=[c[0] for c in CHOICES])
def test_the_highest_q_wins_then_the_smallest(field: bytes | None, coding: str) -> None:
    assert chosen(field) == coding


CODINGS = ["identity", "br", "zstd", "gzip", "*", "deflate"]
QVALUES = st.sampled_from(["0", "0.001", "0.1", "0.5", "0.50", "0.9", "1", "1.0", None])


def _weight(weights: dict[str, int], coding: str) -> int:
    """RFC 9110 §12.5.3, in thousandths; an unlisted identity is acceptable but least preferred."""
    if coding in weights:
        return weights[coding]
    if "*" in weights:
        return weights["*"]
    return 0 if coding != "identity" else -1  # -1: acceptable, below any listed coding


@given(st.dictionaries(st.sampled_from(CODINGS), QVALUES, max_size=6))
def test_the_choice_has_the_highest_weight_and_is_the_smallest_of_those(
    members: dict[str, str | None],
) -> None:
    field = ", ".join(c if q is None else f"{c};q={q}" for c, q in members.items()).encode()
    weights = {c: 1000 if q is None else round(float(q) * 1000) for c, q in members.items()}
    available = {c: _weight(weights, c) for c in SIZES}
    acceptable = {c: w for c, w in available.items() if w != 0}
    if not acceptable:
        assert chosen(field) == "identity"
        return
    best = max(acceptable.values())
    assert chosen(field) == min((c for c, w in acceptable.items() if w == best), key=SIZES.get)
