"""The CSS scanner: ``url()``, ``@import``, ``image-set()`` strings and source map comments.

It walks the text once, following CSS Syntax Level 3 closely enough for references: comments,
strings, escapes, bad strings and bad urls, and the inside of unquoted ``data:`` URIs.
"""

from __future__ import annotations

import re
from functools import partial

from .scanner import HEX_DIGITS, SOURCEMAP, Kind, Piece, Scanner, Site, anchored

__all__ = ["CssScanner"]

_CSS_SPACE = " \t\n\r\f"
_CSS_NEWLINE = "\n\r\f"
# Functions whose direct string arguments are URLs, as if wrapped in url().
_IMAGE_SET_FUNCTIONS = frozenset({"image-set", "-webkit-image-set"})


# Name characters: ASCII letters, digits, "-" and "_", and everything beyond ASCII.
_CSS_NAME_CHARS = r"A-Za-z0-9_\-\x80-\U0010ffff"


def _ascii_case_insensitive(word: str) -> str:
    """``url`` -> ``[uU][rR][lL]``: re.IGNORECASE would also let "K" (Kelvin sign) match "k"."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


_CSS_URL_FUNCTIONS = "|".join(map(_ascii_case_insensitive, ["url", *sorted(_IMAGE_SET_FUNCTIONS)]))
_CSS_ESCAPE = r"\\(?:[0-9a-fA-F]{1,6}(?:\r\n|[ \t\n\r\f])?|\r\n|[\s\S])?"
# While no @import waits and no image-set() is open, strings and names mean nothing: the scanner
# skips all but the places that may matter (_idle_end), in one match that runs over most of the
# text a character class at a time. It stops at a backslash (an escape can spell url), at
# @import, at a source map comment or an unclosed one, and at the words url( and image-set(
# (which count only as a whole name, not in a longer one or after "@" or "#"); strings and other
# comments are skipped whole, so that nothing inside them counts.
#
# Linear time: every alternative starts with a character the others cannot start with (or,
# for "/", "@" and the letters, is told apart by a lookahead), and the whole always matches.
_CSS_IDLE = re.compile(
    r"(?:[^\\\"'@/uUiI\-]+"
    + "".join(rf"|{q}[^{q}\\\n\r\f]*(?:{_CSS_ESCAPE}[^{q}\\\n\r\f]*)*{q}?" for q in "\"'")
    + r"|/\*(?![#@][ \t]+sourceMappingURL=)[^*]*\*+(?:[^/*][^*]*\*+)*/|/(?!\*)"
    + rf"|@(?!{_ascii_case_insensitive('import')}(?![{_CSS_NAME_CHARS}\\]))"
    + rf"|(?!(?:{_CSS_URL_FUNCTIONS})\()[uUiI\-])*"
)
_CSS_URL_WORD = re.compile(rf"(?:{_CSS_URL_FUNCTIONS})\(")


def _idle_end(text: str, pos: int) -> int:
    """Where the idle scanner must look again, from ``pos`` (a token start): the start of a
    url( or image-set( function, of @import, of the name an escape is part of, of a source map
    comment or of an unclosed one; the end of the text if none comes."""
    n = len(text)
    at = pos
    while (at := anchored(_CSS_IDLE, text, at).end()) < n:
        char = text[at]
        if char not in "\\uUiI-":
            return at  # @import, or a comment that names a source map or does not end
        start = at  # an escape or a url word: where does the name it is part of start?
        while start > pos and _is_css_name_char(text[start - 1]):
            start -= 1
        marked = start > pos and text[start - 1] in "@#"
        if char == "\\":
            return start - 1 if marked else start
        if start == at and not marked:
            return at
        at = anchored(_CSS_URL_WORD, text, at).end()  # a longer name: it and its "(" mean nothing
    return n


# Without a backslash, a reference needs one of these words as it stands (any ASCII case).
_CSS_TRIGGERS = ("url(", "image-set(", "@import")


def _may_hold_css_references(text: str) -> bool:
    """False only when no reference can occur: a cheap test that spares most of a scan."""
    if "\\" in text or "sourceMappingURL=" in text:
        return True
    lowered = text.lower()  # lowers more than ASCII, which can only add false alarms
    return any(word in lowered for word in _CSS_TRIGGERS)


def _is_css_name_char(char: str) -> bool:
    return char.isalnum() or char in "-_" if char.isascii() else True


def _is_css_non_printable(char: str) -> bool:
    code = ord(char)
    return code <= 0x08 or code == 0x0B or 0x0E <= code <= 0x1F or code == 0x7F


def _css_escape_end(text: str, i: int) -> int:
    """End of the escape whose backslash is at ``i``; hex digits eat one trailing space, and a
    CRLF after the backslash (a line continuation in a string) counts as one character."""
    j = i + 1
    if j >= len(text) or text[j] not in HEX_DIGITS:
        return min(j + (2 if text.startswith("\r\n", j) else 1), len(text))
    k = j
    while k < len(text) and k - j < 6 and text[k] in HEX_DIGITS:
        k += 1
    if k < len(text) and text[k] in _CSS_SPACE:
        k += 2 if text.startswith("\r\n", k) else 1
    return k


def _css_escaped_char(body: str) -> str:
    """The character an escape stands for; ``body`` is the escape without its backslash."""
    if body[0] not in HEX_DIGITS:
        return body[0]
    code = int(body.rstrip(_CSS_SPACE), 16)
    # CSS Syntax §4.3.7: zero, surrogates and out-of-range code points become U+FFFD.
    if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return "\ufffd"
    return chr(code)


def _css_pieces(text: str, start: int, end: int) -> list[Piece]:
    """Decode CSS escapes (and string line continuations) in ``text[start:end]``."""
    pieces: list[Piece] = []
    i = start
    while i < end:
        char = text[i]
        if char != "\\":
            pieces.append((char, i, i + 1))
            i += 1
        elif i + 1 >= end:  # a backslash at the very end stands for nothing
            i += 1
        elif text[i + 1] in _CSS_NEWLINE:
            i += 3 if text.startswith("\r\n", i + 1) else 2
        else:
            j = min(_css_escape_end(text, i), end)
            pieces.append((_css_escaped_char(text[i + 1 : j]), i, j))
            i = j
    return pieces


def _ascii_lower(name: str) -> str:
    return name.lower() if name.isascii() else name


class CssScanner(Scanner):
    """Walks CSS once, following CSS Syntax Level 3 closely enough for references."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.functions: list[str] = []  # open parenthesised groups, innermost last
        self.import_pending = False  # an @import waits for its string or url()

    def run(self) -> list[Site]:
        if not _may_hold_css_references(self.text):
            return self.sites
        text = self.text
        while self.pos < self.n:
            if not self.import_pending and _IMAGE_SET_FUNCTIONS.isdisjoint(self.functions):
                # Only an image-set() on the stack can give a string meaning; without one, no
                # entry can matter again, and nothing but the places of _idle_end needs a look.
                self.functions.clear()
                self.pos = _idle_end(text, self.pos)
                if self.pos >= self.n:
                    break
            self.step(text[self.pos])
        return self.sites

    def step(self, char: str) -> None:
        """Consume the token at ``pos``, one character of whitespace or punctuation at most."""
        if char in _CSS_SPACE:
            self.pos += 1
        elif self.text.startswith("/*", self.pos):
            self.comment()
        elif char in "\"'":
            self.string(self.string_kind())
        elif char in "@#":
            self.pos += 1
            name = self.name()
            self.import_pending = char == "@" and name == "import"
        elif self.starts_name(self.pos):
            self.word()
        else:
            self.punctuation(char)

    def starts_name(self, i: int) -> bool:
        char = self.text[i]
        if char == "\\":
            return i + 1 >= self.n or self.text[i + 1] not in _CSS_NEWLINE
        return _is_css_name_char(char)

    def name(self) -> str:
        """Consume a run of name characters and escapes; return it decoded and ASCII-lowercased."""
        start = self.pos
        while self.pos < self.n and self.starts_name(self.pos):
            if self.text[self.pos] == "\\":
                self.pos = _css_escape_end(self.text, self.pos)
            else:
                self.pos += 1
        raw = self.text[start : self.pos]
        if "\\" in raw:
            raw = "".join(char for char, _, _ in _css_pieces(self.text, start, self.pos))
        return _ascii_lower(raw)

    def word(self) -> None:
        """An identifier, number or dimension; followed by ``(`` it opens a function."""
        name = self.name()
        if self.pos < self.n and self.text[self.pos] == "(":
            self.pos += 1
            if name == "url":
                self.url_function()
                return
            self.functions.append(name)
        self.import_pending = False

    def punctuation(self, char: str) -> None:
        self.pos += 1
        self.import_pending = False
        if char == "(":
            self.functions.append("")
        elif char == ")":
            if self.functions:
                self.functions.pop()
        elif char in "{};":  # a stray "(" must not leak into the next rule
            self.functions.clear()

    def comment(self) -> None:
        body = self.pos + 2
        close = self.text.find("*/", body)
        body_end = self.n if close < 0 else close
        match = SOURCEMAP.match(self.text, body, body_end)
        if match:
            self.add_comment_url(match.end(), body_end, block=True)
        self.pos = self.n if close < 0 else close + 2

    def string_kind(self) -> Kind | None:
        if self.import_pending:
            return "import"
        if self.functions and self.functions[-1] in _IMAGE_SET_FUNCTIONS:
            return "url"
        return None

    def string(self, kind: Kind | None) -> None:
        """Consume a quoted string; when ``kind`` is set its value is a reference."""
        self.import_pending = False
        text, quote = self.text, self.text[self.pos]
        i = self.pos + 1
        while i < self.n and text[i] != quote:
            if text[i] in _CSS_NEWLINE:  # an unescaped newline makes a bad string
                self.pos = i
                return
            i = _css_escape_end(text, i) if text[i] == "\\" else i + 1
        if kind is not None:  # a string cut off by the end of the text still counts
            escape = partial(_escape_css_string, quote=quote)
            self.add(kind, _css_pieces(text, self.pos + 1, i), escape)
        self.pos = min(i + 1, self.n)

    def skip_space(self, i: int) -> int:
        while i < self.n and self.text[i] in _CSS_SPACE:
            i += 1
        return i

    def url_function(self) -> None:
        """Just after ``url(``: a quoted argument is a string, anything else a url token."""
        kind: Kind = "import" if self.import_pending else "url"
        self.import_pending = False
        i = self.skip_space(self.pos)
        if i < self.n and self.text[i] in "\"'":
            self.functions.append("url")
            self.pos = i
            self.string(kind)
        elif self.text[i : i + 5].lower() == "data:" and (end := self.data_uri_end(i)):
            self.pos = end
        else:
            self.unquoted_url(i, kind)

    def data_uri_end(self, i: int) -> int | None:
        """End of an unquoted data URI, nested parentheses included (such as an SVG's
        ``url(%23id)``), or None when a newline comes first and the plain rules must apply."""
        depth = 0
        while i < self.n:
            char = self.text[i]
            if char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    return i + 1
                depth -= 1
            elif char in _CSS_NEWLINE:
                return None
            elif char == "\\":
                i = _css_escape_end(self.text, i)
                continue
            i += 1
        return self.n

    def unquoted_url(self, i: int, kind: Kind) -> None:
        """CSS Syntax §4.3.6 "consume a url token"; a bad url reports nothing."""
        text, start = self.text, i
        while i < self.n:
            char = text[i]
            if char == ")" or char in _CSS_SPACE:
                after = self.skip_space(i)
                if after < self.n and text[after] != ")":
                    break
                self.add(kind, _css_pieces(text, start, i), _escape_css_unquoted)
                self.pos = min(after + 1, self.n)
                return
            if char in "\"'(" or _is_css_non_printable(char):
                break
            if char == "\\":
                if i + 1 < self.n and text[i + 1] in _CSS_NEWLINE:
                    break
                i = _css_escape_end(text, i)
            else:
                i += 1
        else:  # the end of the text closes the url token
            self.add(kind, _css_pieces(text, start, self.n), _escape_css_unquoted)
            self.pos = self.n
            return
        self.pos = self.bad_url_end(i)

    def bad_url_end(self, i: int) -> int:
        while i < self.n and self.text[i] != ")":
            if self.text[i] == "\\" and self.starts_name(i):
                i = _css_escape_end(self.text, i)
            else:
                i += 1
        return min(i + 1, self.n)


def _escape_css_unquoted(path: str) -> str:
    return "".join(_escape_css_url_char(char) for char in path)


def _escape_css_url_char(char: str) -> str:
    if char in " \"'()\\":
        return "\\" + char
    if ord(char) < 0x20 or char == "\x7f":
        return f"\\{ord(char):x} "  # the space ends the hex escape and is swallowed by it
    return char


def _escape_css_string(path: str, *, quote: str) -> str:
    return "".join(_escape_css_string_char(char, quote) for char in path)


def _escape_css_string_char(char: str, quote: str) -> str:
    if char in (quote, "\\"):
        return "\\" + char
    if char in _CSS_NEWLINE:
        return f"\\{ord(char):x} "
    return char
