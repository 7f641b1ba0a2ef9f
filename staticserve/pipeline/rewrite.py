"""Find and edit the references inside CSS and JavaScript text.

Pure text in, text out: no disk, no hashing. One small scanner per syntax walks the text once;
it knows comments, strings, escapes and the inside of ``data:`` URIs, and reports every local
reference with the exact span of its path part, so a rewrite changes those characters only.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Literal

__all__ = ["Reference", "Syntax", "find_references", "is_local", "rewrite"]

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


# --- shared plumbing ------------------------------------------------------------------------

# A decoded character with the raw span it came from: (char, raw start, raw end).
_Piece = tuple[str, int, int]
_Escape = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class _Site:
    """A reference plus the way a new path must be escaped where it sits."""

    ref: Reference
    escape: _Escape


def _path_length(url: str) -> int:
    """Length of the path part: everything before the first ``?`` or ``#``."""
    for index, char in enumerate(url):
        if char in "?#":
            return index
    return len(url)


class _Lines:
    """Offset -> 1-based (line, column). LF, CRLF and a lone CR each end a line."""

    _BREAK = re.compile(r"\r\n?|\n")

    def __init__(self, text: str) -> None:
        self._starts = [0, *(m.end() for m in self._BREAK.finditer(text))]

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


class _Scanner:
    """Base of the two scanners: holds the text and turns decoded values into sites."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.pos = 0
        self.sites: list[_Site] = []
        self._lines: _Lines | None = None

    def add(
        self,
        kind: Kind,
        pieces: list[_Piece],
        escape: _Escape,
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
        self.sites.append(_Site(Reference(kind, url, url[:cut], line, column, start, end), escape))

    def add_comment_url(self, value_start: int, body_end: int, *, block: bool) -> None:
        """A ``sourceMappingURL=`` value runs from ``value_start`` to whitespace or the end."""
        end = value_start
        while end < body_end and not self.text[end].isspace():
            end += 1
        pieces = [(self.text[i], i, i + 1) for i in range(value_start, end)]
        self.add("sourcemap", pieces, partial(_escape_comment_url, block=block))


def _anchored(pattern: re.Pattern[str], text: str, pos: int, endpos: int = -1) -> re.Match[str]:
    """The match at ``pos`` of a pattern that cannot fail there (one that may match nothing)."""
    match = pattern.match(text, pos) if endpos < 0 else pattern.match(text, pos, endpos)
    assert match is not None, pattern.pattern
    return match


def _is_literal_space(piece: _Piece) -> bool:
    char, start, end = piece
    return end - start == 1 and char in " \t\n\r\f"


# ``/*# sourceMappingURL=…`` and the older ``@`` form; matched at the start of a comment body.
_SOURCEMAP = re.compile(r"[#@][ \t]+sourceMappingURL=")


# --- CSS --------------------------------------------------------------------------------------

_CSS_SPACE = " \t\n\r\f"
_CSS_NEWLINE = "\n\r\f"
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
# Functions whose direct string arguments are URLs, as if wrapped in url().
_IMAGE_SET_FUNCTIONS = frozenset({"image-set", "-webkit-image-set"})


# Name characters: ASCII letters, digits, "-" and "_", and everything beyond ASCII.
_CSS_NAME_CHARS = r"A-Za-z0-9_\-\x80-\U0010ffff"


def _ascii_case_insensitive(word: str) -> str:
    """``url`` -> ``[uU][rR][lL]``: re.IGNORECASE would also let "K" (Kelvin sign) match "k"."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


