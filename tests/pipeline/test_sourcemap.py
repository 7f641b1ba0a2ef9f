"""Source map v3 pieces: base64 VLQ, mappings, and moving generated columns after edits."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staticserve.pipeline.scan import Edit, apply_edits
from staticserve.pipeline.sourcemap import (
    Segment,
    adjust_source_map,
    decode_mappings,
    decode_vlq,
    encode_mappings,
    encode_vlq,
    moved_mappings,
    moves_code,
)

# --- base64 VLQ -------------------------------------------------------------------------------

VLQ = [
    ("zero", [0], "A"),
    ("one", [1], "C"),
    ("minus one", [-1], "D"),
    ("fifteen, the largest single digit", [15], "e"),
    ("sixteen needs a continuation", [16], "gB"),
    ("minus sixteen", [-16], "hB"),
    ("a four-field segment", [0, 0, 0, 0], "AAAA"),
    ("a larger value", [123], "2H"),
    ("a 32-bit extreme", [2**31 - 1], "+/////D"),
]  # fmt: skip


@pytest.mark.parametrize(("values", "text"), [c[1:] for c in VLQ], ids=[c[0] for c in VLQ])
def test_vlq_case_table(values: list[int], text: str) -> None:
    assert encode_vlq(values) == text
    assert decode_vlq(text) == values


@given(st.lists(st.integers(-(2**40), 2**40)))
def test_vlq_round_trips(values: list[int]) -> None:
    assert decode_vlq(encode_vlq(values)) == values


@pytest.mark.parametrize(
    ("text", "message"), [("A*", "not a base64 VLQ digit"), ("g", "cut off"), ("AAg", "cut off")]
)
def test_bad_vlq_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_vlq(text)


# --- mappings ---------------------------------------------------------------------------------

segments = st.one_of(
    st.tuples(st.integers(0, 500)),
    st.tuples(*[st.integers(0, 500)] * 4),
    st.tuples(*[st.integers(0, 500)] * 5),
)
mapping_lines = st.lists(st.lists(segments, max_size=6).map(sorted), max_size=6)


def test_mappings_decode_to_absolute_values() -> None:
    # Line 1: column 0 of source 0 line 0 column 0; column 4 -> source column 2, name 0.
    # Line 2: column 1 (the column restarts), source line 1 (the others carry on).
    assert decode_mappings("AAAA,IAAEA;CACA") == [[(0, 0, 0, 0), (4, 0, 0, 2, 0)], [(1, 0, 1, 2)]]


@given(mapping_lines)
def test_mappings_round_trip(lines: list[list[Segment]]) -> None:
    assert decode_mappings(encode_mappings(lines)) == [list(line) for line in lines] or (not lines)


def test_a_segment_of_two_fields_is_an_error() -> None:
    with pytest.raises(ValueError, match="1, 4 or 5"):
        decode_mappings("AA")


# --- moving generated columns ------------------------------------------------------------------


def insert(text: str, at: str, new: str) -> Edit:
    offset = text.index(at)
    return Edit(offset, offset, new)


def test_an_insertion_moves_only_the_later_columns_of_its_line() -> None:
    text = 'import"./a.js";run(x)\nlater()'
    lines = [[(0, 0, 0, 0), (7, 0, 0, 7), (15, 0, 1, 0), (19, 0, 1, 4)], [(0, 0, 2, 0)]]
    edit = insert(text, ".js", ".HASH")
    moved = moved_mappings(encode_mappings(lines), text, [edit], "js")
    assert decode_mappings(moved) == [
        [(0, 0, 0, 0), (7, 0, 0, 7), (20, 0, 1, 0), (24, 0, 1, 4)],
        [(0, 0, 2, 0)],
    ]
    assert moved.split(";")[1] == encode_mappings(lines).split(";")[1]  # kept byte for byte


def test_two_edits_on_one_line_add_up() -> None:
    text = 'import"./a.js";import"./b.js";go()'
    lines = [[(0,), (15,), (30,)]]
    edits = [insert(text, ".js", ".H"), insert(text, '.js";go', ".HH")]
    assert decode_mappings(moved_mappings(encode_mappings(lines), text, edits, "js")) == [
        [(0,), (17,), (35,)]
    ]


def test_columns_count_utf16_units() -> None:
    text = 'import"./😀.js";go()'  # the emoji is two UTF-16 units
    lines = [[(0,), (17,)]]  # "go" at code point 15, UTF-16 column 16 ... and 17 is "o"
    edit = insert(text, ".js", ".H")
    assert decode_mappings(moved_mappings(encode_mappings(lines), text, [edit], "js")) == [
        [(0,), (19,)]
    ]


def test_an_edit_that_removes_a_line_break_merges_the_lines() -> None:
    text = 'a{b:url("x\\\ny.png")}\nc{}'  # a CSS line continuation inside the string
    start = text.index("x")
    edit = Edit(start, text.index(".png"), "xy")
    lines = [[(0,), (9,)], [(0,), (1,), (6,)], [(0,)]]  # "y", "." and ")" on line 2
    moved = moved_mappings(encode_mappings(lines), text, [edit], "css")
    new_text = apply_edits(text, [edit])
    assert new_text == 'a{b:url("xy.png")}\nc{}'
    # "y" was inside the replaced text: it goes to the replacement's start.
    assert decode_mappings(moved) == [[(0,), (9,), (9,), (11,), (16,)], [(0,)]]
    assert new_text[11] == "."
    assert new_text[16] == ")"


def test_crlf_ends_one_line() -> None:
    text = "go()\r\nimport'./a.js';x()"
    lines = [[(0,)], [(0,), (16,)]]
    edit = insert(text, ".js", ".H")
    assert decode_mappings(moved_mappings(encode_mappings(lines), text, [edit], "js")) == [
        [(0,)],
        [(0,), (18,)],
    ]


# --- the map file -----------------------------------------------------------------------------

TEXT = 'import"./a.js";go()'
EDIT = [insert(TEXT, ".js", ".H")]
MAP = {"version": 3, "sources": ["a.ts"], "names": [], "mappings": "AAAA,eAAC"}


def test_only_the_mappings_string_changes() -> None:
    raw = json.dumps(MAP, indent=1).encode()
    data, why = adjust_source_map(raw, TEXT, EDIT, "js")
    assert why is None
    assert data == raw.replace(b'"AAAA,eAAC"', b'"AAAA,iBAAC"')
    assert decode_mappings(json.loads(data)["mappings"]) == [[(0, 0, 0, 0), (17, 0, 0, 1)]]


def test_the_guard_prefix_and_a_bom_are_kept() -> None:
    raw = b"\xef\xbb\xbf)]}'\n" + json.dumps(MAP).encode()
    data, why = adjust_source_map(raw, TEXT, EDIT, "js")
    assert why is None
    assert data == raw.replace(b'"AAAA,eAAC"', b'"AAAA,iBAAC"')


def test_a_mappings_lookalike_inside_another_string_is_not_touched() -> None:
    raw = json.dumps({"sourcesContent": ['{"mappings": "AAAA"}'], **MAP}).encode()
    data, _ = adjust_source_map(raw, TEXT, EDIT, "js")
    assert json.loads(data)["sourcesContent"] == ['{"mappings": "AAAA"}']
    assert json.loads(data)["mappings"] == "AAAA,iBAAC"


UNADJUSTABLE = [
    ("not JSON", b"<html>", "not a source map"),
    ("not UTF-8", b"\xff\xfe{}", "not a source map"),
    ("an index map", json.dumps({"version": 3, "sections": []}).encode(), "index map"),
    ("no mappings", json.dumps({"version": 3}).encode(), 'no "mappings"'),
    ("broken mappings", json.dumps({"version": 3, "mappings": "A*"}).encode(), "cannot be read"),
    ("trailing text", json.dumps(MAP).encode() + b" x", "not a source map"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "why"), [c[1:] for c in UNADJUSTABLE], ids=[c[0] for c in UNADJUSTABLE]
)
def test_a_map_that_cannot_be_adjusted_is_left_with_a_reason(raw: bytes, why: str) -> None:
    data, reason = adjust_source_map(raw, TEXT, EDIT, "js")
    assert data == raw
    assert reason is not None
    assert why in reason


# --- properties: every mapped character is found again -------------------------------------------

LINE_BREAK = re.compile(r"\r\n|[\n\r\u2028\u2029]")


def position(text: str, offset: int) -> tuple[int, int]:
    """(line, UTF-16 column) of a code point offset, the way a source map counts."""
    starts = [0, *(m.end() for m in LINE_BREAK.finditer(text))]
    line = max(i for i, start in enumerate(starts) if start <= offset)
    return line, len(text[starts[line] : offset].encode("utf-16-le")) // 2


@st.composite
def edited_texts(draw: st.DrawFn) -> tuple[str, list[Edit], list[int]]:
    """A text, sorted disjoint edits (none splits a CRLF) and the offsets of mapped characters."""
    chars = st.sampled_from([*list("ab.;\"'/é😀"), "\n", "\r\n", "\u2028"])
    text = "".join(draw(st.lists(chars, min_size=1, max_size=40)))
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8)))
    cuts = [c for c in cuts if not (text[c - 1 : c] == "\r" and text[c : c + 1] == "\n")]
    edits = []
    for start, end in zip(cuts[::2], cuts[1::2], strict=False):
        edits.append(Edit(start, end, draw(st.text(st.sampled_from("xy😀-"), max_size=4))))
    mapped = sorted(set(draw(st.lists(st.integers(0, len(text) - 1), max_size=12))))
    mapped = [m for m in mapped if text[m - 1 : m + 1] != "\r\n"]  # not between CR and LF
    return text, edits, mapped


@given(edited_texts())
def test_every_character_outside_the_edits_keeps_its_mapping(
    case: tuple[str, list[Edit], list[int]],
) -> None:
    text, edits, mapped = case
    lines: list[list[Segment]] = [[] for _ in range(position(text, len(text))[0] + 1)]
    for source_column, offset in enumerate(mapped):
        line, column = position(text, offset)
        lines[line].append((column, 0, 0, source_column))
    moved = decode_mappings(moved_mappings(encode_mappings(lines), text, edits, "js"))
    new_text = apply_edits(text, edits)
    found = {segment[3]: (line, segment[0]) for line, segs in enumerate(moved) for segment in segs}
    assert len(found) == len(mapped)
    for source_column, offset in enumerate(mapped):
        if any(edit.start <= offset < edit.end for edit in edits):
            continue  # inside replaced text: no character to find again
        shift = sum(len(e.new) - (e.end - e.start) for e in edits if e.end <= offset)
        assert found[source_column] == position(new_text, offset + shift)


MOVES = [
    ("code after the edit", 'import"./a|.js";go()', True),
    ("the closing quote after the edit", "x()\nimport './a.js|'  ", True),
    ("only spaces after the edit", "x()\nimport './a.js'|  ", False),
    ("the end of a comment after the edit", "/*# sourceMappingURL=a.map| */", False),
    ("code on the next line only", "import './a.js'|\ngo()", False),
]  # fmt: skip


@pytest.mark.parametrize(("text", "moves"), [c[1:] for c in MOVES], ids=[c[0] for c in MOVES])
def test_moves_code_tells_whether_any_column_moves(text: str, moves: bool) -> None:
    """``|`` marks where the edit inserts its text."""
    edit = Edit(text.index("|"), text.index("|"), "HASH")
    assert moves_code(text.replace("|", ""), [edit], "js") is moves
