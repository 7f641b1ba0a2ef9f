"""Fingerprint: resolve references, order files by dependency, rewrite, and name by content hash."""

from __future__ import annotations

import base64
import functools
import hashlib
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import unquote

from ..fingerprinted import carries_own_hash, hash_parts, matches_patterns
from .collect import Content, OnDisk, sha256_of
from .scan import Edit, Reference, Site, Syntax, apply_edits, edit_site, find_sites, with_hash
from .sourcemap import adjust_source_map, moves_code

__all__ = ["Fingerprinted", "Problem", "SiteFinder", "final_as_read", "fingerprint", "hashed_name"]

SiteFinder = Callable[[bytes, str, Syntax], list[Site]]
"""Finds the references of a text: ``find(data, text, syntax)``, ``text`` being ``data`` decoded."""

HASH_LENGTH = 12  # hex characters in a hashed name, as Django's, so "is it hashed?" checks agree

_SYNTAX_BY_SUFFIX: Mapping[str, Syntax] = {".css": "css", ".js": "js", ".mjs": "js"}


class Fingerprinted(NamedTuple):
    """A file's final bytes and the content-addressed name they are published under."""

    logical: str
    path: str
    data: Content  # in memory, or a file left on disk (never rewritten)
    sha256: str
    integrity: str


@dataclass(frozen=True, slots=True)
class Problem:
    """A reference that could not be rewritten. ``fatal`` problems stop a build."""

    message: str
    fatal: bool


@dataclass(frozen=True, slots=True)
class _Link:
    site: Site  # the reference, as found by the one scan of its file
    target: str  # logical path of the referenced file

    @property
    def reference(self) -> Reference:
        return self.site.ref


def hashed_name(logical: str, digest: str) -> str:
    """``css/app.css`` -> ``css/app.<12 hex>.css``; only the last suffix counts."""
    return _insert_hash(logical, digest[:HASH_LENGTH])


def _insert_hash(name: str, short: str) -> str:
    head, _, base = name.rpartition("/")
    stem, dot, suffix = base.rpartition(".")
    new_base = f"{stem}.{short}.{suffix}" if dot and stem else f"{base}.{short}"
    return f"{head}/{new_base}" if head else new_base


def fingerprint(
    files: Mapping[str, Content],
    *,
    prefix: str,
    strict: bool,
    rewrite_js: bool = True,
    known: Mapping[str, Fingerprinted] | None = None,
    fingerprinted: tuple[str, ...] = (),
    ready: Callable[[Fingerprinted], None] | None = None,
    scan: SiteFinder | None = None,
) -> tuple[list[Fingerprinted], list[Problem]]:
    """Rewrite every reference to its target's hashed name and hash every file's final bytes.

    Files are processed dependencies first; the members of a reference cycle share one hash
    input so that a change to any of them renames them all. ``known`` is what
    :func:`final_as_read` returned for the same ``files``: those are not hashed again.
    ``ready`` is called with each other file as soon as its bytes and name are final, so that
    its compression can start while the files that depend on it are still being rewritten.
    A file whose name carries a hash already (see :mod:`staticserve.fingerprinted`, with the
    user's ``fingerprinted`` patterns) keeps its name and its bytes. ``scan`` finds the
    references of a text (the scan cache's, which may know it already).
    """
    problems: list[Problem] = []
    find = scan or _scan_anew
    kept = _kept_names(files, fingerprinted)
    links = {
        logical: _resolve_all(
            logical, data, files, prefix, strict, rewrite_js, problems, kept, find
        )
        for logical, data in files.items()
    }
    adjusted = _adjusted_source_maps(files, links, problems, kept)
    files = {**files, **adjusted}
    edited = _relinked(files, links, adjusted)
    known = {k: v for k, v in (known or {}).items() if k not in adjusted}
    hashes: dict[str, str | None] = {}
    results: dict[str, Fingerprinted] = {}
    for group in _components(files, links):
        _fingerprint_group(group, files, edited, hashes, results, known, kept)
        for logical in group:
            if ready is not None and logical not in known:
                ready(results[logical])
    return [results[logical] for logical in sorted(results)], problems


