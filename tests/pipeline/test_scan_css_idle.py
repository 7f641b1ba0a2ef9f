"""The idle CSS scanner jumps from candidate to candidate: the same stops as the token walk it
replaced, from any position of any text.

While no @import waits and no image-set() is open, the CSS scanner skips what cannot matter.
It used to match one regular expression token by token (whitespace, comments, strings, names,
at-names, punctuation), which stopped only where the scanner had to look; it now searches for
the next candidate (a quote, "/*", "@", a backslash, url( or image-set() and decides there.
The old expression is the model: both must stop at the same place.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from staticserve.pipeline.scan import find_references
from staticserve.pipeline.scan.css import (
    _CSS_ESCAPE,
    _CSS_NAME_CHARS,
    _CSS_URL_FUNCTIONS,
    _ascii_case_insensitive,
    _idle_end,
)

from ..conftest import examples

MODEL = re.compile(
    r"(?:[ \t\n\r\f]+"
    r"|/\*(?![#@][ \t]+sourceMappingURL=)[^*]*\*+(?:[^/*][^*]*\*+)*/"
    + "".join(rf"|{q}[^{q}\\\n\r\f]*(?:{_CSS_ESCAPE}[^{q}\\\n\r\f]*)*{q}?" for q in "\"'")
    + rf"|(?!(?:{_CSS_URL_FUNCTIONS})\()[{_CSS_NAME_CHARS}]+(?![{_CSS_NAME_CHARS}\\])"
    + rf"|(?!@{_ascii_case_insensitive('import')}(?![{_CSS_NAME_CHARS}\\]))"
    + rf"[@#][{_CSS_NAME_CHARS}]*(?![{_CSS_NAME_CHARS}\\])"
    + rf"|(?:[^{_CSS_NAME_CHARS}@#\\\"'/ \t\n\r\f]|/(?!\*))+)*"
)


def model_end(text: str, pos: int) -> int:
    match = MODEL.match(text, pos)
    assert match is not None
    return match.end()


# Hostile pieces: unterminated comments and strings, escapes (also at the very end and before
# a newline), names that contain or border the trigger words, at- and hash-names, any case.
PIECES = [
    "url(", "URL(", "uRl(", "url", "(", ")", "xurl(", "-url(", "#url(", "@url(", "1url(",
    "image-set(", "-webkit-image-set(", "-WEBKIT-Image-Set(", "x-webkit-image-set(", "image-set",
    "@import", "@IMPORT", "@imports", "@import\\", "@", "#", "@media", "#a", "a", "-", "_", "é",
    "\ud800", "\u212a", "\u017f", "\\", "\\75", "\\75 ", "\\\n", "\\\r\n", "\\u", '"', "'", '"a"', "'\\'",
    "/*", "*/", "/**/", "/*# sourceMappingURL=a.map */", "/*@ sourceMappingURL=", "/", "*",
    " ", "\n", "\r\n", "\r", "\f", "\t", ";", "{", "}", ",", ":", ".", "+", "0", "data:",
]  # fmt: skip
css_text = st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from(PIECES) | st.text(max_size=2), max_size=30).map("".join),
)


@settings(max_examples=examples(1500), deadline=None)
@given(css_text)
def test_the_jump_stops_where_the_token_walk_stopped_from_every_position(text: str) -> None:
    for pos in range(len(text) + 1):
        assert _idle_end(text, pos) == model_end(text, pos), (text, pos)


def test_long_stretches_cost_a_few_searches_not_a_step_per_token() -> None:
    """The jump's own work is a handful of searches per candidate, whatever lies between."""
    text = ("a{color:red;margin:0 auto}\n" * 20_000) + "b{background:url(x.png)}"
    assert _idle_end(text, 0) == model_end(text, 0) == text.index("url(")
    assert [r.url for r in find_references(text, "css")] == ["x.png"]
