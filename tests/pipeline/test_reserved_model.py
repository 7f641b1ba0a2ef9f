"""check_names against a plain model: the same verdict and the very same message, every time.

check_names groups the claims by name so that each name (and each folder shared by thousands
of files) is looked at once. The model below is the straightforward version it replaced: every
claim, folders once per name of each file, sorted and checked one by one. Random claimants drawn
from a small pool of names make the collisions, reserved names, temporaries, kept names of
earlier builds and files named like folders that the model tells apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from staticserve.errors import BuildError
from staticserve.manifest import ENCODING_SUFFIXES
from staticserve.pipeline.reserved import Claimant, _plainly_free, _reserved, check_names

from ..conftest import examples

_ADVICE = "rename or move the file, or leave it out with --ignore"
_ADVICE_TWO = "rename or move one of them, or leave one out with --ignore"


@dataclass(frozen=True)
class _ModelClaim:
    name: str
    owner: Claimant
    role: str
    identity: tuple[str, str]


def model_check_names(
    claimants: Iterable[Claimant], kept: Mapping[str, tuple[str, str]] | None = None
) -> None:
    problems: dict[str, str] = {}
    owners: dict[str, _ModelClaim] = {}
    kept = kept or {}
    order = sorted(
        _model_claims(claimants), key=lambda c: (c.role == "a folder", c.name, c.owner.origin)
    )
    for claim in order:
        origin = str(claim.owner.origin)
        reserved = _reserved(claim.name)
        if reserved is not None:
            problems.setdefault(origin, f"{origin}: {claim.name} is {reserved}; {_ADVICE}")
            continue
        earlier = kept.get(claim.name)
        if earlier is not None and earlier != claim.identity and claim.role != "a folder":
            problems.setdefault(
                origin,
                f"{origin}: {claim.name} is {claim.role} of this file and also a file an earlier "
                "build published, kept for the pages that still use it; " + _ADVICE,
            )
            continue
        first = owners.setdefault(claim.name, claim)
        if first.identity != claim.identity and first.owner != claim.owner:
            problems.setdefault(
                origin,
                f"{origin}: {claim.name} is {claim.role} of this file and also {first.role} "
                f"of {first.owner.origin}; {_ADVICE_TWO}",
            )
    if len(problems) == 1:
        raise BuildError(f"{next(iter(problems.values()))}; nothing was published")
    if problems:
        raise BuildError(
            f"{len(problems)} source files would overwrite names the build writes; nothing was "
            "published:\n  " + "\n  ".join(problems[origin] for origin in sorted(problems))
        )


def _model_claims(claimants: Iterable[Claimant]) -> Iterable[_ModelClaim]:
    for owner in claimants:
        names = [(owner.path, "the hashed name", "")]
        if owner.path != owner.logical:
            names.append((owner.logical, "the name", ""))
        else:
            names[0] = (owner.path, "the name", "")
        for base, _, _ in list(names):
            names += [(base + ENCODING_SUFFIXES[e], f"the {e} variant", e) for e in owner.encodings]
        for name, role, encoding in names:
            yield _ModelClaim(name, owner, role, (owner.sha256, encoding))
            parts = name.split("/")
            for depth in range(1, len(parts)):
                yield _ModelClaim("/".join(parts[:depth]), owner, "a folder", ("", "folder"))


def verdict(check: object, claimants: list[Claimant], kept: dict[str, tuple[str, str]]) -> str:
    try:
        check(claimants, kept)  # type: ignore[operator]
    except BuildError as error:
        return str(error)
    return "ok"


# Parts that collide on purpose: reserved names, temporaries, names that are another's variant
# or hashed name or folder, unicode and spaces, and folders spelled "a/" + "" (empty parts).
PARTS = [
    "a",
    "a.css",
    "a.css.br",
    "a.css.gz",
    "a.0123456789ab.css",
    "staticserve.json",
    ".staticserve",
    ".a.css.staticserve-tmp",
    "ünï cödé 文件.js",
    "x y",
    "",
]
SHAS = ["0123456789ab" + "0" * 52, "f" * 64, "0123456789ab" + "1" * 52]
ENCODINGS = st.lists(st.sampled_from(sorted(ENCODING_SUFFIXES)), unique=True, max_size=3)
NAMES = st.lists(st.sampled_from(PARTS), min_size=1, max_size=3).map("/".join)
ORIGINS = st.sampled_from(["/src/a", "/src/a/b", "/src/a-b", "/src/ü", "/other/x y"])


@st.composite
def claimants(draw: st.DrawFn) -> Claimant:
    logical = draw(NAMES)
    path = draw(st.one_of(st.just(logical), NAMES))
    return Claimant(
        logical,
        path,
        draw(st.sampled_from(SHAS)),
        Path(draw(ORIGINS)) / draw(st.sampled_from(["f", "g", "h.css"])),
        tuple(draw(ENCODINGS)),
    )


KEPT = st.dictionaries(
    st.one_of(NAMES, NAMES.map(lambda n: n + ".br")),
    st.tuples(st.sampled_from(SHAS), st.sampled_from(["", "br", "gzip"])),
    max_size=4,
)


@settings(max_examples=examples(600), deadline=None)
@given(st.lists(claimants(), max_size=8), KEPT)
def test_check_names_agrees_with_the_model(
    files: list[Claimant], kept: dict[str, tuple[str, str]]
) -> None:
    assert verdict(check_names, files, kept) == verdict(model_check_names, files, kept)


@settings(max_examples=examples(600), deadline=None)
@given(st.lists(claimants(), max_size=8), KEPT)
def test_the_quick_check_lets_through_only_what_the_model_lets_through(
    files: list[Claimant], kept: dict[str, tuple[str, str]]
) -> None:
    """The names of a build are first looked at once each, making no claim: whatever that says
    is free must be free (any doubt goes to the full check)."""
    if _plainly_free(files, kept):
        assert verdict(model_check_names, files, kept) == "ok"


def many_files(count: int) -> list[Claimant]:
    """``count`` files in deep folders (a tenth as many folders), each with two variants."""
    return [
        Claimant(
            f"d{i % (count // 10)}/e/f/g/h/{i}.css",
            f"d{i % (count // 10)}/e/f/g/h/{i}.0123456789ab.css",
            "0123456789ab" + f"{i:052x}",
            Path(f"/src/d{i % (count // 10)}/e/f/g/h/{i}.css"),
            ("br", "gzip"),
        )
        for i in range(count)
    ]


def test_a_build_of_distinct_names_needs_only_the_quick_check() -> None:
    files = many_files(2_000)
    kept = {files[0].path: (files[0].sha256, "")}  # an earlier build's, with the same bytes
    assert _plainly_free(files, kept)
    assert not _plainly_free(files, {files[0].path: ("f" * 64, "")})  # other bytes
    assert not _plainly_free([*files, files[0]._replace(origin=Path("/src/again"))], {})
    assert not _plainly_free([*files, Claimant("d7", "d7", "f" * 64, Path("/src/d7"), ())], {})


def test_a_clash_among_many_files_is_found_as_the_model_finds_it() -> None:
    """20,000 files in 2,000 deep folders and one name that is also a folder of theirs: the
    grouped check names the same clash as the model (its speed is the build benchmark's to
    show, not a timed test's)."""
    files = many_files(20_000)
    files.append(Claimant("d7/e", "d7/e", "f" * 64, Path("/src/clash"), ()))
    for check in (check_names, model_check_names):
        with pytest.raises(
            BuildError, match=r"d7/e is a folder of this file and also the name of /src/clash"
        ):
            check(files, {})
