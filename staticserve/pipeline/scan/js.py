"""The JavaScript scanner: module specifiers of ``import``/``export`` and source map comments.

It tokenizes coarsely, skipping plain code in big regex steps, and knows comments, strings,
template literals and regular expressions well enough that none of them is mistaken for code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial

from .js_imports import Token, TokenKind, TokenMatcher
from .scanner import HEX_DIGITS, SOURCEMAP, Piece, Scanner, Site, anchored, is_local

__all__ = ["JsScanner"]

_JS_NAME_CHARS = r"\w$\\\u200c\u200d"
_JS_NAME = re.compile(rf"[{_JS_NAME_CHARS}]+")
_JS_LINE_END = re.compile(r"[\n\r\u2028\u2029]")
_JS_LINE_TERMINATORS = "\n\r\u2028\u2029"
_JS_SPACE = re.compile(r"[\s\ufeff]*")  # \s is exactly str.isspace()
# One token that is no string, template, regex, comment or brace: a number (group 1), a name
# (group 2), a private name such as #import (group 3, not the keyword) or a punctuator.
_JS_PLAIN = re.compile(
    rf"(\.?[0-9][\w.]*)|([{_JS_NAME_CHARS}]+)|(#[{_JS_NAME_CHARS}]*)|\+\+|--|[\s\S]"
)
# Characters that may continue the token before them: what may precede the last token of a run.
_JS_JOINING = re.compile(rf"[{_JS_NAME_CHARS}.+\-#]")
# The bodies of strings, template chunks and regular expressions, up to what ends them.
_JS_STRING_BODIES = {
    quote: rf"[^{quote}\\\n\r]*(?:\\(?:\r\n|[\s\S])[^{quote}\\\n\r]*)*" for quote in "\"'"
}
_JS_STRING_BODY = {quote: re.compile(body) for quote, body in _JS_STRING_BODIES.items()}
_JS_TEMPLATE_BODY_SOURCE = r"[^`\\$]*(?:(?:\\[\s\S]|\$(?!\{))[^`\\$]*)*"
_JS_TEMPLATE_BODY = re.compile(_JS_TEMPLATE_BODY_SOURCE)
_JS_REGEX_CLASS = r"\[[^\\\]\n\r\u2028\u2029]*(?:\\[\s\S][^\\\]\n\r\u2028\u2029]*)*\]?"
_JS_REGEX_BODY = re.compile(
    rf"[^\\/\[\n\r\u2028\u2029]*(?:(?:\\[\s\S]|{_JS_REGEX_CLASS})[^\\/\[\n\r\u2028\u2029]*)*"
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
        r"(?:[\s\ufeff]+"
        rf"|/\*{_JS_NOT_SOURCEMAP}[^*]*\*+(?:[^/*][^*]*\*+)*/"
        rf"|(//{_JS_NOT_SOURCEMAP}[^\n\r\u2028\u2029]*)"
        rf"|({quoted})"
        rf"|([^\s\ufeff{stops}][^{stops}]*))*"
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


class JsScanner(Scanner):
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
        self.last: Token | None = None
        self.code: tuple[int, int] | None = None  # plain code holding the last token, unsplit
        self.keyword_at = {"import": -1, "export": -1}  # next candidate of each, once looked up

    def run(self) -> list[Site]:
        if "import" in self.text or "export" in self.text or "sourceMappingURL" in self.text:
            self.scan()
            self.sites.sort(key=lambda site: site.ref.start)
        return self.sites

    def scan(self) -> None:
        text, n = self.text, self.n
        if text.startswith("#!"):
            self.line_comment()
        last_map = text.rfind("sourceMappingURL")
        while self.pos < n:
            stop = self.next_keyword()
            if self.nothing_ahead(stop, last_map):
                break
            stretch = anchored(self.stretch_pattern(), text, self.pos, stop)
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

    def nothing_ahead(self, stop: int, last_map: int) -> bool:
        """True when nothing after ``pos`` can be recorded: no "import" or "export" may be a
        keyword there, and no comment there can name a source map (it would start at ``pos``
        or later: the scan is between tokens)."""
        return stop == self.n and last_map < self.pos

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
            self.last = Token("other" if self.text[start] == "`" else "string", start, quoted_end)
            self.code = None

    def last_token(self) -> Token | None:
        if self.code is not None:
            self.last = _js_last_token(self.text, *self.code)
            self.code = None
        return self.last

    def emit(self, kind: TokenKind, end: int) -> Token:
        token = self.last = Token(kind, self.pos, end)
        self.code = None
        self.pos = end
        return token

    def keyword(self) -> None:
        """At "import" or "export": match the statement ahead, unless the word is a property."""
        start = end = self.pos
        end += 6
        last = self.last_token()
        if last is None or self.text[last.start : last.end] != "." or last.kind != "punct":
            ahead = TokenMatcher(self.text, self.fork(end).tokens())
            if self.text[start:end] == "import":
                found = ahead.after_import(0)
            else:
                found = ahead.from_clause(0)
            if found is not None:
                self.add_specifier(ahead.tokens[found])
        self.emit("name", end)

    def fork(self, pos: int) -> JsScanner:
        """A scanner in this one's state at ``pos``, just after the token last emitted."""
        other = JsScanner(self.text, record=False)
        other.pos = pos
        other.substitutions = self.substitutions.copy()
        other.last = Token("name", self.pos, pos)
        return other

    def tokens(self) -> Iterator[Token]:
        """Every token from ``pos`` on, one by one."""
        text, n = self.text, self.n
        while True:
            self.pos = anchored(_JS_SPACE, text, self.pos).end()
            if self.pos >= n:
                return
            token = self.special() if text[self.pos] in "/\"'`{}" else self.plain()
            if token is not None:
                yield token

    def plain(self) -> Token:
        token = _js_plain_token(self.text, self.pos)
        return self.emit(token.kind, token.end)

    def special(self) -> Token | None:
        """The token (None for a comment) at a character that plain code cannot hold."""
        char = self.text[self.pos]
        if char == "/":
            return self.slash()
        if char in "\"'":
            return self.string(char)
        if char == "`":
            return self.template(self.pos + 1, opened=True)
        if char == "}" and self.substitutions and self.substitutions[-1] == 0:
            self.substitutions.pop()
            return self.template(self.pos + 1, opened=False)
        if self.substitutions:  # only braces reach here in a substitution
            self.substitutions[-1] += 1 if char == "{" else -1
        return self.emit("punct", self.pos + 1)

    def slash(self) -> Token | None:
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
        match = SOURCEMAP.match(self.text, body, end)
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
        match = SOURCEMAP.match(self.text, body, body_end)
        if match and self.record:
            self.add_comment_url(match.end(), body_end, block=True)
        self.pos = self.n if close < 0 else close + 2

    def string(self, quote: str) -> Token:
        end = anchored(_JS_STRING_BODY[quote], self.text, self.pos + 1).end()
        if end < self.n and self.text[end] == quote:
            return self.emit("string", end + 1)
        if end < self.n and self.text[end] in "\n\r":  # unterminated: not a usable literal
            return self.emit("other", end)
        return self.emit("other", self.n)  # the end of the text, maybe after a lone backslash

    def template(self, i: int, *, opened: bool) -> Token:
        """A template chunk from ``i`` up to the closing backtick or the next ``${``; a whole
        template without substitutions (``opened`` by a backtick, closed by one) is a literal."""
        end = anchored(_JS_TEMPLATE_BODY, self.text, i).end()
        if self.text.startswith("`", end):
            return self.emit("template" if opened else "other", end + 1)
        if self.text.startswith("${", end):
            self.substitutions.append(0)
            return self.emit("other", end + 2)
        return self.emit("other", self.n)

    def regex(self) -> Token:
        end = anchored(_JS_REGEX_BODY, self.text, self.pos + 1).end()
        if self.text.startswith("/", end):
            flags = _JS_NAME.match(self.text, end + 1)
            return self.emit("other", flags.end() if flags else end + 1)
        # A line terminator ends an unterminated regex; else the text ends (maybe after a "\").
        ended_by_line = end < self.n and self.text[end] in _JS_LINE_TERMINATORS
        return self.emit("other", end if ended_by_line else self.n)

    def add_specifier(self, token: Token) -> None:
        quote = self.text[token.start]
        pieces = _js_pieces(self.text, token.start + 1, token.end - 1, template=quote == "`")
        escape = partial(_escape_js_string, quote=quote)
        self.add("module", pieces, escape, trim=False, accept=_is_module_path)


