"""A scan's sites as plain JSON values, and back: what the scan cache keeps of a text it has
scanned, so that a build which meets the same text again (a clean checkout, the same files)
need not walk it again.

A site becomes one list: the reference's fields, its escape by name (with the quote or comment
form it escapes for) and its pieces, where each run of plain characters (one character of the
text each) is two numbers and only an escaped character is spelt out. :func:`load_sites`
checks everything against the text it is given and returns None at the first thing that does
not fit: the sites must follow one another without overlapping, each span must decode (as the
scanner that found it decodes) to exactly its pieces, which spell its path, and a source map
comment's whole value must be there as stored. So a damaged or foreign value costs a scan,
never a garbled text; what it cannot check without the scan it saves is that a span which
spells a path is a reference where it stands (not text in a comment, say): the file's own
check (scan_cache) is what keeps a damaged value out. :data:`SCANNER` names the scanners' own
code: a change to any of them makes every stored scan a stranger.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from .css import _css_pieces, _escape_css_string, _escape_css_unquoted
from .js import _escape_js_string, _js_pieces
from .scanner import Escape, Piece, Reference, Site, _escape_comment_url

__all__ = ["SCANNER", "dump_sites", "load_sites"]


def _scanner_version() -> str:
    """SHA-256 of this package's source files and of the Python running them (its ``re`` and
    ``str`` methods): what found the sites. Without the sources to read (a frozen or
    bytecode-only install) a value of this process's own, which no stored scan matches."""
    digest = hashlib.sha256(f"{sys.version_info[:2]}\0".encode())
    sources = sorted(Path(__file__).parent.glob("*.py"))
    if not sources:
        return "unknown-" + os.urandom(16).hex()
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


SCANNER = _scanner_version()

# Each way a scanner escapes a new path, by the name it is stored under.
_ESCAPES: dict[str, Callable[..., str]] = {
    "css-unquoted": _escape_css_unquoted,
    "css-string": _escape_css_string,
    "js-string": _escape_js_string,
    "comment-url": _escape_comment_url,
}
_NAMES = {function: name for name, function in _ESCAPES.items()}
# The kinds of reference each escape goes with, as the scanners report them.
_KINDS_OF: dict[str, frozenset[str]] = {
    "css-unquoted": frozenset({"url", "import"}),
    "css-string": frozenset({"url", "import"}),
    "js-string": frozenset({"module"}),
    "comment-url": frozenset({"sourcemap"}),
}
_QUOTES = ("'", '"', "`")


def dump_sites(text: str, sites: list[Site]) -> list[Any] | None:
    """``sites`` (found in ``text``) as JSON values; None when one cannot be stored."""
    stored = []
    for site in sites:
        escape = _dump_escape(site.escape)
        if escape is None:
            return None
        ref = site.ref
        fields = [ref.kind, ref.url, ref.path, ref.line, ref.column, ref.start, ref.end]
        stored.append([*fields, *escape, _dump_pieces(text, site.pieces)])
    return stored


def load_sites(text: str, stored: Any) -> list[Site] | None:
    """The sites :func:`dump_sites` stored for ``text``; None unless every one fits it."""
    sites: list[Site] = []
    try:
        for value in stored:
            sites.append(_load_site(text, value, _end_of(sites[-1]) if sites else 0))
    except (TypeError, ValueError, KeyError, IndexError):
        return None
    return sites


def _end_of(site: Site) -> int:
    """Where the text that an edit of ``site`` may change ends: a source map comment's value
    is edited up to its end, query and fragment included (see fingerprint._whole_map_url)."""
    ref = site.ref
    return max(ref.end, ref.start + len(ref.url)) if ref.kind == "sourcemap" else ref.end


