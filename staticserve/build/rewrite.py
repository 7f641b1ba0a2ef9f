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
        text = self.text
        while self.pos < self.n:
            char = text[self.pos]
            if char in _CSS_SPACE:
                self.pos += 1
            elif text.startswith("/*", self.pos):
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
        return self.sites

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


_JS_NAME = re.compile(r"[\w$\\\u200c\u200d]+")
_JS_NUMBER = re.compile(r"\.?[0-9][\w.]*")
_JS_LINE_END = re.compile(r"[\n\r\u2028\u2029]")
_JS_LINE_TERMINATORS = "\n\r\u2028\u2029"
# After these words an expression starts, so "/" opens a regular expression, not a division.
_JS_KEYWORDS_BEFORE_EXPRESSION = frozenset(
    {"return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case",
     "do", "else", "yield", "await"}
)  # fmt: skip
# After these punctuators an operand has just ended, so "/" divides.
_JS_PUNCT_BEFORE_DIVISION = frozenset({")", "]", "++", "--"})


class _JsScanner(_Scanner):
    """Splits JavaScript into coarse tokens, collecting sourceMappingURL comments on the way.

    Comments vanish; regular expressions, template literal chunks and numbers become opaque
    ``other`` tokens; strings keep their span. Good enough to recognise module specifiers.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.tokens: list[_Token] = []
        self.braces: list[bool] = []  # open "{", True for a template's "${"

    def run(self) -> list[_Site]:
        self.tokenize()
        for token in _module_specifiers(self.text, self.tokens):
            self.add_specifier(token)
        self.sites.sort(key=lambda site: site.ref.start)
        return self.sites

    def emit(self, kind: _TokenKind, end: int) -> None:
        self.tokens.append(_Token(kind, self.pos, end))
        self.pos = end

    def tokenize(self) -> None:
        text = self.text
        if text.startswith("#!"):
            self.line_comment()
        while self.pos < self.n:
            char = text[self.pos]
            if char.isspace() or char == "\ufeff":
                self.pos += 1
            elif char == "/":
                self.slash()
            elif char in "\"'":
                self.string()
            elif char == "`":
                self.template(self.pos + 1)
            elif char == "}" and self.braces and self.braces[-1]:
                self.braces.pop()
                self.template(self.pos + 1)
            elif number := _JS_NUMBER.match(text, self.pos):
                self.emit("other", number.end())
            elif name := _JS_NAME.match(text, self.pos):
                self.emit("name", name.end())
            elif char == "#":  # a private name such as #import is not the keyword
                name = _JS_NAME.match(text, self.pos + 1)
                self.emit("other", name.end() if name else self.pos + 1)
            else:
                self.punctuator(char)

    def punctuator(self, char: str) -> None:
        if char == "{":
            self.braces.append(False)
        elif char == "}" and self.braces:
            self.braces.pop()
        double = char in "+-" and self.text.startswith(char, self.pos + 1)
        self.emit("punct", self.pos + (2 if double else 1))

    def slash(self) -> None:
        following = self.text[self.pos + 1 : self.pos + 2]
        if following == "/":
            self.line_comment()
        elif following == "*":
            self.block_comment()
        elif self.regex_allowed():
            self.regex()
        else:
            self.emit("punct", self.pos + 1)

    def regex_allowed(self) -> bool:
        if not self.tokens:
            return True
        last = self.tokens[-1]
        value = self.text[last.start : last.end]
        if last.kind == "punct":
            return value not in _JS_PUNCT_BEFORE_DIVISION
        return last.kind == "name" and value in _JS_KEYWORDS_BEFORE_EXPRESSION

    def line_comment(self) -> None:
        body = self.pos + 2
        line_end = _JS_LINE_END.search(self.text, body)
        end = line_end.start() if line_end else self.n
        match = _SOURCEMAP.match(self.text, body, end)
        if match and self.starts_line(self.pos):
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
        if match:
            self.add_comment_url(match.end(), body_end, block=True)
        self.pos = self.n if close < 0 else close + 2

    def string(self) -> None:
        text, quote = self.text, self.text[self.pos]
        i = self.pos + 1
        while i < self.n and text[i] != quote:
            if text[i] in "\n\r":  # unterminated: not a usable literal
                self.emit("other", i)
                return
            i += 3 if text.startswith("\\\r\n", i) else 2 if text[i] == "\\" else 1
        if i >= self.n:
            self.emit("other", self.n)
        else:
            self.emit("string", i + 1)

    def template(self, i: int) -> None:
        """A template chunk from ``i`` up to the closing backtick or the next ``${``."""
        text = self.text
        while i < self.n:
            if text[i] == "\\":
                i += 2
            elif text[i] == "`":
                self.emit("other", i + 1)
                return
            elif text.startswith("${", i):
                self.braces.append(True)
                self.emit("other", i + 2)
                return
            else:
                i += 1
        self.emit("other", self.n)

    def regex(self) -> None:
        text, i, in_class = self.text, self.pos + 1, False
        while i < self.n and text[i] not in _JS_LINE_TERMINATORS:
            char = text[i]
            if char == "\\":
                i += 1
            elif char == "[":
                in_class = True
            elif char == "]":
                in_class = False
            elif char == "/" and not in_class:
                flags = _JS_NAME.match(text, i + 1)
                self.emit("other", flags.end() if flags else i + 1)
                return
            i += 1
        self.emit("other", min(i, self.n))

    def add_specifier(self, token: _Token) -> None:
        quote = self.text[token.start]
        pieces = _js_pieces(self.text, token.start + 1, token.end - 1)
        escape = partial(_escape_js_string, quote=quote)
        self.add("module", pieces, escape, trim=False, accept=_is_module_path)


def _is_module_path(url: str) -> bool:
    """Relative or absolute specifiers only; bare ones ("vue", "@scope/pkg") are packages."""
    return url.startswith(("./", "../", "/")) and is_local(url)


def _module_specifiers(text: str, tokens: list[_Token]) -> Iterator[_Token]:
    """The string tokens that are specifiers of import/export declarations and import()."""
    match = _TokenMatcher(text, tokens)
    for i, token in enumerate(tokens):
        if token.kind != "name" or match.is_at(i - 1, "punct", "."):
            continue
        word = text[token.start : token.end]
        if word == "import":
            found = match.after_import(i + 1)
        elif word == "export":
            found = match.from_clause(i + 1)
        else:
            continue
        if found is not None:
            yield tokens[found]


class _TokenMatcher:
    """Small recursive-descent checks over the token list; each returns a string's index."""

    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens

    def is_at(self, i: int, kind: _TokenKind, value: str | None = None) -> bool:
        if not 0 <= i < len(self.tokens) or self.tokens[i].kind != kind:
            return False
        token = self.tokens[i]
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
        while i < len(self.tokens):
            token = self.tokens[i]
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
        while i < len(self.tokens):
            token = self.tokens[i]
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
