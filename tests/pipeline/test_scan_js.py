"""The JavaScript scanner: which module specifiers and source map comments it finds."""

from __future__ import annotations

import pytest

from staticserve.pipeline.scan import Syntax, find_references, rewrite


def found(text: str, syntax: Syntax) -> list[tuple[str, str]]:
    return [(ref.kind, ref.url) for ref in find_references(text, syntax)]


JS_FOUND = [
    ("a default import", 'import x from "./a.js"', ["./a.js"]),
    ("named imports", "import {a, b as c} from './b.js';", ["./b.js"]),
    ("a namespace import", 'import * as ns from "../c.mjs"', ["../c.mjs"]),
    ("a default and named import", 'import x, {y} from "./a.js"', ["./a.js"]),
    ("a side-effect import", 'import "./side.js";', ["./side.js"]),
    ("export from", 'export {x} from "./d.js"', ["./d.js"]),
    ("export star from", 'export * from "./e.js"', ["./e.js"]),
    ("export star as from", 'export * as y from "./f.js"', ["./f.js"]),
    ("export with a string name", 'export {"a-b" as ab} from "./g.js"', ["./g.js"]),
    ("dynamic import with double quotes", 'const m = import("./g.js")', ["./g.js"]),
    ("dynamic import with single quotes", "const m = await import('./g.js');", ["./g.js"]),
    ("dynamic import with attributes", 'import("./d.json", { with: { type: "json" } })',
     ["./d.json"]),
    ("an absolute specifier", 'import x from "/static/x.js"', ["/static/x.js"]),
    ("an import across line breaks", 'import {\n  a,\n  b\n} from\n  "./x.js"\n', ["./x.js"]),
    ("imports without semicolons", 'import a from "./a.js"\nimport b from "./b.js"\nrun()',
     ["./a.js", "./b.js"]),
    ("minified code on one line",
     'import{a as b}from"./x.js";export*from"./y.js";import("./z.js").then(f)',
     ["./x.js", "./y.js", "./z.js"]),
    ("an escaped specifier", r'import "./a\u002ejs"', ["./a.js"]),
    ("an import after a regex holding a quote", "const q = /[\"']/g\nimport './a.js'",
     ["./a.js"]),
    ("an import after a division", "const h = w / 2; import './a.js'", ["./a.js"]),
    ("an import inside a template substitution", "t = `${await import('./a.js')}`",
     ["./a.js"]),
    ("a query and fragment", 'import "./a.js?v=1#x"', ["./a.js?v=1#x"]),
    ("dynamic import of a template without substitutions", "const m = import(`./lazy.js`)",
     ["./lazy.js"]),
    ("dynamic import of a template with attributes", "import(`./d.json`, {with: {type: 'json'}})",
     ["./d.json"]),
    ("dynamic import of a template with escapes", r"import(`./\u{61}.js`)", ["./a.js"]),
    ("dynamic import of a template in a substitution", "t = `${await import(`./a.js`)}`",
     ["./a.js"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("js", "expected"), [c[1:] for c in JS_FOUND], ids=[c[0] for c in JS_FOUND]
)
def test_js_module_specifier_is_found(js: str, expected: list[str]) -> None:
    assert found(js, "js") == [("module", url) for url in expected]


JS_SOURCEMAPS = [
    ("a //# comment on the last line", "run();\n//# sourceMappingURL=app.js.map"),
    ("a //# comment followed by a newline", "run();\n//# sourceMappingURL=app.js.map\n"),
    ("the older //@ form", "run();\n//@ sourceMappingURL=app.js.map"),
    ("an indented comment", "run();\n  //# sourceMappingURL=app.js.map"),
    ("a /*# */ comment", "run();\n/*# sourceMappingURL=app.js.map */"),
    ("CRLF line ends", "run();\r\n//# sourceMappingURL=app.js.map\r\n"),
]


@pytest.mark.parametrize("js", [c[1] for c in JS_SOURCEMAPS], ids=[c[0] for c in JS_SOURCEMAPS])
def test_js_source_map_comment_is_found(js: str) -> None:
    assert found(js, "js") == [("sourcemap", "app.js.map")]


JS_IGNORED = [
    ("a bare specifier", 'import Vue from "vue"'),
    ("a bare specifier with a path", 'import fp from "lodash/fp"'),
    ("a scoped package", 'import x from "@scope/pkg"'),
    ("an https specifier", 'import "https://cdn.example.com/x.js"'),
    ("import.meta.url", "const u = new URL('./x.png', import.meta.url)"),
    ("a method named import", 'foo.import("./x.js")'),
    ("an optional-chained import method", 'foo?.import("./x.js")'),
    ("a method named from", 'obj.from("./x.js")'),
    ("a string mentioning import", "const s = \"import './x.js'\""),
    ("a line comment", '// import "./x.js"'),
    ("a block comment", '/* import x from "./x.js" */'),
    ("a template literal", 'const t = `import "./x.js"`'),
    ("dynamic import of a template", "import(`./x${n}.js`)"),
    ("dynamic import of a template ending in a substitution", "import(`./x/${name}`)"),
    ("dynamic import of a tagged template", "import(tag`./x.js`)"),
    ("import from a template (a syntax error)", "import x from `./x.js`"),
    ("export from a template (a syntax error)", "export * from `./x.js`"),
    ("export names from a template (a syntax error)", "export {a} from `./x.js`"),
    ("dynamic import of a variable", "import(name)"),
    ("dynamic import of an expression", 'import("./x" + ".js")'),
    ("a regex literal", 'const r = /import "\\.\\/x.js"/g'),
    ("an object key named import", 'const o = { import: "./x.js" }'),
    ("a private field named import", 'class A { #import = "./x.js" }'),
    ("export of a variable named from", 'export const from = "./x.js"'),
    ("a source map comment after code", 'run(); //# sourceMappingURL=x.js.map'),
    ("a data: source map", "//# sourceMappingURL=data:application/json;base64,e30="),
    ("an unterminated specifier", 'import "./x.js\nrun()'),
]  # fmt: skip


@pytest.mark.parametrize("js", [c[1] for c in JS_IGNORED], ids=[c[0] for c in JS_IGNORED])
def test_js_non_reference_is_ignored_and_left_alone(js: str) -> None:
    assert find_references(js, "js") == []
    assert rewrite(js, "js", lambda ref: "CHANGED") == js


TEMPLATE_REWRITES = [
    ("the backticks are kept", "import(`./lazy.js`).then(run)",
     "import(`./lazy.3f2a9c1d7e4b.js`).then(run)"),
    ("on a minified line beside quoted specifiers",
     'import{a}from"./a.js";const b=()=>import(`./b.js`);export*from"./c.js"',
     'import{a}from"./a.3f2a9c1d7e4b.js";const b=()=>import(`./b.3f2a9c1d7e4b.js`);'
     'export*from"./c.3f2a9c1d7e4b.js"'),
    ("a template with a substitution is left alone", "import(`./${name}.js`)",
     "import(`./${name}.js`)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("js", "expected"),
    [c[1:] for c in TEMPLATE_REWRITES],
    ids=[c[0] for c in TEMPLATE_REWRITES],
)
def test_dynamic_import_of_a_template_literal_is_rewritten(js: str, expected: str) -> None:
    def hashed(path: str) -> str:
        head, _, ext = path.rpartition(".")
        return f"{head}.3f2a9c1d7e4b.{ext}"

    assert rewrite(js, "js", lambda ref: hashed(ref.path)) == expected


def test_a_new_path_in_a_template_cannot_open_a_substitution_or_close_it() -> None:
    output = rewrite("import(`./x.js`)", "js", lambda ref: "./a${b}`c.js")
    assert output == "import(`./a\\${b}\\`c.js`)"
    assert found(output, "js") == [("module", "./a${b}`c.js")]
