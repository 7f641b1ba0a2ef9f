"""Find and edit the references inside CSS and JavaScript text.

Pure text in, text out: no disk, no hashing. One small scanner per syntax walks the text once;
it knows comments, strings, escapes and the inside of ``data:`` URIs, and reports every local
reference with the exact span of its path part, so a rewrite changes those characters only.

This module is the front: it picks the scanner for a syntax (``css.py``, ``js.py``, both built on
``scanner.py``) and splices new paths into the text; ``urlpath.py`` says where a hash goes in a
percent-encoded path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .css import CssScanner
from .js import JsScanner
from .scanner import HEX_DIGITS, Piece, Reference, Site, Syntax, is_local
from .urlpath import with_hash

__all__ = [
    "Edit",
    "Reference",
    "Site",
    "Syntax",
    "apply_edits",
    "edit_site",
    "find_edits",
    "find_references",
    "find_sites",
    "is_local",
    "rewrite",
    "with_hash",
]


@dataclass(frozen=True, slots=True)
class Edit:
    """``text[start:end]`` becomes ``new``."""

    start: int
    end: int
    new: str


def find_references(text: str, syntax: Syntax) -> list[Reference]:
    """Every *local* reference in the text, in order of appearance."""
    return [site.ref for site in _scan(text, syntax)]


def find_sites(text: str, syntax: Syntax) -> list[Site]:
    """Every local reference with what :func:`edit_site` needs to rewrite it later: a caller
    that scans once may edit the same text many times (with other paths) without a rescan."""
    return _scan(text, syntax)


def rewrite(text: str, syntax: Syntax, replace: Callable[[Reference], str | None]) -> str:
    """Call ``replace`` for each reference and splice in the new path parts it returns.

    A str return is the new path part (unescaped); None, or the unchanged path, leaves the
    reference as it is. Only the characters that differ change, escaped for their context
    (quoted string, unquoted ``url()``, template, comment); every other character, escapes
    included, stays identical.
    """
    return apply_edits(text, find_edits(text, syntax, replace))


def find_edits(text: str, syntax: Syntax, replace: Callable[[Reference], str | None]) -> list[Edit]:
    """The edits :func:`rewrite` makes, in order and not overlapping."""
    edits = []
    for site in _scan(text, syntax):
        edit = edit_site(text, site, replace(site.ref))
        if edit is not None:
            edits.append(edit)
    return edits


def edit_site(text: str, site: Site, new_path: str | None) -> Edit | None:
    """The edit that gives the reference at ``site`` (found in ``text``) the path ``new_path``;
    None when that is None or the path it has."""
    if new_path is None or new_path == site.ref.path:
        return None
    return _minimal_edit(text, site, new_path)


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    parts: list[str] = []
    done = 0
    for edit in edits:
        parts += (text[done : edit.start], edit.new)
        done = edit.end
    parts.append(text[done:])
    return "".join(parts)


# "${" opens a template substitution and "*/" ends a block comment: an edit never starts after,
# or ends with, one of these, so that the escape sees the pair whole.
_PAIRING = frozenset("$*")
_ESCAPE_SPACE = frozenset(" \t\n\r\f")


def _can_border(text: str, piece: Piece) -> bool:
    """True when what follows this kept piece cannot change what it stands for: a plain
    character, or an escape that ends on its own (not CSS ``\\61`` before a hex digit or a
    space, not JavaScript ``\\0`` before a digit); else the edit takes it in and re-escapes it."""
    char, start, end = piece
    if end - start == 1:
        return char not in _PAIRING
    return text[start + 1] not in HEX_DIGITS or text[end - 1] in _ESCAPE_SPACE


def _minimal_edit(text: str, site: Site, new_path: str) -> Edit:
    """Replace only what lies between the longest common prefix and suffix of the two paths,
    widened where a kept neighbour could combine with the new text."""
    old_path, pieces, ref = site.ref.path, site.pieces, site.ref
    keep = min(len(old_path), len(new_path))
    head = 0
    while head < keep and old_path[head] == new_path[head]:
        head += 1
    tail = 0
    while tail < keep - head and old_path[-1 - tail] == new_path[-1 - tail]:
        tail += 1
    while head > 0 and not _can_border(text, pieces[head - 1]):
        head -= 1
    while tail > 0 and (
        not _can_border(text, pieces[-tail])
        or (len(new_path) - tail > head and new_path[-1 - tail] in _PAIRING)
    ):
        tail -= 1
    start = pieces[head][1] if head < len(pieces) else ref.end
    end = pieces[-tail][1] if tail else ref.end
    return Edit(start, end, site.escape(new_path[head : len(new_path) - tail]))


_SCANNERS: dict[str, Callable[[str], list[Site]]] = {
    "css": lambda text: CssScanner(text).run(),
    "js": lambda text: JsScanner(text).run(),
}


def _scan(text: str, syntax: Syntax) -> list[Site]:
    scanner = _SCANNERS.get(syntax)
    if scanner is None:
        raise ValueError(f"unknown syntax {syntax!r}; expected one of {sorted(_SCANNERS)}")
    return scanner(text)