def final_as_read(
    files: Mapping[str, Content], *, rewrite_js: bool, fingerprinted: tuple[str, ...] = ()
) -> dict[str, Fingerprinted]:
    """The files whose bytes no reference can change, fingerprinted already.

    These are the files without a syntax we rewrite (images, fonts, source maps, ...) and
    those named by hash already, so that the build can start compressing them while the other
    files are still being rewritten.
    """
    kept = _kept_names(files, fingerprinted)
    maybe_maps = _source_map_names(files, rewrite_js, kept)
    return {
        logical: _record(
            logical, _final_name(logical, {logical: _short(logical, data, kept)}), data
        )
        for logical, data in files.items()
        if (syntax_of(logical, rewrite_js) is None or logical in kept)
        and posixpath.basename(logical) not in maybe_maps
    }


def _kept_names(files: Mapping[str, Content], fingerprinted: tuple[str, ...]) -> frozenset[str]:
    """The files whose names carry a content hash already: they keep their names.

    As :func:`~staticserve.fingerprinted.keeps_its_name`, but a file is hashed only when its
    name has a part shaped like a hash: most names have none, and need no bytes to say so."""
    return frozenset(
        logical
        for logical, data in files.items()
        if matches_patterns(logical, fingerprinted)
        or (hash_parts(logical) and carries_own_hash(logical, sha256_of(data)))
    )


def _short(logical: str, data: Content, kept: frozenset[str]) -> str | None:
    """The hash inserted in a file's name, from its final bytes (None: the name is kept)."""
    return None if logical in kept else sha256_of(data)[:HASH_LENGTH]


@functools.lru_cache(maxsize=1 << 14)  # asked a few times per file of a build
def syntax_of(logical: str, rewrite_js: bool) -> Syntax | None:
    suffix = posixpath.splitext(logical)[1].lower()
    syntax = _SYNTAX_BY_SUFFIX.get(suffix)
    return None if syntax == "js" and not rewrite_js else syntax


# -- references -------------------------------------------------------------------------------


def _resolve_all(
    logical: str,
    data: Content,
    files: Mapping[str, Content],
    prefix: str,
    strict: bool,
    rewrite_js: bool,
    problems: list[Problem],
    kept: frozenset[str],
    find: SiteFinder,
) -> list[_Link]:
    syntax = syntax_of(logical, rewrite_js)
    if syntax is None or logical in kept or isinstance(data, OnDisk):
        return []  # named by its hash: its bytes are final (a bundler named its dependencies)
    links = []
    for site in find(data, _decode(data), syntax):
        target, problem = _resolve(logical, site.ref, files, prefix, strict)
        if problem is not None:
            problems.append(problem)
        if target is not None and target != logical:
            links.append(_Link(site, target))
    return links


def _resolve(
    logical: str, reference: Reference, files: Mapping[str, Content], prefix: str, strict: bool
) -> tuple[str | None, Problem | None]:
    where = f"{logical}:{reference.line}:{reference.column}"
    written = reference.path
    if written.startswith("/"):
        if not written.startswith(prefix):
            return None, None  # another part of the site, not a static asset
        candidates = [written[len(prefix) :]]
        base = ""
    else:
        base = posixpath.dirname(logical)
        candidates = [posixpath.join(base, written)]
    candidates.append(unquote(candidates[0]))
    for candidate in dict.fromkeys(candidates):
        normal = posixpath.normpath(candidate)
        if normal == ".." or normal.startswith("../") or normal.startswith("/"):
            return None, Problem(
                f"{where}: {reference.url!r} points outside the output root "
                f"(resolves to {normal!r}); references must stay inside the collected files",
                fatal=True,
            )
        if normal in files and not written.endswith("/"):
            return normal, None
    looked_for = posixpath.normpath(candidates[-1])
    is_map = reference.kind == "sourcemap"
    advice = (
        "source maps are optional, so this is only a warning"
        if is_map
        else "fix the path, or build without --strict to leave it as it is"
        if strict
        else "left as it was"
    )
    message = (
        f"{where}: {reference.url!r} matches no collected file (looked for {looked_for}); {advice}"
    )
    return None, Problem(message, fatal=strict and not is_map)


def _scan_anew(data: bytes, text: str, syntax: Syntax) -> list[Site]:
    return find_sites(text, syntax)


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", "surrogateescape")


def _encode(text: str, original: bytes) -> bytes:
    bom = b"\xef\xbb\xbf" if original.startswith(b"\xef\xbb\xbf") else b""
    return bom + text.encode("utf-8", "surrogateescape")


# -- ordering ---------------------------------------------------------------------------------


