from __future__ import annotations

import hashlib
import re

import pytest

from staticserve.pipeline.fingerprint import (
    Fingerprinted,
    Problem,
    final_as_read,
    fingerprint,
    hashed_name,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def run(files: dict[str, bytes], *, strict: bool = False, **kw: object) -> tuple[dict[str, Fingerprinted], list[Problem]]:  # fmt: skip
    results, problems = fingerprint(files, prefix="/static/", strict=strict, **kw)  # type: ignore[arg-type]
    return {r.logical: r for r in results}, problems


def short(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


@pytest.mark.parametrize(
    ("logical", "expected"),
    [
        ("css/app.css", "css/app.0123456789ab.css"),
        ("a.tar.gz", "a.tar.0123456789ab.gz"),
        ("LICENSE", "LICENSE.0123456789ab"),
        ("img/my logo.png", "img/my logo.0123456789ab.png"),
    ],
)
def test_hashed_names_put_the_hash_before_the_last_suffix(logical: str, expected: str) -> None:
    assert hashed_name(logical, "0123456789abcdef") == expected


def test_every_name_carries_the_hash_of_its_final_bytes() -> None:
    results, problems = run({"css/app.css": b"a{background:url(../img/x.png)}", "img/x.png": PNG})
    assert problems == []
    for item in results.values():
        assert item.path == hashed_name(item.logical, item.sha256)
        assert item.sha256 == hashlib.sha256(item.data).hexdigest()
    image = results["img/x.png"]
    assert results["css/app.css"].data == f"a{{background:url(../img/x.{short(PNG)}.png)}}".encode()
    assert image.integrity.startswith("sha384-")


def test_query_and_fragment_survive_including_the_old_ie_hack() -> None:
    css = b"@font-face{src:url('../fonts/fa.eot?#iefix&v=4.7.0') format('eot'),url(../fonts/fa.eot?v=4.7.0#iefix)}"
    results, _ = run({"css/fa.css": css, "fonts/fa.eot": b"eot"})
    h = short(b"eot")
    assert (
        results["css/fa.css"].data
        == (
            f"@font-face{{src:url('../fonts/fa.{h}.eot?#iefix&v=4.7.0') format('eot'),"
            f"url(../fonts/fa.{h}.eot?v=4.7.0#iefix)}}"
        ).encode()
    )


def test_changing_an_image_changes_the_hash_of_every_file_up_the_chain() -> None:
    files = {
        "css/app.css": b'@import "parts/theme.css";',
        "css/parts/theme.css": b"a{background:url(../../img/x.png)}",
        "img/x.png": PNG,
    }
    before, _ = run(files)
    after, _ = run({**files, "img/x.png": PNG + b"!"})
    for logical in files:
        assert before[logical].path != after[logical].path, logical


def test_an_unchanged_file_keeps_its_name_when_an_unrelated_file_changes() -> None:
    files = {"a.css": b"a{}", "b.css": b"b{}"}
    before, _ = run(files)
    after, _ = run({**files, "b.css": b"b{color:red}"})
    assert before["a.css"].path == after["a.css"].path


def test_absolute_references_under_the_prefix_resolve_and_keep_their_style() -> None:
    results, problems = run({"css/a.css": b"a{background:url(/static/img/x.png)} b{background:url(/other/y.png)}", "img/x.png": PNG})  # fmt: skip
    assert problems == []  # /other/... is another part of the site: not ours, not a warning
    assert (
        results["css/a.css"].data
        == (
            f"a{{background:url(/static/img/x.{short(PNG)}.png)}} b{{background:url(/other/y.png)}}"
        ).encode()
    )


def test_percent_encoded_and_plain_references_to_a_name_with_spaces_both_resolve() -> None:
    css = b'a{background:url(my%20logo.png)} b{background:url("my logo.png")}'
    results, problems = run({"a.css": css, "my logo.png": PNG})
    h = short(PNG)
    assert problems == []
    assert results["a.css"].data == f'a{{background:url(my%20logo.{h}.png)}} b{{background:url("my logo.{h}.png")}}'.encode()  # fmt: skip


def test_a_missing_file_is_a_warning_with_file_line_and_column_and_is_left_alone() -> None:
    css = b"a{}\n  b{background:url(missing.png)}\n"
    results, problems = run({"css/a.css": css})
    assert results["css/a.css"].data == css
    assert len(problems) == 1
    assert not problems[0].fatal
    assert problems[0].message.startswith("css/a.css:2:20: 'missing.png' matches no collected file")
    assert "looked for css/missing.png" in problems[0].message


def test_strict_mode_makes_every_missing_file_fatal_and_reports_them_all() -> None:
    _, problems = run({"a.css": b"a{background:url(x.png)} b{background:url(y.png)}"}, strict=True)
    assert [p.fatal for p in problems] == [True, True]
    assert ["x.png" in problems[0].message, "y.png" in problems[1].message] == [True, True]


def test_a_missing_source_map_is_only_ever_a_warning() -> None:
    _, problems = run({"a.js": b"x()\n//# sourceMappingURL=a.js.map\n"}, strict=True)
    assert len(problems) == 1
    assert not problems[0].fatal
    assert "source maps are optional" in problems[0].message


def test_a_reference_climbing_out_of_the_root_is_fatal_even_without_strict() -> None:
    _, problems = run({"css/a.css": b"a{background:url(../../etc/passwd)}"})
    assert len(problems) == 1
    assert problems[0].fatal
    assert "points outside the output root" in problems[0].message


def test_source_maps_are_rewritten_and_hashed() -> None:
    results, _ = run({"app.js": b"x()\n//# sourceMappingURL=app.js.map\n", "app.js.map": b"{}"})
    assert (
        results["app.js"].data == f"x()\n//# sourceMappingURL=app.js.{short(b'{}')}.map\n".encode()
    )


def test_js_module_imports_are_rewritten_and_bare_specifiers_left_alone() -> None:
    main = b'import {h} from "./lib/h.js";\nimport vue from "vue";\nconst m = import("./lazy.js")\n'
    files = {"main.js": main, "lib/h.js": b"export const h = 1", "lazy.js": b"export default 2"}
    results, problems = run(files)
    assert problems == []
    text = results["main.js"].data.decode()
    assert f'from "./lib/h.{short(files["lib/h.js"])}.js"' in text
    assert 'from "vue"' in text
    assert f'import("./lazy.{short(files["lazy.js"])}.js")' in text


def test_js_rewriting_can_be_switched_off() -> None:
    files = {"main.js": b'import "./a.js";', "a.js": b"1"}
    results, _ = run(files, rewrite_js=False)
    assert results["main.js"].data == files["main.js"]


def test_a_reference_cycle_terminates_and_every_member_changes_when_one_does() -> None:
    files = {
        "a.css": b'@import "b.css"; a{}',
        "b.css": b'@import "a.css"; b{}',
        "c.css": b'@import "a.css";',
    }
    first, problems = run(files)
    again, _ = run(dict(reversed(files.items())))
    changed, _ = run({**files, "b.css": b'@import "a.css"; b{color:red}'})
    assert problems == []
    assert {k: v.path for k, v in first.items()} == {k: v.path for k, v in again.items()}
    assert all(first[k].path != changed[k].path for k in files)
    assert first["a.css"].data == f'@import "b.{first["b.css"].path[2:14]}.css"; a{{}}'.encode()
    assert first["c.css"].data.decode().endswith(first["a.css"].path + '";')


def test_files_the_user_declares_bundler_hashed_are_not_hashed_twice_nor_rewritten() -> None:
    files = {"assets/index-B7x9Qz1k.js": b'import "./dep.js";', "assets/dep.js": b"1"}
    results, _ = run(files, fingerprinted=(r"assets/index-.{8}\.js",))
    assert results["assets/index-B7x9Qz1k.js"].path == "assets/index-B7x9Qz1k.js"
    assert results["assets/index-B7x9Qz1k.js"].data == files["assets/index-B7x9Qz1k.js"]


def test_a_bundler_looking_name_gets_a_second_hash_and_its_references_rewritten() -> None:
    files = {"assets/index-B7x9Qz1k.js": b'import "./dep.js";', "assets/dep.js": b"1"}
    results, _ = run(files)
    bundle = results["assets/index-B7x9Qz1k.js"]
    assert bundle.path == f"assets/index-B7x9Qz1k.{short(bundle.data)}.js"
    assert bundle.data == f'import "./dep.{short(b"1")}.js";'.encode()


def test_a_file_named_by_the_hash_of_its_own_bytes_keeps_its_name_and_bytes() -> None:
    css = b'@import "b.css"; a{}'
    files = {f"a.{short(css)}.css": css, "b.css": b"b{}"}
    results, _ = run(files)
    assert results[f"a.{short(css)}.css"].path == f"a.{short(css)}.css"
    assert results[f"a.{short(css)}.css"].data == css


def test_undecodable_bytes_survive_rewriting_untouched() -> None:
    css = b"/* \xff\xfe latin-1: caf\xe9 */ a{background:url(x.png)}"
    results, _ = run({"a.css": css, "x.png": PNG})
    assert results["a.css"].data == css.replace(b"x.png", f"x.{short(PNG)}.png".encode())


def test_a_byte_order_mark_is_kept() -> None:
    css = b"\xef\xbb\xbfa{background:url(x.png)}"
    results, _ = run({"a.css": css, "x.png": PNG})
    assert results["a.css"].data.startswith(b"\xef\xbb\xbfa{background:url(x.")


def test_hashes_are_lowercase_hex_of_the_documented_length() -> None:
    results, _ = run({"a.css": b"a{}"})
    assert re.fullmatch(r"a\.[0-9a-f]{12}\.css", results["a.css"].path)


def test_files_final_as_read_are_named_as_fingerprint_names_them_and_reused() -> None:
    files = {
        "css/app.css": b"a{background:url(../img/x.png)} @import 'b.css';",
        "css/b.css": b"b{}",
        "img/x.png": PNG,
        "app.js.map": b'{"version":3}',
        "vendor.0123456789ab.js": b'import "./css/app.css";',
        f"own.{short(b'export {}')}.js": b"export {}",
    }
    known = final_as_read(files, rewrite_js=True)
    assert set(known) == {"img/x.png", "app.js.map", f"own.{short(b'export {}')}.js"}
    plain, _ = run(files)
    reused, _ = run(files, known=known)
    assert reused == plain
    assert all(reused[logical] is item for logical, item in known.items())
