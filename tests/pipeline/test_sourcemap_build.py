"""A build keeps source maps true: after references on a minified line gain their hashes, every
mapped column still points at the same code (what devtools show when stopping there)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from staticserve.pipeline import BuildReport
from staticserve.pipeline.fingerprint import (
    Fingerprinted,
    Problem,
    final_as_read,
    fingerprint,
    hashed_name,
)
from staticserve.pipeline.sourcemap import Segment, decode_mappings

from .conftest import load

ESBUILD = Path(__file__).parent / "data" / "esbuild"  # a real map: see its README.md


def built(out: Path, logical: str) -> str:
    return (out / load(out).assets[logical].path).read_text(encoding="utf-8")


def code_at(text: str, line: int, column: int) -> str:
    """The generated code a segment points at (columns are UTF-16 units; these texts are ASCII)."""
    return text.splitlines()[line][column : column + 12]


def segments(source_map: str) -> list[Segment]:
    return [s for line in decode_mappings(json.loads(source_map)["mappings"]) for s in line]


def mapped_code(text: str, source_map: str) -> list[tuple[Segment, str]]:
    """Each segment's source fields with the generated code it points at."""
    lines = decode_mappings(json.loads(source_map)["mappings"])
    return [
        (segment[1:], code_at(text, line, segment[0]))
        for line, segments in enumerate(lines)
        for segment in segments
    ]


def test_a_minified_line_with_two_imports_keeps_its_esbuild_map_true(
    project: Callable[..., BuildReport], tmp_path: Path
) -> None:
    app = (ESBUILD / "app.js").read_text(encoding="utf-8")
    app_map = (ESBUILD / "app.js.map").read_text(encoding="utf-8")
    project(
        {
            "js/app.js": app,
            "js/app.js.map": app_map,
            "js/greet.js": "export const greet = (n) => `hello ${n}`\n",
            "js/shout.js": "export const shout = (s) => s.toUpperCase()\n",
        }
    )
    out = tmp_path / "out"
    new_app, new_map = built(out, "js/app.js"), built(out, "js/app.js.map")
    manifest = load(out)
    assert f'from"./{manifest.assets["js/greet.js"].path.split("/")[-1]}"' in new_app
    assert new_app.endswith(f"//# sourceMappingURL={manifest.assets['js/app.js.map'].path[3:]}\n")

    before, after = mapped_code(app, app_map), mapped_code(new_app, new_map)
    assert len(before) == len(after) == 30
    # Same source positions, and under each the same generated code: the start of the same
    # token (a specifier's string is the same up to its hash).
    assert [(fields, code[:6]) for fields, code in after] == [
        (fields, code[:6]) for fields, code in before
    ]
    moved = [
        old[0] != new[0] for old, new in zip(segments(app_map), segments(new_map), strict=True)
    ]
    assert sum(moved) == 26  # every segment after the first specifier's hash
    # Only "mappings" changed: sources, names and sourcesContent are as esbuild wrote them.
    assert {k: v for k, v in json.loads(new_map).items() if k != "mappings"} == {
        k: v for k, v in json.loads(app_map).items() if k != "mappings"
    }


def test_the_names_still_sit_under_their_segments(
    project: Callable[..., BuildReport], tmp_path: Path
) -> None:
    """The source side, checked against the source text: esbuild's named segments point at the
    identifier they name, and the generated code there is its minified name."""
    project(
        {
            "js/app.js": (ESBUILD / "app.js").read_text(encoding="utf-8"),
            "js/app.js.map": (ESBUILD / "app.js.map").read_text(encoding="utf-8"),
            "js/greet.js": "export const greet = 1\n",
            "js/shout.js": "export const shout = 2\n",
        }
    )
    out = tmp_path / "out"
    new_app, source_map = built(out, "js/app.js"), json.loads(built(out, "js/app.js.map"))
    source = source_map["sourcesContent"][0].splitlines()
    minified = {"greet": "r", "shout": "e", "message": "n", "main": "l", "target": "t"}
    checked = 0
    for line, segments in enumerate(decode_mappings(source_map["mappings"])):
        for segment in segments:
            if len(segment) == 5:
                name = source_map["names"][segment[4]]
                assert source[segment[2]][segment[3] :].startswith(name)
                if name in minified:
                    assert code_at(new_app, line, segment[0]).startswith(minified[name])
                    checked += 1
    assert checked >= 8