def _components(files: Mapping[str, Content], links: Mapping[str, list[_Link]]) -> list[list[str]]:
    """Strongly connected components, dependencies before dependents (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    order: list[list[str]] = []
    for root in sorted(files):
        if root in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(root, iter(_targets(links, root)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(iter(children), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(_targets(links, child))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                order.append(sorted(group))
    return order


def _targets(links: Mapping[str, list[_Link]], logical: str) -> list[str]:
    return sorted({link.target for link in links.get(logical, [])})


# -- hashing ----------------------------------------------------------------------------------


def _fingerprint_group(
    group: list[str],
    files: Mapping[str, Content],
    links: Mapping[str, list[_Link]],
    hashes: dict[str, str | None],
    results: dict[str, Fingerprinted],
    known: Mapping[str, Fingerprinted],
    kept: frozenset[str],
) -> None:
    """Name and rewrite one component; ``hashes`` already holds every dependency outside it.

    ``hashes`` maps a logical path to the short hash inserted in its name (None: name kept).
    """
    if len(group) == 1:
        logical = group[0]
        done = known.get(logical)
        if done is not None:  # no references: its bytes are final, hashed already
            hashes[logical] = None if logical in kept else done.sha256[:HASH_LENGTH]
            results[logical] = done
            return
        data = _rewritten(logical, files, links, hashes)
        hashes[logical] = _short(logical, data, kept)
        results[logical] = _record(logical, _final_name(logical, hashes), data)
        return
    # A cycle: no member's final bytes can contain its own final hash, so every member is named
    # after the whole group's content (with references inside the group still unresolved).
    group_digest = hashlib.sha256()
    for logical in group:
        data = _rewritten(logical, files, links, hashes)
        assert isinstance(data, bytes)  # a cycle's members have references: rewritable text
        group_digest.update(logical.encode() + b"\0" + data)
    for logical in group:
        member = hashlib.sha256(group_digest.digest() + logical.encode()).hexdigest()
        hashes[logical] = member[:HASH_LENGTH]
    for logical in group:
        data = _rewritten(logical, files, links, hashes)
        results[logical] = _record(logical, _final_name(logical, hashes), data)


def _final_name(logical: str, hashes: Mapping[str, str | None]) -> str:
    short = hashes[logical]
    return logical if short is None else _insert_hash(logical, short)


def _rewritten(
    logical: str,
    files: Mapping[str, Content],
    links: Mapping[str, list[_Link]],
    hashes: Mapping[str, str | None],
) -> Content:
    """The file's bytes with every reference to an already-named file pointing at its new name."""
    original = files[logical]
    edits = _edits(logical, files, links, hashes)
    if not edits:
        return original
    assert isinstance(original, bytes)  # only files in memory have edits
    return _encode(apply_edits(_decode(original), edits), original)


def _edits(
    logical: str,
    files: Mapping[str, Content],
    links: Mapping[str, list[_Link]],
    hashes: Mapping[str, str | None],
) -> list[Edit]:
    """The edits that point the file's references at their targets' hashed names.

    Each keeps the reference's own spelling (relative, ./, percent-encoding) and adds the hash;
    the sites are those the file's one scan found (see :func:`_relinked`)."""
    data = files[logical]
    edits: list[Edit] = []
    text = None
    for link in links[logical]:
        short = hashes.get(link.target)
        if short is None:
            continue
        if text is None:
            if isinstance(data, OnDisk):  # only files in memory have references
                return []
            text = _decode(data)
        edit = edit_site(text, link.site, with_hash(link.reference.path, short))
        if edit is not None:
            edits.append(edit)
    return edits


def _relinked(
    files: Mapping[str, Content], links: Mapping[str, list[_Link]], adjusted: Mapping[str, bytes]
) -> Mapping[str, list[_Link]]:
    """``links``, the sites of each file's bytes as read, except for a file that is also an
    adjusted source map (one with a syntax of its own): the sites of its new bytes, each with
    the target of the link found at the same place in the old ones."""
    changed = [logical for logical in adjusted if links.get(logical)]
    if not changed:
        return links
    relinked = dict(links)
    for logical in changed:
        by_start = {link.reference.start: link.target for link in links[logical]}
        syntax = syntax_of(logical, rewrite_js=True)
        assert syntax is not None  # only files with a syntax have links
        relinked[logical] = [
            _Link(site, by_start[site.ref.start])
            for site in find_sites(_decode(adjusted[logical]), syntax)
            if site.ref.start in by_start
        ]
    return relinked


# -- source maps ------------------------------------------------------------------------------


