"""What both scanners share: the Reference they report and the Scanner base that records it.

A scanner decodes a value into pieces (each decoded character with the raw span it came from);
:meth:`Scanner.add` keeps it when it names a local file, with the exact span of its path part,
its line and column, and the way a new path must be escaped where it sits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

__all__ = [
    "HEX_DIGITS",
    "SOURCEMAP",
    "Escape",
    "Kind",
    "Piece",
    "Reference",
    "Scanner",
    "Site",
    "Syntax",
    "anchored",
    "is_local",
]

Syntax = Literal["css", "js"]
Kind = Literal["url", "import", "sourcemap", "module"]


@dataclass(frozen=True, slots=True)
class Reference:
    """One local reference: its decoded value and where its raw path part sits in the text.

    ``url`` has CSS/JS escapes decoded and keeps query and fragment; ``path`` is ``url`` up to the
    first ``?`` or ``#``. ``text[start:end]`` is the raw path part; ``line``/``column`` (1-based)
    locate ``start``.
    """

    kind: Kind
    url: str
    path: str
    line: int
    column: int
    start: int
    end: int

    def __post_init__(self) -> None:
        if not self.path or self.url[: _path_length(self.url)] != self.path:
            raise ValueError(f"path {self.path!r} is not the path part of {self.url!r}")
        if not 0 <= self.start < self.end:
            raise ValueError(f"bad span [{self.start}:{self.end}) for {self.url!r}")
        if self.line < 1 or self.column < 1:
            raise ValueError(f"bad position {self.line}:{self.column} for {self.url!r}")


# The URL standard strips leading and trailing C0 controls and spaces before parsing.
_URL_STRIP = "".join(map(chr, range(0x21)))
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# Browsers treat "\" like "/" in http(s) URLs, so each of these starts a protocol-relative URL.
_NETWORK_PATH_STARTS = frozenset({"//", "/\\", "\\/", "\\\\"})


def is_local(url: str) -> bool:
    """False for URLs that name no file of ours: ``data:`` and any other ``scheme:``,
    protocol-relative ``//host``, fragment-only ``#id`` / ``%23id``, a bare ``?query``, and
    empty or whitespace-only values."""
    value = url.strip(_URL_STRIP)
    if not value or value[0] in "#?" or value[:3].lower() == "%23":
        return False
    if value[:2] in _NETWORK_PATH_STARTS:
        return False
    return _SCHEME.match(value) is None


# A decoded character with the raw span it came from: (char, raw start, raw end).
Piece = tuple[str, int, int]
Escape = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Site:
    """A reference plus the way a new path must be escaped where it sits, and the pieces its
    path part was decoded from (one per character of ``ref.path``)."""

    ref: Reference
    escape: Escape
    pieces: tuple[Piece, ...]


def _path_length(url: str) -> int:
    """Length of the path part: everything before the first ``?`` or ``#``."""
    for index, char in enumerate(url):
        if char in "?#":
            return index
    return len(url)


class _Lines:
    """Offset -> 1-based (line, column). LF, CRLF and a lone CR each end a line.

    The lines are counted (``str.count``) from the start of the line of the offset asked for
    before, so references asked for in order cost one pass over the text in all."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._line, self._start = 1, 0  # a line's number and where it starts

    def position(self, offset: int) -> tuple[int, int]:
        text = self._text
        if offset < self._start:
            self._line, self._start = 1, 0
        start = self._start
        # A CR at offset - 1 before an LF at offset ends no line yet: its CRLF ends after it.
        line = (
            self._line
            + text.count("\n", start, offset)
            + text.count("\r", start, offset)
            - text.count("\r\n", start, offset + 1)
        )
        end = offset
        while True:
            last = max(text.rfind("\n", start, end), text.rfind("\r", start, end))
            if last < 0 or text[last] == "\n" or not text.startswith("\n", last + 1):
                break
            end = last  # the CR of a CRLF that offset splits
        self._line, self._start = line, (start if last < 0 else last + 1)
        return line, offset - self._start + 1


class Scanner:
    """Base of the two scanners: holds the text and turns decoded values into sites."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.pos = 0
        self.sites: list[Site] = []
        self._lines: _Lines | None = None

    def add(
        self,
        kind: Kind,
        pieces: list[Piece],
        escape: Escape,
        *,
        trim: bool = True,
        accept: Callable[[str], bool] = is_local,
    ) -> None:
        """Record the value made of ``pieces`` when ``accept`` says it is a reference."""
        lo, hi = 0, len(pieces)
        if trim:  # only literal whitespace: an escaped one is part of the value
            while lo < hi and _is_literal_space(pieces[lo]):
                lo += 1
            while hi > lo and _is_literal_space(pieces[hi - 1]):
                hi -= 1
        url = "".join(char for char, _, _ in pieces[lo:hi])
        cut = _path_length(url)
        if cut == 0 or not accept(url):
            return
        start, end = pieces[lo][1], pieces[lo + cut - 1][2]
        if self._lines is None:
            self._lines = _Lines(self.text)
        line, column = self._lines.position(start)
        reference = Reference(kind, url, url[:cut], line, column, start, end)
        self.sites.append(Site(reference, escape, tuple(pieces[lo : lo + cut])))

    def add_comment_url(self, value_start: int, body_end: int, *, block: bool) -> None:
        """A ``sourceMappingURL=`` value runs from ``value_start`` to whitespace or the end."""
        value = _NOT_SPACE.match(self.text, value_start, body_end)
        end = value_start if value is None else value.end()
        url = self.text[value_start:end]  # a comment has no escapes: one character a piece
        cut = _path_length(url)
        if cut == 0 or not is_local(url):  # an inline data: map is not split into pieces
            return
        pieces = [(self.text[i], i, i + 1) for i in range(value_start, end)]
        self.add("sourcemap", pieces, partial(_escape_comment_url, block=block))


# A comment's sourceMappingURL value: up to whitespace (``\s`` is what str.isspace says).
_NOT_SPACE = re.compile(r"\S+")


def anchored(pattern: re.Pattern[str], text: str, pos: int, endpos: int = -1) -> re.Match[str]:
    """The match at ``pos`` of a pattern that cannot fail there (one that may match nothing)."""
    match = pattern.match(text, pos) if endpos < 0 else pattern.match(text, pos, endpos)
    assert match is not None, pattern.pattern
    return match


def _is_literal_space(piece: Piece) -> bool:
    char, start, end = piece
    return end - start == 1 and char in " \t\n\r\f"


# ``/*# sourceMappingURL=…`` and the older ``@`` form; matched at the start of a comment body.
SOURCEMAP = re.compile(r"[#@][ \t]+sourceMappingURL=")

# The digits of CSS hex escapes and of JavaScript \x, \u and \u{...} escapes.
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _escape_comment_url(path: str, *, block: bool) -> str:
    """Comments have no escapes: percent-encode what would end the value or the comment."""
    out: list[str] = []
    for index, char in enumerate(path):
        if char.isspace():
            out.append("".join(f"%{byte:02X}" for byte in char.encode()))
        elif block and char == "*" and path[index + 1 : index + 2] == "/":
            out.append("%2A")
        else:
            out.append(char)
    return "".join(out)
