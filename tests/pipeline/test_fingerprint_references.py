"""References as a browser follows them, through the whole fingerprint stage: the rewritten
reference must name the hashed file."""

from __future__ import annotations

import hashlib
import posixpath
from urllib.parse import unquote

from hypothesis import given, settings
from hypothesis import strategies as st

from staticserve.pipeline.fingerprint import Fingerprinted, Problem, fingerprint
from staticserve.pipeline.scan import Syntax, find_references

from ..conftest import examples


def run(files: dict[str, bytes]) -> tuple[dict[str, Fingerprinted], list[Problem]]:
    results, problems = fingerprint(files, prefix="/static/", strict=True)
    return {r.logical: r for r in results}, problems


def short(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def test_dynamic_import_of_a_template_literal_points_at_the_hashed_module() -> None:
    lazy = b"export const x = 1\n"
    results, problems = run(
        {"js/app.js": b"const m = await import(`./lazy.js`)\n", "js/lazy.js": lazy}
    )
    assert problems == []
    assert (
        results["js/app.js"].data == f"const m = await import(`./lazy.{short(lazy)}.js`)\n".encode()
    )


def test_a_percent_encoded_css_url_names_the_hashed_file() -> None:
    png = b"\x89PNG fake"
    results, problems = run(
        {"css/app.css": b"a{background:url(../img/logo%2Epng)}", "img/logo.png": png}
    )
    assert problems == []
    expected = f"a{{background:url(../img/logo.{short(png)}%2Epng)}}".encode()
    assert results["css/app.css"].data == expected
    assert resolve("css/app.css", expected[len("a{background:url(") : -2].decode()) == (
        results["img/logo.png"].path
    )


def test_a_percent_encoded_js_specifier_names_the_hashed_module() -> None:
    util = b"export const u = 1\n"
    js = b"import {u} from './my%20util%2Ejs'\n"
    results, problems = run({"js/app.js": js, "js/my util.js": util})
    assert problems == []
    expected = f"import {{u}} from './my%20util.{short(util)}%2Ejs'\n".encode()
    assert results["js/app.js"].data == expected


def resolve(referrer: str, path: str) -> str:
    """Where a browser's request for ``path`` lands: the server percent-decodes it."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(referrer), unquote(path)))


# Characters that file names may hold and references must encode or escape.
_NAME_CHARS = st.characters(
    exclude_categories=["Cs", "Cc"], exclude_characters="/\\"
) | st.sampled_from(list(" %#?\"'()é€😀.%2E"))
_MUST_ENCODE = "%#?"  # they would start an escape, a fragment or a query


@st.composite
def encoded(draw: st.DrawFn, name: str) -> str:
    """``name`` as a reference may spell it: any character percent-encoded (either case), the
    ones that must be always, and a trailing space too (URL parsers strip it)."""
    out = []
    for index, char in enumerate(name):
        last = index == len(name) - 1
        if char in _MUST_ENCODE or (last and char.isspace()) or draw(st.booleans()):
            hex_format = draw(st.sampled_from(["%{:02X}", "%{:02x}"]))
            out.append("".join(hex_format.format(byte) for byte in char.encode()))
        else:
            out.append(char)
    return "".join(out)


def _css_unquoted(path: str) -> str:
    return "".join("\\" + c if c in " \"'()\\" else c for c in path)


CONTEXTS = {
    "css-unquoted": ("css/app.css", lambda p: f"a{{b:url({_css_unquoted(p)})}}"),
    "css-string": ("css/app.css", lambda p: "@import \"" + p.replace('"', '\\"') + '";'),
    "js-import": ("js/app.js", lambda p: "import x from '" + p.replace("'", "\\'") + "'\n"),
    "js-dynamic": ("js/app.js", lambda p: 'import("' + p.replace('"', '\\"') + '")\n'),
    "js-template": ("js/app.js", lambda p: "import(`" + p.replace("`", "\\`").replace("$", "\\$") + "`)\n"),
}  # fmt: skip


@settings(max_examples=examples(300), deadline=None)
@given(
    name=st.text(_NAME_CHARS, min_size=1, max_size=12).filter(
        lambda n: n.strip() not in ("", ".", "..") and not n[0].isspace()
    ),
    context=st.sampled_from(sorted(CONTEXTS)),
    data=st.data(),
)
def test_any_file_name_is_reached_through_its_rewritten_reference(
    name: str, context: str, data: st.DataObject
) -> None:
    referrer, write = CONTEXTS[context]
    target = "img/" + name
    path = "../img/" + data.draw(encoded(name))
    text = write(path)
    results, problems = run({referrer: text.encode(), target: b"target bytes"})
    assert problems == []
    (reference,) = find_references(results[referrer].data.decode(), syntax_of(referrer))
    assert resolve(referrer, reference.path) == results[target].path


def syntax_of(logical: str) -> Syntax:
    return "css" if logical.endswith(".css") else "js"