def _adjusted_source_maps(
    files: Mapping[str, Content],
    links: Mapping[str, list[_Link]],
    problems: list[Problem],
    kept: frozenset[str],
) -> dict[str, bytes]:
    """Source maps whose ``mappings`` must move because their generated file is edited.

    The map's bytes are needed before its generated file is named (the file names the map's
    hash), but the edits' places and lengths are known before any hash: every target that will
    be renamed gains "." and 12 hex digits, whatever they are. So the generated file's edits are
    computed with a stand-in hash, its own sourceMappingURL included.
    """
    stand_in = {
        link.target: None if link.target in kept else "0" * HASH_LENGTH
        for file_links in links.values()
        for link in file_links
    }
    generated_by: dict[str, list[str]] = {}
    for logical, file_links in links.items():
        for link in file_links:
            if link.reference.kind == "sourcemap":
                generated_by.setdefault(link.target, []).append(logical)
    adjusted: dict[str, bytes] = {}
    for source_map, generated in sorted(generated_by.items()):
        edits_of = {logical: _edits(logical, files, links, stand_in) for logical in generated}
        if not any(edits_of.values()):
            continue
        if len(generated) > 1:  # one map cannot follow two files' edits
            problems.append(_map_left(source_map, f"it is named by {len(generated)} files"))
            continue
        logical, edits = next(iter(edits_of.items()))
        syntax = syntax_of(logical, rewrite_js=True)
        assert syntax is not None  # only files with a syntax have links
        generated_data = files[logical]
        assert isinstance(generated_data, bytes)  # a file with edits is text in memory
        text = _decode(generated_data)
        if not moves_code(text, _whole_map_url(edits, links[logical], source_map), syntax):
            continue  # only its own sourceMappingURL changed, at the end of its line
        original_map = _in_memory(files[source_map])  # a map has no syntax: it may be on disk
        data, why = adjust_source_map(original_map, text, edits, syntax)
        if why is not None:
            problems.append(_map_left(source_map, why))
        elif data != original_map:
            adjusted[source_map] = data
    return adjusted


def _whole_map_url(edits: list[Edit], file_links: list[_Link], source_map: str) -> list[Edit]:
    """``edits`` with the one inside the sourceMappingURL value stretched to the value's end:
    what follows that edit up to there is the rest of the same URL, not code."""
    urls = [
        (link.reference.start, link.reference.start + len(link.reference.url))
        for link in file_links
        if link.target == source_map and link.reference.kind == "sourcemap"
    ]
    # A comment has no escapes: the value is spelled as decoded, query and fragment included.
    return [
        next((Edit(e.start, end, e.new) for start, end in urls if start <= e.start <= end), e)
        for e in edits
    ]


def _map_left(source_map: str, why: str) -> Problem:
    return Problem(
        f"{source_map}: source map left as it was: {why}; on lines where references were "
        "rewritten, its columns after them are off by the inserted characters",
        fatal=False,
    )


# A sourceMappingURL value runs to whitespace or the end of its comment.
_SOURCE_MAP_VALUE = re.compile(rb"sourceMappingURL=(\S*)")


def _in_memory(data: Content) -> bytes:
    return b"".join(data.chunks()) if isinstance(data, OnDisk) else data


def _source_map_names(
    files: Mapping[str, Content], rewrite_js: bool, kept: frozenset[str]
) -> set[str]:
    """The base names of files that a rewritten file may name as its source map.

    A cheap over-estimate (any "sourceMappingURL=" text, decoded or not): such a map may be
    adjusted to its file's edits, so its bytes are not final as read."""
    names: set[str] = set()
    for logical, data in files.items():
        if syntax_of(logical, rewrite_js) is None or logical in kept or isinstance(data, OnDisk):
            continue
        for match in _SOURCE_MAP_VALUE.finditer(data):
            value = match.group(1).split(b"*/")[0].decode("utf-8", "surrogateescape")
            path = re.split(r"[?#]", value, maxsplit=1)[0]
            for spelling in (path, unquote(path)):
                names.add(posixpath.basename(posixpath.normpath(spelling or ".")))
    if names & {".", "..", ""}:  # a name that climbs: any file may be the map
        names.update(posixpath.basename(logical) for logical in files)
    return names


def _record(logical: str, path: str, data: Content) -> Fingerprinted:
    if isinstance(data, OnDisk):  # hashed as collect read it
        return Fingerprinted(logical, path, data, data.sha256, data.integrity)
    sha384 = base64.b64encode(hashlib.sha384(data).digest()).decode()
    return Fingerprinted(logical, path, data, hashlib.sha256(data).hexdigest(), f"sha384-{sha384}")
