"""The CSS scanner: which ``url()``, ``@import``, ``image-set()`` and source map values it finds."""

from __future__ import annotations

import pytest

from staticserve.pipeline.scan import Syntax, find_references, rewrite


def found(text: str, syntax: Syntax) -> list[tuple[str, str]]:
    return [(ref.kind, ref.url) for ref in find_references(text, syntax)]


CSS_FOUND = [
    ("unquoted url", "a{background:url(img/x.png)}", [("url", "img/x.png")]),
    ("double-quoted url", 'a{background:url("x.png")}', [("url", "x.png")]),
    ("single-quoted url", "a{background:url('x.png')}", [("url", "x.png")]),
    ("upper-case URL", "a{background:URL(x.png)}", [("url", "x.png")]),
    ("mixed-case Url", "a{background:Url('x.png')}", [("url", "x.png")]),
    ("spaces around an unquoted value", "a{b:url(  x.png  )}", [("url", "x.png")]),
    ("spaces around a quoted value", 'a{b:url(  "x.png"  )}', [("url", "x.png")]),
    ("newlines inside the parens", "a{b:url(\n  x.png\n)}", [("url", "x.png")]),
    ("query and fragment", "a{src:url(../fonts/fa.eot?v=4.7.0#iefix)}",
     [("url", "../fonts/fa.eot?v=4.7.0#iefix")]),
    ("the old-IE ?#iefix hack", "a{src:url(fa.eot?#iefix&v=4.7.0)}",
     [("url", "fa.eot?#iefix&v=4.7.0")]),
    ("several urls in one declaration", "a{src:url(a.woff2) format('woff2'),url(\"b.woff\")}",
     [("url", "a.woff2"), ("url", "b.woff")]),
    ("an absolute path", "a{b:url(/static/x.png)}", [("url", "/static/x.png")]),
    ("an escaped space in an unquoted url", r"a{b:url(a\ b.png)}", [("url", "a b.png")]),
    ("an escaped quote in a quoted url", r'a{b:url("a\"b.png")}', [("url", 'a"b.png')]),
    ("a hex escape", r"a{b:url(\61 .png)}", [("url", "a.png")]),
    ("a url cut off by the end of the text", "a{b:url(x.png", [("url", "x.png")]),
    ("@import with a double-quoted string", '@import "x.css";', [("import", "x.css")]),
    ("@import with a single-quoted string and media", "@import 'x.css' screen;",
     [("import", "x.css")]),
    ("@import url() with layer, supports and media",
     "@import url(x.css) layer(base) supports(display:grid) screen and (min-width:1px);",
     [("import", "x.css")]),
    ("@import with a quoted url()", '@import url("x.css");', [("import", "x.css")]),
    ("upper-case @IMPORT", '@IMPORT "x.css";', [("import", "x.css")]),
    ("minified @import", '@import"x.css";a{b:url(y.png)}', [("import", "x.css"), ("url", "y.png")]),
    ("@import with a comment before its string", '@import /* c */ "x.css";',
     [("import", "x.css")]),
    ("image-set strings and urls", 'a{b:image-set("a.png" 1x, url(b.png) 2x)}',
     [("url", "a.png"), ("url", "b.png")]),
    ("-webkit-image-set strings", "a{b:-webkit-image-set('a.png' 1x,'b.png' 2x)}",
     [("url", "a.png"), ("url", "b.png")]),
    ("image-set with a type() hint", 'a{b:image-set("a.avif" type("image/avif"))}',
     [("url", "a.avif")]),
    ("a /*# sourceMappingURL */ comment", "a{}\n/*# sourceMappingURL=app.css.map */",
     [("sourcemap", "app.css.map")]),
    ("the older /*@ sourceMappingURL */ form", "/*@ sourceMappingURL=app.css.map*/",
     [("sourcemap", "app.css.map")]),
    ("a url after an unterminated-string line", 'a{content:"oops\n}b{c:url(x.png)}',
     [("url", "x.png")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("css", "expected"), [c[1:] for c in CSS_FOUND], ids=[c[0] for c in CSS_FOUND]
)
def test_css_reference_is_found(css: str, expected: list[tuple[str, str]]) -> None:
    assert found(css, "css") == expected


CSS_IGNORED = [
    ("url() in a comment", "/* a{b:url(x.png)} */"),
    ("@import in a comment", '/* @import "x.css"; */'),
    ("a url() inside a string", 'a{content:"url(x.png)"}'),
    ("image-url()", "a{b:image-url(x.png)}"),
    ("myurl()", "a{b:myurl(x.png)}"),
    ("a custom --url() name", "a{b:--url(x.png)}"),
    ("a dimension ending in url", "a{b:5url(x.png)}"),
    ("a quoted data URI with a nested url(%23id)",
     "a{b:url(\"data:image/svg+xml;utf8,<svg><rect fill='url(%23g)'/></svg>\")}"),
    ("an unquoted data URI with nested parens",
     "a{b:url(data:image/svg+xml;utf8,<svg><rect fill='url(%23g)'/>"
     "<image href='url(x.png)'/></svg>)}"),
    ("an upper-case DATA: URI", "a{b:url(DATA:image/png;base64,iVBORw0K)}"),
    ("http:", "a{b:url(http://example.com/x.png)}"),
    ("https: in quotes", 'a{b:url("https://example.com/x.png")}'),
    ("a protocol-relative url", "a{b:url(//cdn.example.com/x.png)}"),
    ("a fragment-only url", "a{mask:url(#m)}"),
    ("a percent-encoded fragment-only url", "a{mask:url(%23m)}"),
    ("an empty url()", "a{b:url()}"),
    ("an empty quoted url()", 'a{b:url("")}'),
    ("a whitespace-only url()", "a{b:url('  ')}"),
    ("a bare ?query", "a{b:url(?v=1)}"),
    ("a format() string", "a{src:format('woff2')}"),
    ("a string that is not in url(), @import or image-set", 'a{font-family:"x.woff"}'),
    ("a bad url with inner whitespace", "a{b:url(a b.png)}"),
    ("an @import string cut by a newline", '@import "x.css\n;'),
    ("@namespace with an http url", "@namespace svg url(http://www.w3.org/2000/svg);"),
    ("a comment that mentions sourceMappingURL midway", "/* see sourceMappingURL=x.map */"),
    ("a data: source map", "/*# sourceMappingURL=data:application/json;base64,e30= */"),
]  # fmt: skip


@pytest.mark.parametrize("css", [c[1] for c in CSS_IGNORED], ids=[c[0] for c in CSS_IGNORED])
def test_css_non_reference_is_ignored_and_left_alone(css: str) -> None:
    assert find_references(css, "css") == []
    assert rewrite(css, "css", lambda ref: "CHANGED") == css
