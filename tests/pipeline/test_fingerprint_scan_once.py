"""The fingerprint stage scans each file once and edits from the sites that scan found.

Before, a file was scanned to resolve its references, again for each rewrite (twice more for
a member of a cycle, once more for a file whose source map is adjusted). The edits made from
the first scan's sites must be the very edits a fresh scan makes: a model test compares them
with :func:`find_edits` over random documents, and a build is counted for scans.
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from staticserve.pipeline.fingerprint import _edits, _resolve_all, _scan_anew, fingerprint
from staticserve.pipeline.scan import Reference, Syntax, find_edits, with_hash

from ..conftest import examples
from .test_scan import css_documents, js_documents, scannable_text

FINGERPRINT = sys.modules[_edits.__module__]  # the package exports a function of that name


def model_edits(
    text: str, syntax: Syntax, shorts: dict[int, str | None]
) -> list[tuple[int, int, str]]:
    """What the rewrite did before: scan the text again, edit the references at the places
    whose target has a hash."""

    def replace(reference: Reference) -> str | None:
        short = shorts.get(reference.start)
        return None if short is None else with_hash(reference.path, short)

    return [(e.start, e.end, e.new) for e in find_edits(text, syntax, replace)]


documents = st.one_of(
    st.tuples(st.just("css"), css_documents().map(lambda doc: doc[0])),
    st.tuples(st.just("js"), js_documents().map(lambda doc: doc[0])),
    st.tuples(st.sampled_from(["css", "js"]), scannable_text),
)


class _Everything(dict[str, bytes]):
    """Files in which every path is found: each reference resolves (unless it leaves the root)."""

    def __contains__(self, key: object) -> bool:
        return True


@settings(max_examples=examples(400), deadline=None)
@given(document=documents, data=st.data())
def test_edits_from_the_first_scan_are_those_of_a_fresh_scan(
    document: tuple[Syntax, str], data: st.DataObject
) -> None:
    syntax, text = document
    logical = "dir/sub/file." + syntax
    raw = text.encode("utf-8", "surrogatepass")
    text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "surrogateescape")  # as read
    files = _Everything({logical: raw})
    links = {
        logical: _resolve_all(
            logical, files[logical], files, "/", False, True, [], frozenset(), _scan_anew
        )
    }
    # Each target gets a hash, or keeps its name (None), as the build's ``hashes`` say.
    hashes: dict[str, str | None] = {
        target: data.draw(st.sampled_from([None, "0123456789ab", "fedcba987654"]))
        for target in sorted({link.target for link in links[logical]})
    }
    shorts = {link.reference.start: hashes[link.target] for link in links[logical]}
    made = [(e.start, e.end, e.new) for e in _edits(logical, files, links, hashes)]
    assert made == model_edits(text, syntax, shorts)


def test_each_file_is_scanned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    scanned: Counter[str] = Counter()
    real = FINGERPRINT.find_sites

    def counting(text: str, syntax: Syntax) -> object:
        scanned[text] += 1
        return real(text, syntax)

    monkeypatch.setattr(FINGERPRINT, "find_sites", counting)
    files = {
        "css/a.css": b"@import 'b.css';\na{background:url(../img/x.png)}",
        "css/b.css": b"@import 'a.css';\nb{background:url(../img/x.png)}",  # a cycle
        "js/app.js": b"import './dep.js'\nconsole.log(1)\n//# sourceMappingURL=app.js.map",
        "js/dep.js": b"export const x = 1\n",
        "js/app.js.map": b'{"version":3,"sources":[],"names":[],"mappings":"AAAA;AACA"}',
        "img/x.png": b"png",
    }
    results, problems = fingerprint(files, prefix="/static/", strict=True)
    assert problems == []
    assert len(results) == len(files)
    rewritable = [k for k in files if k.endswith((".css", ".js"))]
    assert sorted(scanned.values()) == [1] * len(rewritable), scanned


def test_an_adjusted_source_map_with_a_syntax_of_its_own_keeps_the_old_result() -> None:
    """A map named .css whose guard line ends in a line continuation: the CSS string it opens
    closes inside a JSON string, so the map has a reference. Its adjusted bytes are rewritten
    from a scan of those new bytes (the reference moved), so nothing is spliced off target:
    the reference found there is not the one found in the bytes as read, and stays as it is."""
    source_map = (
        ")]}' \\\n"
        '{"version":3,"sources":["s.css"],"names":[],"mappings":"AAAA,eAAA","x":"\' url(c.png) \'"}'
    )
    files = {
        "a.css": b"a{b:url(b.png)} x{}\n/*# sourceMappingURL=m.css */",
        "b.png": b"png",
        "c.png": b"cpng",
        "m.css": source_map.encode(),
    }
    results = {r.logical: r for r in fingerprint(files, prefix="/s/", strict=False)[0]}
    assert results["m.css"].data == source_map.replace("eAAA", "4BAAA").encode()
    b_short = hashlib.sha256(b"png").hexdigest()[:12]
    assert (
        results["a.css"].data
        == (
            f"a{{b:url(b.{b_short}.png)}} x{{}}\n/*# sourceMappingURL={results['m.css'].path} */"
        ).encode()
    )