_CSS_URL_FUNCTIONS = "|".join(map(_ascii_case_insensitive, ["url", *sorted(_IMAGE_SET_FUNCTIONS)]))
_CSS_ESCAPE = r"\\(?:[0-9a-fA-F]{1,6}(?:\r\n|[ \t\n\r\f])?|\r\n|[\s\S])?"
# What the scanner may skip whole while no @import waits and no image-set() is open: whitespace,
# comments that name no source map, strings (which mean nothing there; a bad one stops at its
# newline), names without escapes (but not url( or image-set( ), @ and # names (but not @import)
# and punctuation. It stops at a token start the scanner must look at: those exceptions, any
# backslash (an escape can spell url), and an unclosed comment.
_CSS_STRETCH = re.compile(
    r"(?:[ \t\n\r\f]++"
    r"|/\*(?![#@][ \t]+sourceMappingURL=)[^*]*+\*++(?:[^/*][^*]*+\*++)*/"
    + "".join(rf"|{q}[^{q}\\\n\r\f]*+(?:{_CSS_ESCAPE}[^{q}\\\n\r\f]*+)*{q}?" for q in "\"'")
    + rf"|(?!(?:{_CSS_URL_FUNCTIONS})\()[{_CSS_NAME_CHARS}]++(?!\\)"
    + rf"|(?!@{_ascii_case_insensitive('import')}(?![{_CSS_NAME_CHARS}\\]))"
    + rf"[@#][{_CSS_NAME_CHARS}]*+(?!\\)"
    + rf"|(?:[^{_CSS_NAME_CHARS}@#\\\"'/ \t\n\r\f]|/(?!\*))+)*"
)
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
    if j >= len(text) or text[j] not in _HEX_DIGITS:
        return min(j + (2 if text.startswith("\r\n", j) else 1), len(text))
    k = j
    while k < len(text) and k - j < 6 and text[k] in _HEX_DIGITS:
        k += 1
    if k < len(text) and text[k] in _CSS_SPACE:
        k += 2 if text.startswith("\r\n", k) else 1
    return k


def _css_escaped_char(body: str) -> str:
    """The character an escape stands for; ``body`` is the escape without its backslash."""
    if body[0] not in _HEX_DIGITS:
        return body[0]
    code = int(body.rstrip(_CSS_SPACE), 16)
    # CSS Syntax §4.3.7: zero, surrogates and out-of-range code points become U+FFFD.
    if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return "\ufffd"
    return chr(code)


def _css_pieces(text: str, start: int, end: int) -> list[_Piece]:
    """Decode CSS escapes (and string line continuations) in ``text[start:end]``."""
    pieces: list[_Piece] = []
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


