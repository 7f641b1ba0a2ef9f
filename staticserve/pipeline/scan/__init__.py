"""Find and edit the references inside CSS and JavaScript text.

Pure text in, text out: no disk, no hashing. One small scanner per syntax walks the text once;
it knows comments, strings, escapes and the inside of ``data:`` URIs, and reports every local
reference with the exact span of its path part, so a rewrite changes those characters only.

This module is the front: it picks the scanner for a syntax (``css.py``, ``js.py``, both built on
``scanner.py``) and splices new paths into the text.
"""

from __future__ import annotations

from collections.abc import Callable

from .css import CssScanner
from .js import JsScanner
from .scanner import Reference, Site, Syntax, is_local

__all__ = ["Reference", "Syntax", "find_references", "is_local", "rewrite"]


def find_references(text: str, syntax: Syntax) -> list[Reference]:
    """Every *local* reference in the text, in order of appearance."""
    return [site.ref for site in _scan(text, syntax)]


def rewrite(text: str, syntax: Syntax, replace: Callable[[Reference], str | None]) -> str:
    """Call ``replace`` for each reference and splice in the new path parts it returns.

    A str return is the new path part (unescaped); None, or the unchanged path, leaves the
    reference as it is. Only ``text[start:end]`` of a replaced reference changes, escaped for its
    context (quoted string, unquoted ``url()``, comment); every other character stays identical.
    """
    parts: list[str] = []
    done = 0
    for site in _scan(text, syntax):
        new_path = replace(site.ref)
        if new_path is None or new_path == site.ref.path:
            continue
        parts += (text[done : site.ref.start], site.escape(new_path))
        done = site.ref.end
    parts.append(text[done:])
    return "".join(parts)


_SCANNERS: dict[str, Callable[[str], list[Site]]] = {
    "css": lambda text: CssScanner(text).run(),
    "js": lambda text: JsScanner(text).run(),
}


def _scan(text: str, syntax: Syntax) -> list[Site]:
    scanner = _SCANNERS.get(syntax)
    if scanner is None:
        raise ValueError(f"unknown syntax {syntax!r}; expected one of {sorted(_SCANNERS)}")
    return scanner(text)
