"""Finding and rewriting references through the scan front, both syntaxes: case tables first,
then properties. What each scanner finds is in test_scan_css.py and test_scan_js.py."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from staticserve.pipeline.scan import Reference, Syntax, find_references, is_local, rewrite
from staticserve.pipeline.scan.scanner import _Lines

from ..conftest import examples

HASH = "3f2a9c1d7e4b"


def found(text: str, syntax: Syntax) -> list[tuple[str, str]]:
    return [(ref.kind, ref.url) for ref in find_references(text, syntax)]


def hashed(path: str) -> str:
    """``fa.eot`` -> ``fa.3f2a9c1d7e4b.eot``, the way the build names files."""
    head, dot, ext = path.rpartition(".")
    if not dot or "/" in ext:
        return f"{path}.{HASH}"
    return f"{head}.{HASH}.{ext}"


def hashed_once(ref: Reference) -> str:
    return ref.path if HASH in ref.path else hashed(ref.path)


# --- rewriting ------------------------------------------------------------------------------

REWRITES = [
    ("only the path changes before a query and fragment", "css",
     "a{src:url(../fonts/fa.eot?v=4.7.0#iefix)}",
     f"a{{src:url(../fonts/fa.{HASH}.eot?v=4.7.0#iefix)}}"),
    ("the old-IE ?# hack survives", "css", "a{src:url(fa.eot?#iefix&v=4.7.0)}",
     f"a{{src:url(fa.{HASH}.eot?#iefix&v=4.7.0)}}"),
    ("quotes, spaces and case of url survive", "css", "a{b:URL(  'x.png'  )}",
     f"a{{b:URL(  'x.{HASH}.png'  )}}"),
    ("a comment and a data URI stay byte-identical", "css",
     "/* url(a.png) */a{b:url(a.png);c:url(\"data:image/svg+xml,<svg fill='url(%23g)'/>\")}",
     f"/* url(a.png) */a{{b:url(a.{HASH}.png);c:url(\"data:image/svg+xml,<svg fill='url(%23g)'/>\")}}"),
    ("@import keeps its media", "css", "@import url(x.css) screen;",
     f"@import url(x.{HASH}.css) screen;"),
    ("percent-encoding is not decoded", "css", "a{b:url(my%20file.png)}",
     f"a{{b:url(my%20file.{HASH}.png)}}"),
    ("a minified Font Awesome @font-face", "css",
     "@font-face{font-family:'FontAwesome';src:url('../fonts/fa.eot?v=4.7.0');"
     "src:url('../fonts/fa.eot?#iefix&v=4.7.0') format('embedded-opentype'),"
     "url(../fonts/fa.woff2?v=4.7.0) format('woff2')}",
     f"@font-face{{font-family:'FontAwesome';src:url('../fonts/fa.{HASH}.eot?v=4.7.0');"
     f"src:url('../fonts/fa.{HASH}.eot?#iefix&v=4.7.0') format('embedded-opentype'),"
     f"url(../fonts/fa.{HASH}.woff2?v=4.7.0) format('woff2')}}"),
    ("a source map comment", "css", "/*# sourceMappingURL=app.css.map */",
     f"/*# sourceMappingURL=app.css.{HASH}.map */"),
    ("minified JS on one line", "js", 'import{a}from"./x.js";export*from"./y.js"',
     f'import{{a}}from"./x.{HASH}.js";export*from"./y.{HASH}.js"'),
    ("a bare specifier next to a relative one", "js",
     'import Vue from "vue"\nimport a from "./a.js"',
     f'import Vue from "vue"\nimport a from "./a.{HASH}.js"'),
    ("JS without semicolons, across lines", "js",
     "import {\n  a\n} from './a.js'\nexport * from \"./b.js\"\nload()\n",
     f"import {{\n  a\n}} from './a.{HASH}.js'\nexport * from \"./b.{HASH}.js\"\nload()\n"),
    ("a JS source map comment", "js", "run()\n//# sourceMappingURL=app.js.map\n",
     f"run()\n//# sourceMappingURL=app.js.{HASH}.map\n"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("syntax", "text", "expected"), [c[1:] for c in REWRITES], ids=[c[0] for c in REWRITES]
)
def test_rewrite_changes_only_the_path(syntax: Syntax, text: str, expected: str) -> None:
    assert rewrite(text, syntax, lambda ref: hashed(ref.path)) == expected


ESCAPES = [
    ("an unquoted url escapes spaces, quotes, parens and backslashes", "css",
     "a{b:url(x.png)}", "a b'(1)\\.png", "a{b:url(a\\ b\\'\\(1\\)\\\\.png)}"),
    ("an unquoted url hex-escapes control characters", "css", "a{b:url(x.png)}", "a\tb.png",
     "a{b:url(a\\9 b.png)}"),
    ("a double-quoted string escapes its quote but not the other", "css",
     'a{b:url("x.png")}', "a\"'.png", 'a{b:url("a\\"\'.png")}'),
    ("a single-quoted string escapes its quote", "css", "@import 'x.css';", "it's.css",
     "@import 'it\\'s.css';"),
    ("a CSS string hex-escapes newlines", "css", '@import "x.css";', "a\nb.css",
     '@import "a\\a b.css";'),
    ("a JS string escapes backslash, quote and newline", "js", "import './x.js'",
     "./a\\b'\n.js", "import './a\\\\b\\'\\n.js'"),
    ("old escapes are dropped when no longer needed", "css", "a{b:url(\\61\\ .png?v=1)}",
     "b.png", "a{b:url(b.png?v=1)}"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("syntax", "text", "new_path", "expected"),
    [c[1:] for c in ESCAPES],
    ids=[c[0] for c in ESCAPES],
)
def test_new_path_is_escaped_for_its_context(
    syntax: Syntax, text: str, new_path: str, expected: str
) -> None:
    output = rewrite(text, syntax, lambda ref: new_path)
    assert output == expected
    assert [ref.path for ref in find_references(output, syntax)] == [new_path]


COMMENT_ESCAPES = [
    ("whitespace is percent-encoded", "css", "/*# sourceMappingURL=x.map */", "a b.map",
     "/*# sourceMappingURL=a%20b.map */"),
    ("a block comment cannot be closed early", "js", "/*# sourceMappingURL=x.map */",
     "a*/b.map", "/*# sourceMappingURL=a%2A/b.map */"),
    ("a line comment cannot be ended early", "js", "//# sourceMappingURL=x.map", "a\nb.map",
     "//# sourceMappingURL=a%0Ab.map"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("syntax", "text", "new_path", "expected"),
    [c[1:] for c in COMMENT_ESCAPES],
    ids=[c[0] for c in COMMENT_ESCAPES],
)
def test_source_map_comment_has_no_escapes_so_the_url_is_percent_encoded(
    syntax: Syntax, text: str, new_path: str, expected: str
) -> None:
    assert rewrite(text, syntax, lambda ref: new_path) == expected


def test_inserting_a_hash_changes_exactly_the_inserted_characters() -> None:
    css = "a{src:url('../fonts/fa.eot?#iefix&v=4.7.0')}"
    output = rewrite(css, "css", lambda ref: hashed(ref.path))
    assert output == css.replace("fa.eot", f"fa.{HASH}.eot")
    assert output.replace(f".{HASH}", "") == css


def test_returning_none_or_the_same_path_keeps_escapes() -> None:
    css = r"a{b:url(\61 .png)} c{d:url('\62.png')}"
    assert rewrite(css, "css", lambda ref: None) == css
    assert rewrite(css, "css", lambda ref: ref.path) == css


def test_replace_sees_every_reference_in_order() -> None:
    seen: list[str] = []
    css = "@import 'a.css';\nb{c:url(b.png)}\n/*# sourceMappingURL=c.map */"

    def record(ref: Reference) -> None:
        seen.append(ref.path)

    rewrite(css, "css", record)
    assert seen == ["a.css", "b.png", "c.map"]


def test_spans_cover_the_raw_path_part() -> None:
    css = 'a{b:url( "../img/x.png?v=1" )}'
    (ref,) = find_references(css, "css")
    assert css[ref.start : ref.end] == "../img/x.png"
    assert (ref.url, ref.path) == ("../img/x.png?v=1", "../img/x.png")


def test_undecodable_bytes_round_trip() -> None:
    raw = b"/* \xff\xfe */ a{b:url(x\xe9.png)} \xc3"
    text = raw.decode("utf-8", errors="surrogateescape")
    output = rewrite(text, "css", lambda ref: hashed(ref.path))
    assert output.encode("utf-8", errors="surrogateescape") == raw.replace(
        b"x\xe9.png", b"x\xe9." + HASH.encode() + b".png"
    )


def test_unknown_syntax_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown syntax 'html'"):
        find_references("", "html")  # type: ignore[arg-type]


def test_reference_cannot_be_built_inconsistent() -> None:
    with pytest.raises(ValueError, match="path part"):
        Reference("url", "a.png?v=1", "a.png?v=1", 1, 1, 0, 5)
    with pytest.raises(ValueError, match="span"):
        Reference("url", "a.png", "a.png", 1, 1, 5, 5)


# --- positions ------------------------------------------------------------------------------

POSITIONS = [
    ("the first line", "css", "a{b:url(x.png)}", [(1, 9)]),
    ("after a multi-line comment", "css", "/* one\ntwo\nthree */\n  a{b:url(x.png)}", [(4, 11)]),
    ("after CRLF line ends", "css", "a{}\r\n\r\nb{c:url('x.png')}", [(3, 10)]),
    ("after a lone CR", "css", "a{}\rb{c:url(x.png)}", [(2, 9)]),
    ("columns count characters, not bytes", "css", "/* é€ */url(x.png)", [(1, 13)]),
    ("after leading spaces in url()", "css", "a{b:url(\n   x.png)}", [(2, 4)]),
    ("JS after a multi-line comment", "js", "/**\n * doc\n */\nimport './a.js'", [(4, 9)]),
    ("JS with CRLF", "js", "a()\r\nimport x from './a.js'\r\n//# sourceMappingURL=a.map",
     [(2, 16), (3, 22)]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("syntax", "text", "expected"), [c[1:] for c in POSITIONS], ids=[c[0] for c in POSITIONS]
)
def test_line_and_column_point_at_the_value(
    syntax: Syntax, text: str, expected: list[tuple[int, int]]
) -> None:
    assert [(ref.line, ref.column) for ref in find_references(text, syntax)] == expected


# --- is_local -------------------------------------------------------------------------------

LOCALITY = [
    ("a relative path", "img/x.png", True),
    ("a dot-relative path", "./x.js", True),
    ("a parent path", "../x.png", True),
    ("an absolute path", "/static/x.png", True),
    ("a path with a query", "x.png?v=1", True),
    ("a data URI", "data:image/png;base64,AAAA", False),
    ("an upper-case DATA URI", "DATA:image/png,x", False),
    ("http", "http://example.com/x.png", False),
    ("https", "https://example.com/x.png", False),
    ("mailto", "mailto:a@example.com", False),
    ("blob", "blob:https://example.com/uuid", False),
    ("a protocol-relative url", "//cdn.example.com/x.png", False),
    ("a backslash protocol-relative url", "/\\cdn.example.com/x.png", False),
    ("a fragment", "#id", False),
    ("a percent-encoded fragment", "%23id", False),
    ("a lower-case percent-encoded fragment", "%23ID", False),
    ("empty", "", False),
    ("whitespace only", " \t\n", False),
    ("a bare query", "?v=1", False),
    ("a scheme after leading spaces", "  javascript:alert(1)", False),
]


@pytest.mark.parametrize(("url", "local"), [c[1:] for c in LOCALITY], ids=[c[0] for c in LOCALITY])
def test_is_local(url: str, local: bool) -> None:
    assert is_local(url) is local


# --- properties -----------------------------------------------------------------------------

# Pieces that steer random text into the scanners' interesting corners.
_VOCABULARY = [
    "url(", "URL(", "image-url(", "image-set(", "@import", "import", "export", "from", "(",
    ")", '"', "'", "`", "${", "{", "}", "/*", "*/", "//", "/", "\\", "\n", "\r\n", "\r", " ",
    "./a.js", "x.png", "data:", "#", "?", "%23", ",", ";", "*", ".", "a", "1",
    "/*# sourceMappingURL=", "//# sourceMappingURL=", "\ud800", "\x00", "\u2028",
]  # fmt: skip
scannable_text = st.one_of(
    st.text(),
    st.lists(st.sampled_from(_VOCABULARY) | st.text(max_size=3), max_size=40).map("".join),
)
syntaxes = st.sampled_from(["css", "js"])


def line_and_column(text: str, offset: int) -> tuple[int, int]:
    before = re.split(r"\r\n|\r|\n", text[:offset])
    return len(before), len(before[-1]) + 1


@settings(max_examples=examples(500))
@given(text=scannable_text, syntax=syntaxes)
def test_any_text_is_unchanged_when_nothing_is_replaced(text: str, syntax: Syntax) -> None:
    assert rewrite(text, syntax, lambda ref: None) == text
    assert rewrite(text, syntax, lambda ref: ref.path) == text


@settings(max_examples=examples(500))
@given(text=scannable_text, syntax=syntaxes)
def test_any_text_gives_ordered_consistent_references(text: str, syntax: Syntax) -> None:
    refs = find_references(text, syntax)
    previous_end = 0
    for ref in refs:
        assert previous_end <= ref.start < ref.end <= len(text)
        assert (ref.line, ref.column) == line_and_column(text, ref.start)
        assert is_local(ref.url)
        previous_end = ref.end
    output = rewrite(text, syntax, lambda ref: ref.path + "x")
    assert [ref.path for ref in find_references(output, syntax)] == [r.path + "x" for r in refs]


def walked_line_and_column(text: str, offset: int) -> tuple[int, int]:
    """The model: every line start up to ``offset`` (a CRLF ends its line after the LF)."""
    starts = [0, *(m.end() for m in re.finditer(r"\r\n?|\n", text) if m.end() <= offset)]
    return len(starts), offset - starts[-1] + 1


@settings(max_examples=examples(500))
@given(
    text=st.lists(st.sampled_from(["\r", "\n", "\r\n", "a", "bc", "\u2028"])).map("".join),
    data=st.data(),
)
def test_positions_are_counted_as_a_walk_would_find_them(text: str, data: st.DataObject) -> None:
    """_Lines counts from the line asked about before (any order, offsets inside a CRLF too)."""
    lines = _Lines(text)
    for offset in data.draw(st.lists(st.integers(0, len(text)), max_size=8)):
        assert lines.position(offset) == walked_line_and_column(text, offset)


def test_source_map_comment_that_is_a_data_uri_is_not_a_reference() -> None:
    inline = "data:application/json;base64," + "QUJD" * 1000
    for syntax, text in (
        ("css", f"a{{}}\n/*# sourceMappingURL={inline} */"),
        ("js", f"x\n//# sourceMappingURL={inline}"),
    ):
        assert find_references(text, syntax) == []  # type: ignore[arg-type]
        assert found(text.replace(inline, "a.map?v=1"), syntax) == [("sourcemap", "a.map?v=1")]  # type: ignore[arg-type]


_TRIGGERS = ("url", "import", "sourcemappingurl", "from", "image-set")


@given(text=scannable_text, syntax=syntaxes)
def test_text_without_trigger_words_has_no_references(text: str, syntax: Syntax) -> None:
    lowered = text.lower()
    # In CSS an escape can spell a trigger word (u\72l( is url().
    if any(word in lowered for word in _TRIGGERS) or (syntax == "css" and "\\" in text):
        return
    assert find_references(text, syntax) == []
    assert rewrite(text, syntax, lambda ref: "CHANGED") == text


# Generated documents: (text, expected [(kind, url)]) built from fragments whose meaning we know.

_SEGMENT = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=8)
_QUERIES = st.sampled_from(["", "?v=1", "#frag", "?v=4.7.0#iefix", "?#iefix&v=4.7.0"])
# Noise may say anything except end its comment or string.
_COMMENT_NOISE = st.text().filter(lambda s: "*/" not in s)
_STRING_NOISE = st.text().map(lambda s: re.sub(r"[\"\\\n\r\f]", "", s))
_LINE_NOISE = st.text().map(lambda s: re.sub(r"[\n\r\u2028\u2029]", "", s))
_TEMPLATE_NOISE = st.text().map(lambda s: re.sub(r"[`\\$]", "", s))

Doc = tuple[str, list[tuple[str, str]]]


@st.composite
def paths(draw: st.DrawFn, prefixes: tuple[str, ...] = ("", "./", "../", "/", "../../")) -> str:
    prefix = draw(st.sampled_from(prefixes))
    segments = draw(st.lists(_SEGMENT, min_size=1, max_size=3))
    ext = draw(st.sampled_from([".png", ".css", ".woff2", ".js", ""]))
    return prefix + "/".join(segments) + ext


@st.composite
def css_references(draw: st.DrawFn, sourcemaps: bool) -> Doc:
    url = draw(paths()) + draw(_QUERIES)
    quote = draw(st.sampled_from(["", '"', "'"]))
    space = st.sampled_from(["", " ", "  ", "\n", "\t"])
    call = f"{draw(st.sampled_from(['url', 'URL', 'Url']))}({draw(space)}{quote}{url}{quote}{draw(space)})"
    forms: list[Doc] = [
        (f"a{{background:{call}}}", [("url", url)]),
        (f"@import {call} layer(base) supports(display:grid) screen;", [("import", url)]),
        (f'@import "{url}" screen and (min-width:1px);', [("import", url)]),
        (f"i{{b:image-set('{url}' 1x, {call} 2x)}}", [("url", url), ("url", url)]),
    ]
    if sourcemaps:
        forms.append((f"/*# sourceMappingURL={url} */", [("sourcemap", url)]))
    return draw(st.sampled_from(forms))


@st.composite
def css_non_references(draw: st.DrawFn) -> Doc:
    path = draw(paths())
    forms = [
        f"/* {draw(_COMMENT_NOISE)} url({path}) */",
        f'c{{content:"{draw(_STRING_NOISE)} url({path})"}}',
        f"d{{b:url(\"data:image/svg+xml;utf8,<svg><rect fill='url(%23g)'/>{path}</svg>\")}}",
        f"d{{b:url(data:image/svg+xml;utf8,<svg><rect fill='url(%23g)'/><a href='url({path})'/></svg>)}}",
        f"l{{b:image-url({path});c:myurl({path});d:--url({path})}}",
        "n{a:url(#id);b:url(%23id);c:url(http://x.test/a.png);d:url(//cdn/a.png);e:url()}",
        "p{color:red;font:12px/1.5 'Some Font',serif}",
    ]  # fmt: skip
    return draw(st.sampled_from(forms)), []


@st.composite
def css_documents(draw: st.DrawFn, sourcemaps: bool = True) -> Doc:
    parts = draw(st.lists(css_references(sourcemaps) | css_non_references(), max_size=8))
    separators = st.sampled_from(["\n", " ", "\r\n", "\n\n"])
    text = "".join(part + draw(separators) for part, _ in parts)
    return text, [ref for _, refs in parts for ref in refs]


@st.composite
def js_references(draw: st.DrawFn) -> Doc:
    url = draw(paths(("./", "../", "/"))) + draw(_QUERIES)
    q = draw(st.sampled_from(['"', "'"]))
    spec = f"{q}{url}{q}"
    forms = [
        f"import x from {spec}", f"import {{a, b as c}} from {spec}",
        f"import * as ns from {spec}", f"import {spec}", f"import{{a}}from{spec}",
        f"import {{\n  a,\n  b\n}} from\n{spec}", f"export {{x}} from {spec}",
        f"export * from {spec}", f"export*from{spec}", f"export * as y from {spec}",
        f"const m = import({spec})", f"import({spec}).then(f)", f"import(`{url}`)",
    ]  # fmt: skip
    return draw(st.sampled_from(forms)), [("module", url)]


@st.composite
def js_non_references(draw: st.DrawFn) -> Doc:
    path = draw(paths(("./", "../")))
    bare = draw(st.sampled_from(["vue", "lodash/fp", "@scope/pkg"]))
    forms = [
        f'import x from "{bare}"',
        f"// {draw(_LINE_NOISE)} import '{path}'\n",
        f"/* {draw(_COMMENT_NOISE)} import '{path}' */",
        f'const s = "{draw(_STRING_NOISE)} import {path}"',
        f"const t = `{draw(_TEMPLATE_NOISE)} import '{path}'`",
        'const r = /import "' + re.escape(path).replace("/", "[/]") + '"/g',
        f"import(`./{path}${{n}}`)",
        f'foo.import("{path}"); obj.from("{path}"); new URL("{path}", import.meta.url)',
        "const h = w / 2 / 3",
    ]
    return draw(st.sampled_from(forms)), []


@st.composite
def js_documents(draw: st.DrawFn) -> Doc:
    parts = draw(st.lists(js_references() | js_non_references(), max_size=8))
    separators = st.sampled_from(["\n", ";", ";\n", "\r\n"])
    text = "".join(part + draw(separators) for part, _ in parts)
    expected = [ref for _, refs in parts for ref in refs]
    if draw(st.booleans()):
        map_url = draw(paths()) + ".map"
        text += f"\n//# sourceMappingURL={map_url}\n"
        expected.append(("sourcemap", map_url))
    return text, expected


@st.composite
def documents(draw: st.DrawFn) -> tuple[Syntax, Doc]:
    if draw(st.booleans()):
        return "css", draw(css_documents())
    return "js", draw(js_documents())


def splice(text: str, refs: list[Reference], new: list[str]) -> str:
    out: list[str] = []
    done = 0
    for ref, path in zip(refs, new, strict=True):
        out += (text[done : ref.start], path)
        done = ref.end
    return "".join(out) + text[done:]


@settings(max_examples=examples(300))
@given(doc=documents())
def test_generated_documents_give_exactly_their_references(doc: tuple[Syntax, Doc]) -> None:
    syntax, (text, expected) = doc
    assert found(text, syntax) == expected


@settings(max_examples=examples(300))
@given(doc=documents())
def test_rewriting_changes_exactly_the_reported_spans(doc: tuple[Syntax, Doc]) -> None:
    syntax, (text, _) = doc
    refs = find_references(text, syntax)
    new_paths = [ref.path + ".abc" for ref in refs]
    output = rewrite(text, syntax, lambda ref: ref.path + ".abc")
    assert output == splice(text, refs, new_paths)
    again = find_references(output, syntax)
    assert [ref.path for ref in again] == new_paths
    assert [ref.url for ref in again] == [
        path + ref.url[len(ref.path) :] for ref, path in zip(refs, new_paths, strict=True)
    ]


# Not "?#" (they end the path part), NUL (CSS turns it into U+FFFD) or ":" ("a.png:x" would be a
# URL with scheme "a.png"; the caller keeps such names relative with "./").
awkward_text = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="?#:\x00"), max_size=6
)


@settings(max_examples=examples(300))
@given(doc=css_documents(sourcemaps=False), middle=awkward_text)
def test_any_new_path_survives_css_escaping(doc: Doc, middle: str) -> None:
    text, _ = doc
    output = rewrite(text, "css", lambda ref: ref.path + middle + ".abc")
    expected = [ref.path + middle + ".abc" for ref in find_references(text, "css")]
    assert [ref.path for ref in find_references(output, "css")] == expected


@settings(max_examples=examples(300))
@given(doc=js_documents(), middle=awkward_text)
def test_any_new_path_survives_js_escaping(doc: Doc, middle: str) -> None:
    text, _ = doc
    refs = [ref for ref in find_references(text, "js") if ref.kind == "module"]
    output = rewrite(text, "js", lambda ref: ref.path + middle + ".abc" if ref in refs else None)
    again = [ref.path for ref in find_references(output, "js") if ref.kind == "module"]
    assert again == [ref.path + middle + ".abc" for ref in refs]


@settings(max_examples=examples(300))
@given(doc=documents())
def test_rewriting_hashed_output_again_changes_nothing(doc: tuple[Syntax, Doc]) -> None:
    syntax, (text, _) = doc
    once = rewrite(text, syntax, hashed_once)
    assert all(HASH in ref.path for ref in find_references(once, syntax))
    assert rewrite(once, syntax, hashed_once) == once
