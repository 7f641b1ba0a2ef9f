"""Names in the output that belong to staticserve, or to another file: refused before any write.

Each published file claims names in the output: its hashed name, its plain copy (the logical
name, when the two differ) and a variant of each per encoding the build may make of it. The
build itself claims the manifest and the state folder at the output root, and the temporary
name beside every file. A source file whose claims meet another file's (with other bytes) or
staticserve's own would overwrite them -- the manifest, a lock, another file's immutable
bytes -- so the build stops first, naming the file and what to do. Below the root,
``staticserve.json`` and ``.staticserve`` are ordinary names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

from ..errors import BuildError
from ..manifest import ENCODING_SUFFIXES, MANIFEST_NAME
from .atomic import is_temporary, temporary
from .output_dir import STATE_DIR

__all__ = ["Claimant", "check_names"]

_ADVICE = "rename or move the file, or leave it out with --ignore"
_ADVICE_TWO = "rename or move one of them, or leave one out with --ignore"
# What every temporary name ends with: a name without it has no temporary part to look for.
_TEMPORARY_MARK = temporary(Path("x")).name.removeprefix(".x")
_RESERVED_AT_ROOT = (MANIFEST_NAME, STATE_DIR)


class Claimant(NamedTuple):
    """A file about to be published: what it is called, where it came from, what it may get."""

    logical: str
    path: str
    sha256: str
    origin: Path
    encodings: tuple[str, ...]  # the variants the build may write for it


class _Claim(NamedTuple):  # a tuple, not a dataclass: a build makes one per name it writes
    name: str
    owner: Claimant
    role: str  # "the name", "the hashed name", "the br variant", "a folder"
    identity: tuple[str, str]  # (content sha256, encoding): equal identities, equal bytes


def check_names(
    claimants: Iterable[Claimant], kept: Mapping[str, tuple[str, str]] | None = None
) -> None:
    """Raise a BuildError naming each file that would overwrite another's or staticserve's.

    ``kept`` maps the hashed names (and their variants) of earlier builds that stay on disk to
    their identity (content sha256, encoding): pages still cached use them, so a new file may
    take such a name only with the very same bytes.

    Claims are grouped by name, so each name is looked at once: files' names in order, then
    folders' (so that a problem names the file's own name where it can), the claims on one
    name in the order of their files' origins. A folder shared by many files is one entry.
    """
    claimants = list(claimants)
    kept = kept or {}
    if _plainly_free(claimants, kept):
        return
    problems: dict[str, str] = {}  # origin -> the first problem found with it
    owners: dict[str, _Claim] = {}
    files: dict[str, list[_Claim]] = {}
    folders: dict[str, list[Claimant]] = {}  # folder -> the files written into it, each once
    for owner in claimants:
        claims = _file_claims(owner)
        for claim in claims:
            files.setdefault(claim.name, []).append(claim)
        # A file's names differ in their last part only (as a rule): one folder walk for all.
        parents = {c.name.rpartition("/")[0] for c in claims if "/" in c.name}
        for folder in {f for parent in parents for f in _folders(parent + "/")}:
            folders.setdefault(folder, []).append(owner)
    for name in sorted(files):
        claims = files[name]
        reserved = _reserved(name)
        earlier = kept.get(name)
        if len(claims) == 1 and reserved is None and earlier in (None, claims[0].identity):
            owners[name] = claims[0]  # the common case: one file's name, free
            continue
        claims.sort(key=lambda c: c.owner.origin)  # stable: input order among equal origins
        for claim in claims:
            origin = str(claim.owner.origin)
            if reserved is not None:
                problems.setdefault(origin, f"{origin}: {name} is {reserved}; {_ADVICE}")
                continue
            if earlier is not None and earlier != claim.identity:
                problems.setdefault(
                    origin,
                    f"{origin}: {name} is {claim.role} of this file and also a file an earlier "
                    "build published, kept for the pages that still use it; " + _ADVICE,
                )
                continue
            first = owners.setdefault(name, claim)
            if first.identity != claim.identity and first.owner != claim.owner:
                problems.setdefault(
                    origin,
                    f"{origin}: {name} is {claim.role} of this file and also {first.role} "
                    f"of {first.owner.origin}; {_ADVICE_TWO}",
                )
    for name in sorted(folders):
        reserved = _reserved(name)
        file = owners.get(name)
        if reserved is None and file is None:
            continue  # a folder only: every file may be written into it
        for owner in sorted(folders[name], key=lambda o: o.origin):  # stable: input order
            origin = str(owner.origin)
            if reserved is not None:
                problems.setdefault(origin, f"{origin}: {name} is {reserved}; {_ADVICE}")
            elif file is not None and file.owner != owner:
                problems.setdefault(
                    origin,
                    f"{origin}: {name} is a folder of this file and also {file.role} "
                    f"of {file.owner.origin}; {_ADVICE_TWO}",
                )
    if len(problems) == 1:
        raise BuildError(f"{next(iter(problems.values()))}; nothing was published")
    if problems:
        raise BuildError(
            f"{len(problems)} source files would overwrite names the build writes; nothing was "
            "published:\n  " + "\n  ".join(problems[origin] for origin in sorted(problems))
        )


def _plainly_free(claimants: list[Claimant], kept: Mapping[str, tuple[str, str]]) -> bool:
    """True when the checks above cannot find a problem: every name is claimed once, none may
    be staticserve's (no name starts with its reserved names nor holds a temporary mark), none
    is a kept name of other bytes, and no folder is also a file's name. It makes no claim and
    sorts nothing: a build asks with thousands of files, and this costs a fifth of the full
    check. Any doubt (a name claimed twice, even with the same bytes) goes to the full check,
    which decides, and names the files."""
    names: dict[str, tuple[str, str]] = {}  # name -> (content sha256, encoding)
    claimed = 0
    # The names of _file_claims, without their roles: building those made this check 60 %
    # slower (measured, 2,600 files).
    for owner in claimants:
        bases = (owner.path,) if owner.path == owner.logical else (owner.path, owner.logical)
        for base in bases:
            names[base] = (owner.sha256, "")
            for encoding in owner.encodings:
                names[base + ENCODING_SUFFIXES[encoding]] = (owner.sha256, encoding)
        claimed += len(bases) * (1 + len(owner.encodings))
    if len(names) != claimed:
        return False
    parents = set()
    for name, identity in names.items():
        if name.partition("/")[0] in _RESERVED_AT_ROOT or _TEMPORARY_MARK in name:
            return False
        earlier = kept.get(name)
        if earlier is not None and earlier != identity:
            return False
        if "/" in name:
            parents.add(name.rpartition("/")[0])
    folders = {folder for parent in parents for folder in _folders(parent + "/")}
    return folders.isdisjoint(names)


def _file_claims(owner: Claimant) -> list[_Claim]:
    """The names a file is written under: its hashed name, its plain copy, their variants."""
    names = [(owner.path, "the hashed name", "")]
    if owner.path != owner.logical:
        names.append((owner.logical, "the name", ""))
    else:
        names[0] = (owner.path, "the name", "")
    for base, _, _ in list(names):
        names += [(base + ENCODING_SUFFIXES[e], f"the {e} variant", e) for e in owner.encodings]
    return [_Claim(name, owner, role, (owner.sha256, encoding)) for name, role, encoding in names]


def _folders(name: str) -> Iterable[str]:
    """The folders a file ``name`` is written into, outermost first."""
    end = name.find("/")
    while end >= 0:
        yield name[:end]
        end = name.find("/", end + 1)


def _reserved(name: str) -> str | None:
    """Why staticserve keeps ``name`` (a path in the output) for itself, or None."""
    top = name.split("/", 1)[0]
    if top == MANIFEST_NAME:
        return "reserved: the manifest is written under it at the output root"
    if top == STATE_DIR:
        return "reserved: staticserve keeps its lock, journal and cache in it at the output root"
    if _TEMPORARY_MARK in name and any(is_temporary(part) for part in name.split("/")):
        return "reserved: staticserve writes each file under such a temporary name first"
    return None
