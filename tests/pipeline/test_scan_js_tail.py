"""The JavaScript scan stops where nothing more can be found: after the last "import" or
"export" that may be a keyword, when no "sourceMappingURL" follows. The model is the full walk
to the end of the text; both must find the same references."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from staticserve.pipeline.scan.js import JsScanner

from ..conftest import examples
from .test_scan import js_documents, scannable_text


class FullWalk(JsScanner):
    def nothing_ahead(self, stop: int, last_map: int) -> bool:
        return False


def found(scanner: JsScanner) -> list[object]:
    return [(site.ref, site.pieces, site.escape("a b")) for site in scanner.run()]


TAILS = ["", "\n//# sourceMappingURL=a.map", "`${", "/*", "'", "/re/", "x / y", "exports", "}"]


@settings(max_examples=examples(1000), deadline=None)
@given(
    st.one_of(scannable_text, js_documents().map(lambda doc: doc[0])),
    st.sampled_from(TAILS),
)
def test_stopping_early_finds_what_the_full_walk_finds(text: str, tail: str) -> None:
    for whole in (text, text + tail, tail + text):
        assert found(JsScanner(whole)) == found(FullWalk(whole))


def test_the_scan_stops_after_the_last_keyword(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "import a from './a.js'\n" + "x = y / 2; s = 'str'; r = /re/g;\n" * 5000
    specials = 0
    special = JsScanner.special

    def counting(self: JsScanner) -> object:
        nonlocal specials
        specials += 1
        return special(self)

    monkeypatch.setattr(JsScanner, "special", counting)
    assert [site.ref.url for site in JsScanner(text).run()] == ["./a.js"]
    assert specials < 10  # the rest of the text is not walked: no "/" there is looked at