class _CssScanner(_Scanner):
    """Walks CSS once, following CSS Syntax Level 3 closely enough for references."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.functions: list[str] = []  # open parenthesised groups, innermost last
        self.import_pending = False  # an @import waits for its string or url()

    def run(self) -> list[_Site]:
        if not _may_hold_css_references(self.text):
            return self.sites
        text = self.text
        while self.pos < self.n:
            if not self.import_pending and _IMAGE_SET_FUNCTIONS.isdisjoint(self.functions):
                # Only an image-set() on the stack can give a string meaning; without one, no
                # entry can matter again, and nothing but the stops of _CSS_STRETCH needs a look.
                self.functions.clear()
                self.pos = _anchored(_CSS_STRETCH, text, self.pos).end()
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
        match = _SOURCEMAP.match(self.text, body, body_end)
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


# --- JavaScript -------------------------------------------------------------------------------

_TokenKind = Literal["name", "string", "punct", "other"]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _TokenKind
    start: int
    end: int


_JS_NAME_CHARS = r"\w$\\\u200c\u200d"
_JS_NAME = re.compile(rf"[{_JS_NAME_CHARS}]+")
_JS_LINE_END = re.compile(r"[\n\r\u2028\u2029]")
_JS_LINE_TERMINATORS = "\n\r\u2028\u2029"
_JS_SPACE = re.compile(r"[\s\ufeff]*+")  # \s is exactly str.isspace()
# One token that is no string, template, regex, comment or brace: a number (group 1), a name
# (group 2), a private name such as #import (group 3, not the keyword) or a punctuator.
_JS_PLAIN = re.compile(
    rf"(\.?[0-9][\w.]*+)|([{_JS_NAME_CHARS}]++)|(#[{_JS_NAME_CHARS}]*+)|\+\+|--|[\s\S]"
)
# Characters that may continue the token before them: what may precede the last token of a run.
_JS_JOINING = re.compile(rf"[{_JS_NAME_CHARS}.+\-#]")
# The bodies of strings, template chunks and regular expressions, up to what ends them.
_JS_STRING_BODIES = {
    quote: rf"[^{quote}\\\n\r]*+(?:\\(?:\r\n|[\s\S])[^{quote}\\\n\r]*+)*" for quote in "\"'"
}
_JS_STRING_BODY = {quote: re.compile(body) for quote, body in _JS_STRING_BODIES.items()}
_JS_TEMPLATE_BODY_SOURCE = r"[^`\\$]*+(?:(?:\\[\s\S]|\$(?!\{))[^`\\$]*+)*"
_JS_TEMPLATE_BODY = re.compile(_JS_TEMPLATE_BODY_SOURCE)
_JS_REGEX_BODY = re.compile(
    r"(?:[^\\/\[\n\r\u2028\u2029]++|\\[\s\S]"
    r"|\[(?:[^\\\]\n\r\u2028\u2029]++|\\[\s\S])*\]?)*"
)
# "import" or "export" where a name token starts. After ".", the word is a property or sits in a
# number ("1.import"); after a name character or "#", it is part of a longer name: never a keyword.
_JS_KEYWORD = re.compile(
    rf"(?<![{_JS_NAME_CHARS}.#])(?:import|export)(?![{_JS_NAME_CHARS}])"
)  # fmt: skip
_JS_NOT_SOURCEMAP = r"(?![#@][ \t]+sourceMappingURL=)"


def _js_stretch(stops: str) -> re.Pattern[str]:
    """A run of text the scanner can skip whole: whitespace, comments that name no source map,
    complete strings and substitution-free templates (group 2), and plain code (group 3) up to
    the next ``stops`` character. Group 1 is the last line comment, which an ``endpos`` can cut.
    """
    quoted = "|".join(
        [f"{quote}{body}{quote}" for quote, body in _JS_STRING_BODIES.items()]
        + [f"`{_JS_TEMPLATE_BODY_SOURCE}`"]
    )
    return re.compile(
        r"(?:[\s\ufeff]++"
        rf"|/\*{_JS_NOT_SOURCEMAP}[^*]*+\*++(?:[^/*][^*]*+\*++)*/"
        rf"|(//{_JS_NOT_SOURCEMAP}[^\n\r\u2028\u2029]*+)"
        rf"|({quoted})"
        rf"|([^\s\ufeff{stops}][^{stops}]*+))*"
    )


_JS_STRETCH = _js_stretch("/\"'`")
# Inside a template's "${…}" every brace counts: the "}" that closes it resumes the template.
_JS_STRETCH_IN_SUBSTITUTION = _js_stretch("/\"'`{}")
_JS_LINE_COMMENT_GROUP, _JS_QUOTED_GROUP, _JS_CODE_GROUP = 1, 2, 3

# After these words an expression starts, so "/" opens a regular expression, not a division.
_JS_KEYWORDS_BEFORE_EXPRESSION = frozenset(
    {"return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case",
     "do", "else", "yield", "await"}
)  # fmt: skip
# After these punctuators an operand has just ended, so "/" divides.
_JS_PUNCT_BEFORE_DIVISION = frozenset({")", "]", "++", "--"})


class _JsScanner(_Scanner):
    """Tokenizes JavaScript coarsely, collecting sourceMappingURL comments and module specifiers.

    Comments vanish; regular expressions, template literal chunks and numbers are opaque
    ``other`` tokens; strings keep their span. Tokens are only materialised where they matter:
    the scan skips plain code in big regex steps, remembers where the last token lies (for the
    regex-or-division question at a "/"), and tokenizes one by one only after "import" and
    "export", in a fork of itself.
    """

    def __init__(self, text: str, *, record: bool = True) -> None:
        super().__init__(text)
        self.record = record  # forks only look ahead: the main scan records comments
        self.substitutions: list[int] = []  # per open template "${": plain "{" open inside it
        self.last: _Token | None = None
        self.code: tuple[int, int] | None = None  # plain code holding the last token, unsplit
        self.keyword_at = {"import": -1, "export": -1}  # next candidate of each, once looked up

    def run(self) -> list[_Site]:
        if "import" in self.text or "export" in self.text or "sourceMappingURL" in self.text:
            self.scan()
            self.sites.sort(key=lambda site: site.ref.start)
        return self.sites

    def scan(self) -> None:
        text, n = self.text, self.n
        if text.startswith("#!"):
            self.line_comment()
        while self.pos < n:
            stop = self.next_keyword()
            stretch = _anchored(self.stretch_pattern(), text, self.pos, stop)
            self.note(stretch)
            self.pos = stretch.end()
            if self.pos < stop:
                self.special()
            elif self.pos == n:
                break
            elif stretch.end(_JS_LINE_COMMENT_GROUP) == stop:  # "import" inside a // comment
                self.pos = stretch.start(_JS_LINE_COMMENT_GROUP)
                self.line_comment()
            else:
                self.keyword()

    def next_keyword(self) -> int:
        """Offset of the next "import" or "export" that may be a keyword, or the text's length.

        Two ``str.find`` cursors: much faster than a regex search for either word."""
        for word, offset in self.keyword_at.items():
            if offset < self.pos:
                self.keyword_at[word] = self.find_keyword(word, self.pos)
        return min(self.keyword_at.values())

    def find_keyword(self, word: str, start: int) -> int:
        while (found := self.text.find(word, start)) >= 0:
            if _JS_KEYWORD.match(self.text, found):
                return found
            start = found + 1
        return self.n

    def stretch_pattern(self) -> re.Pattern[str]:
        return _JS_STRETCH_IN_SUBSTITUTION if self.substitutions else _JS_STRETCH

    def note(self, stretch: re.Match[str]) -> None:
        """Remember the last token a stretch skipped, lazily for plain code."""
        quoted_end = stretch.end(_JS_QUOTED_GROUP)
        code_end = stretch.end(_JS_CODE_GROUP)
        if code_end > quoted_end:
            self.code = (stretch.start(_JS_CODE_GROUP), code_end)
        elif quoted_end > code_end:
            start = stretch.start(_JS_QUOTED_GROUP)
            self.last = _Token("other" if self.text[start] == "`" else "string", start, quoted_end)
            self.code = None

    def last_token(self) -> _Token | None:
        if self.code is not None:
            self.last = _js_last_token(self.text, *self.code)
            self.code = None
        return self.last

    def emit(self, kind: _TokenKind, end: int) -> _Token:
        token = self.last = _Token(kind, self.pos, end)
        self.code = None
        self.pos = end
        return token

    def keyword(self) -> None:
        """At "import" or "export": match the statement ahead, unless the word is a property."""
        start = end = self.pos
        end += 6
        last = self.last_token()
        if last is None or self.text[last.start : last.end] != "." or last.kind != "punct":
            ahead = _TokenMatcher(self.text, self.fork(end).tokens())
            if self.text[start:end] == "import":
                found = ahead.after_import(0)
            else:
                found = ahead.from_clause(0)
            if found is not None:
                self.add_specifier(ahead.tokens[found])
        self.emit("name", end)

    def fork(self, pos: int) -> _JsScanner:
        """A scanner in this one's state at ``pos``, just after the token last emitted."""
        other = _JsScanner(self.text, record=False)
        other.pos = pos
        other.substitutions = self.substitutions.copy()
        other.last = _Token("name", self.pos, pos)
        return other

    def tokens(self) -> Iterator[_Token]:
        """Every token from ``pos`` on, one by one."""
        text, n = self.text, self.n
        while True:
            self.pos = _anchored(_JS_SPACE, text, self.pos).end()
            if self.pos >= n:
                return
            token = self.special() if text[self.pos] in "/\"'`{}" else self.plain()
            if token is not None:
                yield token

    def plain(self) -> _Token:
        token = _js_plain_token(self.text, self.pos)
        return self.emit(token.kind, token.end)

    def special(self) -> _Token | None:
        """The token (None for a comment) at a character that plain code cannot hold."""
        char = self.text[self.pos]
        if char == "/":
            return self.slash()
        if char in "\"'":
            return self.string(char)
        if char == "`":
            return self.template(self.pos + 1)
        if char == "}" and self.substitutions and self.substitutions[-1] == 0:
            self.substitutions.pop()
            return self.template(self.pos + 1)
        if self.substitutions:  # only braces reach here in a substitution
            self.substitutions[-1] += 1 if char == "{" else -1
        return self.emit("punct", self.pos + 1)

    def slash(self) -> _Token | None:
        following = self.text[self.pos + 1 : self.pos + 2]
        if following == "/":
            self.line_comment()
        elif following == "*":
            self.block_comment()
        elif self.regex_allowed():
            return self.regex()
        else:
            return self.emit("punct", self.pos + 1)
        return None

    def regex_allowed(self) -> bool:
        last = self.last_token()
        if last is None:
            return True
        value = self.text[last.start : last.end]
        if last.kind == "punct":
            return value not in _JS_PUNCT_BEFORE_DIVISION
        return last.kind == "name" and value in _JS_KEYWORDS_BEFORE_EXPRESSION

    def line_comment(self) -> None:
        body = self.pos + 2
        line_end = _JS_LINE_END.search(self.text, body)
        end = line_end.start() if line_end else self.n
        match = _SOURCEMAP.match(self.text, body, end)
        if match and self.record and self.starts_line(self.pos):
            self.add_comment_url(match.end(), end, block=False)
        self.pos = end

    def starts_line(self, i: int) -> bool:
        """True when only whitespace precedes offset ``i`` on its line."""
        while i > 0 and self.text[i - 1].isspace():
            if self.text[i - 1] in _JS_LINE_TERMINATORS:
                return True
            i -= 1
        return i == 0

    def block_comment(self) -> None:
        body = self.pos + 2
        close = self.text.find("*/", body)
        body_end = self.n if close < 0 else close
        match = _SOURCEMAP.match(self.text, body, body_end)
        if match and self.record:
            self.add_comment_url(match.end(), body_end, block=True)
        self.pos = self.n if close < 0 else close + 2

    def string(self, quote: str) -> _Token:
        end = _anchored(_JS_STRING_BODY[quote], self.text, self.pos + 1).end()
        if end < self.n and self.text[end] == quote:
            return self.emit("string", end + 1)
        if end < self.n and self.text[end] in "\n\r":  # unterminated: not a usable literal
            return self.emit("other", end)
        return self.emit("other", self.n)  # the end of the text, maybe after a lone backslash

    def template(self, i: int) -> _Token:
        """A template chunk from ``i`` up to the closing backtick or the next ``${``."""
        end = _anchored(_JS_TEMPLATE_BODY, self.text, i).end()
        if self.text.startswith("`", end):
            return self.emit("other", end + 1)
        if self.text.startswith("${", end):
            self.substitutions.append(0)
            return self.emit("other", end + 2)
        return self.emit("other", self.n)

    def regex(self) -> _Token:
        end = _anchored(_JS_REGEX_BODY, self.text, self.pos + 1).end()
        if self.text.startswith("/", end):
            flags = _JS_NAME.match(self.text, end + 1)
            return self.emit("other", flags.end() if flags else end + 1)
        # A line terminator ends an unterminated regex; else the text ends (maybe after a "\").
        ended_by_line = end < self.n and self.text[end] in _JS_LINE_TERMINATORS
        return self.emit("other", end if ended_by_line else self.n)

    def add_specifier(self, token: _Token) -> None:
        quote = self.text[token.start]
        pieces = _js_pieces(self.text, token.start + 1, token.end - 1)
        escape = partial(_escape_js_string, quote=quote)
        self.add("module", pieces, escape, trim=False, accept=_is_module_path)


