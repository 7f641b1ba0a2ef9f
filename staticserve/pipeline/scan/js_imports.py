"""Which string after a JavaScript ``import`` or ``export`` keyword is a module specifier.

Small recursive-descent checks over the tokens the JavaScript scanner produces after the keyword:
``import "x"``, ``import("x")`` (or ``import(`x`)``), and ``import``/``export`` clauses ending in ``from "x"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

__all__ = ["Token", "TokenKind", "TokenMatcher"]

# "template": a whole template literal without substitutions, `like this`.
TokenKind = Literal["name", "string", "template", "punct", "other"]


@dataclass(frozen=True, slots=True)
class Token:
    """A token: its kind and its span in the text."""

    kind: TokenKind
    start: int
    end: int


class TokenMatcher:
    """Small recursive-descent checks over the tokens after a keyword; each returns a string's
    index. Tokens are pulled from the stream only as far as a check needs them."""

    def __init__(self, text: str, stream: Iterator[Token]) -> None:
        self.text = text
        self.stream = stream
        self.tokens: list[Token] = []

    def get(self, i: int) -> Token | None:
        while len(self.tokens) <= i:
            token = next(self.stream, None)
            if token is None:
                return None
            self.tokens.append(token)
        return self.tokens[i]

    def is_at(self, i: int, kind: TokenKind, value: str | None = None) -> bool:
        token = self.get(i)
        if token is None or token.kind != kind:
            return False
        return value is None or self.text[token.start : token.end] == value

    def after_import(self, i: int) -> int | None:
        if self.is_at(i, "punct", "("):  # import("./x.js") or import("./x.json", {...})
            # A template without ${} is a literal too: import(`./lazy.js`). Only here: the
            # static forms (import … from, export … from) accept nothing but a string.
            literal = self.is_at(i + 1, "string") or self.is_at(i + 1, "template")
            plain = literal and (self.is_at(i + 2, "punct", ")") or self.is_at(i + 2, "punct", ","))
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