def _dump_escape(escape: Escape) -> tuple[str, str] | None:
    """(name, form): the escape function's name, and the quote or comment form it is for."""
    if escape is _escape_css_unquoted:
        return "css-unquoted", ""
    if isinstance(escape, partial) and not escape.args:
        name, keywords = _NAMES.get(escape.func), escape.keywords
        if name == "comment-url" and set(keywords) == {"block"}:
            return name, "block" if keywords["block"] is True else "line"
        if name in ("css-string", "js-string") and keywords.get("quote") in _QUOTES:
            return (name, keywords["quote"]) if len(keywords) == 1 else None
    return None


def _load_escape(name: str, form: str) -> Escape:
    if name == "css-unquoted" and not form:
        return _escape_css_unquoted
    if name == "comment-url" and form in ("block", "line"):
        return partial(_escape_comment_url, block=form == "block")
    if name in ("css-string", "js-string") and form in _QUOTES:
        return partial(_ESCAPES[name], quote=form)
    raise ValueError(f"{name} {form}")


def _dump_pieces(text: str, pieces: tuple[Piece, ...]) -> list[Any]:
    """Runs of plain characters as [start, count]; any other piece as [char, start, end]."""
    out: list[Any] = []
    for char, start, end in pieces:
        plain = end == start + 1 and text[start] == char
        if plain and out and len(out[-1]) == 2 and out[-1][0] + out[-1][1] == start:
            out[-1][1] += 1
        elif plain:
            out.append([start, 1])
        else:
            out.append([char, start, end])
    return out


def _decoded(text: str, start: int, end: int, escape: str, form: str) -> list[Piece]:
    """The pieces the scanner that uses ``escape`` decodes ``text[start:end]`` into."""
    if escape == "comment-url":  # a comment has no escapes
        return [(text[i], i, i + 1) for i in range(start, end)]
    if escape == "js-string":
        return _js_pieces(text, start, end, template=form == "`")
    return _css_pieces(text, start, end)


def _load_pieces(text: str, stored: list[Any], start: int, end: int) -> list[Piece]:
    """The stored pieces, each after the one before it and all inside ``text[start:end]``."""
    pieces: list[Piece] = []
    done = start
    for item in stored:
        if len(item) == 2:
            first, count = item
            if not (type(first) is int and type(count) is int and count > 0):
                raise ValueError(item)
            if not done <= first <= first + count <= end:
                raise IndexError(item)
            pieces += [(text[i], i, i + 1) for i in range(first, first + count)]
            done = first + count
        else:
            char, first, last = item
            if not (type(char) is str and type(first) is int and type(last) is int):
                raise TypeError(item)
            if not done <= first < last <= end:
                raise IndexError(item)
            pieces.append((char, first, last))
            done = last
    return pieces


def _load_site(text: str, value: list[Any], done: int) -> Site:
    """The stored site ``value``, which must start at ``done`` or after it."""
    kind, url, path, line, column, start, end, escape, form, stored_pieces = value
    if not all(type(v) is int for v in (line, column, start, end)):
        raise ValueError(value)
    if not (type(url) is str and type(path) is str and done <= start and end <= len(text)):
        raise ValueError(value)
    if type(escape) is not str or kind not in _KINDS_OF.get(escape, ()):
        raise ValueError(value)
    ref = Reference(kind, url, path, line, column, start, end)  # checks the rest
    if kind == "sourcemap" and not text.startswith(url, start):
        raise ValueError(value)
    function = _load_escape(escape, form)
    span = text[start:end]
    if escape == "comment-url" or not ("\\" in span or (form == "`" and "\r" in span)):
        # Nothing there to decode (most paths): one plain character a piece, spelling the path.
        if span != path or stored_pieces != [[start, end - start]]:
            raise ValueError(value)
        return Site(ref, function, tuple((c, i, i + 1) for i, c in enumerate(span, start)))
    pieces = _load_pieces(text, stored_pieces, start, end)
    if "".join(p[0] for p in pieces) != path or pieces != _decoded(text, start, end, escape, form):
        raise ValueError(value)
    return Site(ref, function, tuple(pieces))