_JS_PLAIN_KINDS: dict[int, _TokenKind] = {1: "other", 2: "name", 3: "other"}


def _js_last_token(text: str, start: int, end: int) -> _Token:
    """The last token of plain code ``text[start:end]``, which starts with a token and holds no
    string, template, regex or comment. Tokenizes only its tail: the character after whitespace
    or a lone punctuator (one that joins no neighbour) always starts a token."""
    while text[end - 1].isspace() or text[end - 1] == "\ufeff":
        end -= 1
    i = end
    while i > start and _JS_JOINING.match(text, i - 1):
        i -= 1
    if i == end:
        return _Token("punct", end - 1, end)
    token = _js_plain_token(text, i)
    while token.end < end:
        token = _js_plain_token(text, token.end)
    return token


def _js_plain_token(text: str, i: int) -> _Token:
    match = _anchored(_JS_PLAIN, text, i)
    kind = "punct" if match.lastindex is None else _JS_PLAIN_KINDS[match.lastindex]
    return _Token(kind, i, match.end())


def _is_module_path(url: str) -> bool:
    """Relative or absolute specifiers only; bare ones ("vue", "@scope/pkg") are packages."""
    return url.startswith(("./", "../", "/")) and is_local(url)


class _TokenMatcher:
    """Small recursive-descent checks over the tokens after a keyword; each returns a string's
    index. Tokens are pulled from the stream only as far as a check needs them."""

    def __init__(self, text: str, stream: Iterator[_Token]) -> None:
        self.text = text
        self.stream = stream
        self.tokens: list[_Token] = []

    def get(self, i: int) -> _Token | None:
        while len(self.tokens) <= i:
            token = next(self.stream, None)
            if token is None:
                return None
            self.tokens.append(token)
        return self.tokens[i]

    def is_at(self, i: int, kind: _TokenKind, value: str | None = None) -> bool:
        token = self.get(i)
        if token is None or token.kind != kind:
            return False
        return value is None or self.text[token.start : token.end] == value

    def after_import(self, i: int) -> int | None:
        if self.is_at(i, "punct", "("):  # import("./x.js") or import("./x.json", {...})
            plain = self.is_at(i + 1, "string") and (
                self.is_at(i + 2, "punct", ")") or self.is_at(i + 2, "punct", ",")
            )
            return i + 1 if plain else None
        if self.is_at(i, "string"):  # import "./side-effect.js"
            return i
        return self.from_clause(i)

    def from_clause(self, i: int) -> int | None:
        """Skip an import/export clause (names, ``*``, ``,``, ``{…}``) up to ``from "…"``."""
        while (token := self.get(i)) is not None:
            value = self.text[token.start : token.end]
            if token.kind == "name":
                if value == "from" and self.is_at(i + 1, "string"):
                    return i + 1
                if value in ("import", "export"):
                    return None
            elif token.kind != "punct" or value not in "*,{":
                return None
            elif value == "{":
                end = self.brace_group_end(i + 1)
                if end is None:
                    return None
                i = end
            i += 1
        return None

    def brace_group_end(self, i: int) -> int | None:
        """Index of the ``}`` closing a ``{ a, b as c, "d-e" as f }`` list."""
        while (token := self.get(i)) is not None:
            value = self.text[token.start : token.end]
            if token.kind == "punct" and value == "}":
                return i
            if token.kind not in ("name", "string") and value != ",":
                return None
            i += 1
        return None


