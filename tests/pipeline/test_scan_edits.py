"""Rewriting edits only the characters that change: escapes and encodings around them stay as
written, and a kept neighbour that could combine with the new text is re-escaped with it."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from staticserve.pipeline.scan import Syntax, find_edits, find_references, rewrite

from ..conftest import examples

MINIMAL = [
    ("a CSS hex escape before the insertion is kept", "css", 'a{b:url("\\6c ogo.png")}',
     "logo.X.png", 'a{b:url("\\6c ogo.X.png")}'),
    ("a CSS escape after the insertion is kept", "css", "a{b:url(my\\ logo.png)}",
     "my logo.X.png", "a{b:url(my\\ logo.X.png)}"),
    ("a JS unicode escape is kept", "js", "import './\\u0061.js'", "./a.X.js",
     "import './\\u0061.X.js'"),
    ("a CSS hex escape without its space is re-escaped before a hex digit", "css",
     "a{b:url(\\61.png)}", "ab.png", "a{b:url(ab.png)}"),
    ("a JS \\0 is re-escaped before a digit", "js", "import './\\0.js'", "./\x001.js",
     "import './\x001.js'"),
    ("a kept $ in a template is escaped with a new {", "js", "import(`./a$b.js`)", "./a${b.js",
     "import(`./a\\${b.js`)"),
    ("a new $ in a template is escaped before a kept {", "js", "import(`./a{b}.js`)",
     "./a${b}.js", "import(`./a\\${b}.js`)"),
    ("a new * in a block comment cannot close it before a kept /", "js",
     "/*# sourceMappingURL=a/b.map */", "a*/b.map", "/*# sourceMappingURL=a%2A/b.map */"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("syntax", "text", "new_path", "expected"),
    [c[1:] for c in MINIMAL],
    ids=[c[0] for c in MINIMAL],
)
def test_only_the_changed_characters_are_edited(
    syntax: Syntax, text: str, new_path: str, expected: str
) -> None:
    assert rewrite(text, syntax, lambda ref: new_path) == expected


def test_an_inserted_hash_is_one_edit_of_the_inserted_characters() -> None:
    css = "a{b:url(x.png)}\nc{d:url('../y%2Epng')}"
    edits = find_edits(css, "css", lambda ref: ref.path.replace("x.", "x.H.").replace("y", "y.H"))
    assert [(e.end - e.start, len(e.new)) for e in edits] == [(0, 2), (0, 2)]
    assert rewrite(css, "css", lambda ref: None) == css


# Characters that need escaping somewhere, and hex digits and spaces that an escape may swallow.
_ALPHABET = "ab01 f$*{}/\\'\"()`é\u2028"


def _css_spelling(draw: st.DrawFn, path: str, quote: str) -> str:
    out = []
    for index, char in enumerate(path):
        following = path[index + 1 : index + 2]
        literal_ok = (
            char not in "\\\n\r\f" + (quote or " \"'()") and ord(char) >= 0x20 and char != "\u2028"
        ) or (quote and char == "\u2028")
        choices = ["hex"]
        if literal_ok:
            choices.append("literal")
        if char not in "0123456789abcdefABCDEF \n\r\f\t":
            choices.append("backslash")
        choice = draw(st.sampled_from(choices))
        if choice == "literal":
            out.append(char)
        elif choice == "backslash":
            out.append("\\" + char)
        else:
            bare = following != "" and following not in "0123456789abcdefABCDEF \t\n\r\f"
            space = "" if bare and draw(st.booleans()) else " "
            out.append(f"\\{ord(char):x}{space}")
    return "".join(out)


def _js_spelling(draw: st.DrawFn, path: str, quote: str) -> str:
    out = []
    for index, char in enumerate(path):
        following = path[index + 1 : index + 2]
        forbidden = "\\\n\r" + quote + ("" if quote == "`" else "\u2028\u2029")
        choices = ["unicode", "braced"]
        if char not in forbidden and not (char == "$" and following == "{" and quote == "`"):
            choices.append("literal")
        if char not in "0123456789xubfnrtv\n\r\u2028\u2029":
            choices.append("backslash")
        choice = draw(st.sampled_from(choices))
        if choice == "literal":
            out.append(char)
        elif choice == "backslash":
            out.append("\\" + char)
        elif choice == "unicode":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\u{{{ord(char):x}}}")
    return "".join(out)


@st.composite
def spelled_references(draw: st.DrawFn) -> tuple[Syntax, str, str]:
    """(syntax, text, path): one reference to ``path``, spelled with random escapes."""
    name = draw(st.text(_ALPHABET, max_size=6))
    path = "./" + name + ".x"
    form = draw(st.sampled_from(["css-unquoted", "css-double", "css-single", "js-'", "js-`"]))
    if form.startswith("css"):
        quote = {"css-unquoted": "", "css-double": '"', "css-single": "'"}[form]
        return "css", f"a{{b:url({quote}{_css_spelling(draw, path, quote)}{quote})}}", path
    quote = form[-1]
    return "js", f"import({quote}{_js_spelling(draw, path, quote)}{quote})", path


@settings(max_examples=examples(400))
@given(
    reference=spelled_references(),
    cut=st.tuples(st.integers(0, 12), st.integers(0, 12)),
    insert=st.text(_ALPHABET, max_size=4),
)
def test_any_edit_of_an_escaped_path_reads_back_as_the_new_path(
    reference: tuple[Syntax, str, str], cut: tuple[int, int], insert: str
) -> None:
    syntax, text, path = reference
    assert [ref.path for ref in find_references(text, syntax)] == [path]
    i, j = sorted(min(c + 2, len(path)) for c in cut)  # keep the leading "./"
    new_path = path[:i] + insert + path[j:]
    # A URL parser strips leading and trailing spaces, and so does the CSS scanner: a caller
    # must percent-encode them (the build's hashed names never end in one).
    assume(syntax != "css" or new_path == new_path.rstrip(" \t\n\r\f"))
    output = rewrite(text, syntax, lambda ref: new_path)
    assert [ref.path for ref in find_references(output, syntax)] == [new_path]