_JS_PLAIN_KINDS: dict[int, TokenKind] = {1: "other", 2: "name", 3: "other"}


def _js_last_token(text: str, start: int, end: int) -> Token:
    """The last token of plain code ``text[start:end]``, which starts with a token and holds no
    string, template, regex or comment. Tokenizes only its tail: the character after whitespace
    or a lone punctuator (one that joins no neighbour) always starts a token."""
    while text[end - 1].isspace() or text[end - 1] == "\ufeff":
        end -= 1
    i = end
    while i > start and _JS_JOINING.match(text, i - 1):
        i -= 1
    if i == end:
        return Token("punct", end - 1, end)
    token = _js_plain_token(text, i)
    while token.end < end:
        token = _js_plain_token(text, token.end)
    return token


def _js_plain_token(text: str, i: int) -> Token:
    match = anchored(_JS_PLAIN, text, i)
    kind = "punct" if match.lastindex is None else _JS_PLAIN_KINDS[match.lastindex]
    return Token(kind, i, match.end())


def _is_module_path(url: str) -> bool:
    """Relative or absolute specifiers only; bare ones ("vue", "@scope/pkg") are packages."""
    return url.startswith(("./", "../", "/")) and is_local(url)


_JS_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}


def _js_pieces(text: str, start: int, end: int, *, template: bool = False) -> list[Piece]:
    """Decode JS string escapes in ``text[start:end]``; invalid ones stand for themselves.

    In a ``template``, a raw CR or CRLF stands for LF (ECMA-262 §12.9.6, TV of a template)."""
    pieces: list[Piece] = []
    i = start
    while i < end:
        if template and text[i] == "\r":
            j = i + (2 if text.startswith("\r\n", i) else 1)
            pieces.append(("\n", i, j))
            i = j
            continue
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
    if valid and all(d in HEX_DIGITS for d in digits) and int(digits, 16) <= 0x10FFFF:
        return chr(int(digits, 16)), after
    return char, i + 1  # malformed (a syntax error in JS): keep the letter


def _escape_js_string(path: str, *, quote: str) -> str:
    return "".join(_escape_js_string_char(char, quote) for char in path)


def _escape_js_string_char(char: str, quote: str) -> str:
    # In a template, "$" could start a substitution: "\$" stands for "$" (ECMA-262 §12.9.6).
    if char in (quote, "\\") or (quote == "`" and char == "$"):
        return "\\" + char
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    if char in "\u2028\u2029":
        return f"\\u{ord(char):04x}"
    return char