def test_a_css_map_moves_with_the_urls_on_its_line(
    project: Callable[..., BuildReport], tmp_path: Path
) -> None:
    css = "a{background:url(x.png)}b{color:red}c{mask:url(y.svg)}\n/*# sourceMappingURL=s.css.map */\n"
    # One segment per rule start and per declaration, all on line 0 of the source.
    columns = [0, 2, 24, 26, 36, 38]
    mappings = "".join(
        ("," if i else "") + _vlq_pair(columns[i] - (columns[i - 1] if i else 0), i and 2)
        for i in range(len(columns))
    )
    source_map = {"version": 3, "sources": ["s.scss"], "names": [], "mappings": mappings}
    project(
        {
            "css/s.css": css,
            "css/s.css.map": json.dumps(source_map),
            "css/x.png": b"\x89PNG x",
            "css/y.svg": "<svg/>",
        }
    )
    out = tmp_path / "out"
    before = mapped_code(css, json.dumps(source_map))
    after = mapped_code(built(out, "css/s.css"), built(out, "css/s.css.map"))
    assert [code for _, code in before] == [
        "a{background",
        "background:u",
        "b{color:red}",
        "color:red}c{",
        "c{mask:url(y",
        "mask:url(y.s",
    ]
    assert [code[:6] for _, code in after] == [code[:6] for _, code in before]


def _vlq_pair(column_delta: int, source_column_delta: int) -> str:
    """A 4-field segment (generated column, source 0, line 0, source column) for small deltas."""
    from staticserve.pipeline.sourcemap import encode_vlq

    return encode_vlq([column_delta, 0, 0, source_column_delta])


# --- the fingerprint stage's side: which maps change, and the warnings -------------------------

# Column 0, then column 15 (go), each to the source's first line.
MAP = json.dumps({"version": 3, "sources": ["a.ts"], "names": [], "mappings": "AAAA,eAAC"})
GENERATED = 'import"./b.js";go()\n//# sourceMappingURL=a.js.map\n'


def fingerprinted(files: dict[str, str]) -> tuple[dict[str, Fingerprinted], list[Problem]]:
    encoded = {k: v.encode() for k, v in files.items()}
    known = final_as_read(encoded, rewrite_js=True)
    results, problems = fingerprint(encoded, prefix="/static/", strict=False, known=known)
    return {r.logical: r for r in results}, problems


def test_an_adjusted_map_is_named_after_its_final_bytes() -> None:
    results, problems = fingerprinted({"a.js": GENERATED, "a.js.map": MAP, "b.js": "b()"})
    assert problems == []
    source_map = results["a.js.map"]
    go = results["a.js"].data.decode().index("go()")
    assert decode_mappings(json.loads(source_map.data)["mappings"]) == [
        [(0, 0, 0, 0), (go, 0, 0, 1)]
    ]
    assert source_map.path == hashed_name("a.js.map", hashlib.sha256(source_map.data).hexdigest())
    assert results["a.js"].data.decode().endswith(f"sourceMappingURL={source_map.path}\n")


def test_a_map_that_may_change_is_not_final_as_read() -> None:
    files = {"a.js": GENERATED.encode(), "a.js.map": MAP.encode(), "other.js.map": MAP.encode()}
    assert sorted(final_as_read(files, rewrite_js=True)) == ["other.js.map"]


def test_a_map_whose_lines_keep_their_columns_stays_byte_identical() -> None:
    results, problems = fingerprinted(
        {"a.js": "go()\n//# sourceMappingURL=a.js.map\n", "a.js.map": MAP}
    )
    assert problems == []
    assert results["a.js.map"].data == MAP.encode()


def test_an_index_map_is_left_with_a_warning() -> None:
    index_map = json.dumps(
        {"version": 3, "sections": [{"offset": {"line": 0, "column": 0}, "map": json.loads(MAP)}]}
    )
    results, problems = fingerprinted({"a.js": GENERATED, "a.js.map": index_map, "b.js": "b()"})
    assert results["a.js.map"].data == index_map.encode()
    assert [
        (p.fatal, "a.js.map: source map left as it was: an index map" in p.message)
        for p in problems
    ] == [(False, True)]


def test_a_map_named_by_two_files_is_left_with_a_warning() -> None:
    files = {"a.js": GENERATED, "c.js": GENERATED, "a.js.map": MAP, "b.js": "b()"}
    results, problems = fingerprinted(files)
    assert results["a.js.map"].data == MAP.encode()
    assert ["named by 2 files" in p.message for p in problems] == [True]


def test_a_map_is_not_read_when_only_its_own_url_at_the_end_changes() -> None:
    for generated, name in [
        ("go()\n//# sourceMappingURL=a.js.map\n", "a.js"),
        ("a{}\n/*# sourceMappingURL=a.css.map */", "a.css"),
    ]:
        results, problems = fingerprinted({name: generated, f"{name}.map": "not JSON"})
        assert problems == []
        assert results[f"{name}.map"].data == b"not JSON"