_JS_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}


def _js_pieces(text: str, start: int, end: int) -> list[_Piece]:
    """Decode JS string escapes in ``text[start:end]``; invalid ones stand for themselves."""
    pieces: list[_Piece] = []
    i = start
    while i < end:
        if text[i] != "\\" or i + 1 >= end:
            pieces.append((text[i], i, i + 1))
            i += 1
            continue
        char, j = _js_escape(text, i + 1, end)
        if char:  # a line continuation stands for nothing
            pieces.append((char, i, j))
        i = j
    return pieces


def _js_escape(text: str, i: int, end: int) -> tuple[str, int]:
    """The character of the escape whose body starts at ``i``, and where the escape ends."""
    char = text[i]
    if char in _JS_LINE_TERMINATORS:
        return "", i + (2 if text.startswith("\r\n", i) else 1)
    if char in _JS_SIMPLE_ESCAPES:
        return _JS_SIMPLE_ESCAPES[char], i + 1
    if char == "0" and not text[i + 1 : min(i + 2, end)].isdigit():
        return "\0", i + 1
    if char == "x":
        digits, after = text[i + 1 : min(i + 3, end)], i + 3
        valid = len(digits) == 2
    elif char == "u" and text.startswith("{", i + 1):
        close = text.find("}", i + 2, end)
        digits, after = text[i + 2 : max(close, i + 2)], close + 1
        valid = close > i + 2
    elif char == "u":
        digits, after = text[i + 1 : min(i + 5, end)], i + 5
        valid = len(digits) == 4
    else:
        return char, i + 1
    if valid and all(d in _HEX_DIGITS for d in digits) and int(digits, 16) <= 0x10FFFF:
        return chr(int(digits, 16)), after
    return char, i + 1  # malformed (a syntax error in JS): keep the letter


def _escape_js_string(path: str, *, quote: str) -> str:
    return "".join(_escape_js_string_char(char, quote) for char in path)


def _escape_js_string_char(char: str, quote: str) -> str:
    if char in (quote, "\\"):
        return "\\" + char
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    if char in "\u2028\u2029":
        return f"\\u{ord(char):04x}"
    return char


# --- dispatch ---------------------------------------------------------------------------------

_SCANNERS: dict[str, Callable[[str], list[_Site]]] = {
    "css": lambda text: _CssScanner(text).run(),
    "js": lambda text: _JsScanner(text).run(),
}


def _scan(text: str, syntax: Syntax) -> list[_Site]:
    scanner = _SCANNERS.get(syntax)
    if scanner is None:
        raise ValueError(f"unknown syntax {syntax!r}; expected one of {sorted(_SCANNERS)}")
    return scanner(text)
