"""Source maps (ECMA-426, "v3"): the base64 VLQ of ``mappings``, and keeping a map true to its
generated file after the build edits that file.

When a reference on a minified line gains a hash, every later column of that line moves; the
map's ``mappings`` must move with it, or devtools point at the wrong code. Only the generated
columns (and lines, should an edit add or remove one) change: ``sources``, ``names`` and every
other byte of the map stay as they were. Pure: text and bytes in and out.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .scan import Edit, Syntax

__all__ = [
    "Segment",
    "adjust_source_map",
    "decode_mappings",
    "decode_vlq",
    "encode_mappings",
    "encode_vlq",
    "moved_mappings",
    "moves_code",
]

# -- base64 VLQ (ECMA-426 §"Base64 VLQ") ---------------------------------------------------------

_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_DIGIT = {char: value for value, char in enumerate(_BASE64)}
_CONTINUE = 0b100000  # a digit with this bit set is followed by more digits of the same value
_DATA_BITS = 5


def encode_vlq(values: Iterable[int]) -> str:
    """Each value as base64 digits of 5 bits, least significant first; the lowest bit of the
    first digit is the sign."""
    out: list[str] = []
    for value in values:
        rest = (-value << 1) | 1 if value < 0 else value << 1
        while True:
            digit = rest & (_CONTINUE - 1)
            rest >>= _DATA_BITS
            out.append(_BASE64[digit | (_CONTINUE if rest else 0)])
            if not rest:
                break
    return "".join(out)


def decode_vlq(text: str) -> list[int]:
    """The values of a run of VLQ digits; ValueError on a character outside base64 or a value
    cut off before its last digit."""
    values: list[int] = []
    value = shift = 0
    for char in text:
        digit = _DIGIT.get(char)
        if digit is None:
            raise ValueError(f"{char!r} is not a base64 VLQ digit")
        value |= (digit & (_CONTINUE - 1)) << shift
        if digit & _CONTINUE:
            shift += _DATA_BITS
            continue
        values.append(-(value >> 1) if value & 1 else value >> 1)
        value = shift = 0
    if shift:
        raise ValueError("a VLQ value is cut off before its last digit")
    return values


# -- mappings ---------------------------------------------------------------------------------

# A segment with absolute values: (generated column) or (generated column, source index,
# source line, source column) or the same plus a name index.
Segment = tuple[int, ...]
_FIELDS_ALLOWED = (1, 4, 5)


def decode_mappings(mappings: str) -> list[list[Segment]]:
    """``mappings`` as one list of absolute segments per generated line.

    In the text, the generated column restarts at each line (";"); the other fields are
    relative to the previous segment that has them, across lines."""
    lines: list[list[Segment]] = []
    others = [0, 0, 0, 0]
    for group in mappings.split(";"):
        column = 0
        segments: list[Segment] = []
        for raw in group.split(","):
            if not raw:
                continue
            fields = decode_vlq(raw)
            if len(fields) not in _FIELDS_ALLOWED:
                raise ValueError(f"a segment has {len(fields)} fields; 1, 4 or 5 are allowed")
            column += fields[0]
            for index, delta in enumerate(fields[1:]):
                others[index] += delta
            segments.append((column, *others[: len(fields) - 1]))
        lines.append(segments)
    return lines


def encode_mappings(lines: Sequence[Sequence[Segment]]) -> str:
    """The inverse of :func:`decode_mappings`."""
    groups: list[str] = []
    previous = [0, 0, 0, 0]
    for segments in lines:
        column = 0
        parts: list[str] = []
        for segment in segments:
            deltas = [segment[0] - column]
            column = segment[0]
            for index, value in enumerate(segment[1:]):
                deltas.append(value - previous[index])
                previous[index] = value
            parts.append(encode_vlq(deltas))
        groups.append(",".join(parts))
    return ";".join(groups)


# -- moving generated positions -----------------------------------------------------------------

# What ends a generated line: the language's own line terminators (ECMA-262 LineTerminator;
# CSS Syntax "newline").
_LINE_BREAKS: dict[Syntax, re.Pattern[str]] = {
    "js": re.compile(r"\r\n|[\n\r\u2028\u2029]"),
    "css": re.compile(r"\r\n|[\n\r\f]"),
}


def _utf16_length(text: str) -> int:
    """Columns count UTF-16 code units (ECMA-426 terminology); a lone surrogate (an undecodable
    byte kept by surrogateescape) counts one."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


Position = tuple[int, int]  # (0-based line, 0-based UTF-16 column)


@dataclass(frozen=True, slots=True)
class _Change:
    """One edit in generated positions: ``start``..``end`` before it, ``new_start``..``new_end``
    after every edit; ``width`` is the new text's length when it holds no line break."""

    start: Position
    end: Position
    new_start: Position
    new_end: Position
    width: int | None


class _Positions:
    def __init__(self, text: str, breaks: re.Pattern[str]) -> None:
        self.text = text
        self.starts = [0, *(match.end() for match in breaks.finditer(text))]

    def at(self, offset: int) -> Position:
        line = bisect.bisect_right(self.starts, offset) - 1
        return line, _utf16_length(self.text[self.starts[line] : offset])


class _Mover:
    """Old generated positions to new ones, for edits sorted by offset and disjoint."""

    def __init__(self, text: str, edits: Sequence[Edit], syntax: Syntax) -> None:
        breaks = _LINE_BREAKS[syntax]
        positions = _Positions(text, breaks)
        self.changes: list[_Change] = []
        self.starts: list[Position] = []
        for edit in edits:
            start, end = positions.at(edit.start), positions.at(edit.end)
            new_start = self.moved(start)
            new_lines = breaks.split(edit.new)
            last = _utf16_length(new_lines[-1])
            if len(new_lines) == 1:
                width: int | None = last
                new_end = (new_start[0], new_start[1] + last)
            else:
                width, new_end = None, (new_start[0] + len(new_lines) - 1, last)
            self.changes.append(_Change(start, end, new_start, new_end, width))
            self.starts.append(start)

    def moved(self, position: Position) -> Position:
        """Where an old position lands once every change is made. A position inside replaced
        text stays inside the replacement, or goes to its start."""
        index = bisect.bisect_right(self.starts, position) - 1
        if index < 0:
            return position
        return _moved_by(self.changes[index], position)


def _moved_by(change: _Change, position: Position) -> Position:
    """Where a position at or after ``change.start`` lands."""
    line, column = position
    if position >= change.end:
        if line == change.end[0]:
            return change.new_end[0], change.new_end[1] + column - change.end[1]
        return line + change.new_end[0] - change.end[0], column
    if change.width is not None and line == change.start[0]:
        offset = min(column - change.start[1], change.width)
        return change.new_start[0], change.new_start[1] + offset
    return change.new_start


_MAPPINGS_CHARS = re.compile(r"[A-Za-z0-9+/,;]*")


def moves_code(text: str, edits: Sequence[Edit], syntax: Syntax) -> bool:
    """False when no code moves: every edit keeps its line breaks and has nothing after it on
    its line but spaces or the end of its comment (a sourceMappingURL at the end, say)."""
    breaks = _LINE_BREAKS[syntax]
    for edit in edits:
        if breaks.search(text, edit.start, edit.end) or breaks.search(edit.new):
            return True
        line_end = breaks.search(text, edit.end)
        rest = text[edit.end : line_end.start() if line_end else len(text)]
        if rest.strip() not in ("", "*/"):
            return True
    return False


def moved_mappings(mappings: str, text: str, edits: Sequence[Edit], syntax: Syntax) -> str:
    """``mappings`` of ``text`` made true for ``text`` with ``edits`` applied.

    Lines that no edit touches keep their text (only their place moves, should an edit add or
    remove a line break); on the others, each generated column is moved and re-encoded. The
    other fields are relative to the previous segment, and the segments keep their order, so
    their digits are kept as they are."""
    if not edits:
        return mappings
    if not _MAPPINGS_CHARS.fullmatch(mappings):
        raise ValueError("characters other than base64 digits, ',' and ';'")
    mover = _Mover(text, edits, syntax)
    changes = mover.changes
    touched = {line for c in changes for line in range(c.start[0], c.end[0] + 1)}
    groups = mappings.split(";")
    out: dict[int, str | list[tuple[int, str]]] = {}
    for line, group in enumerate(groups):
        if line not in touched:
            out[mover.moved((line, 0))[0]] = group
            continue
        column = 0
        for raw in group.split(","):
            if not raw:
                continue
            delta, rest = _first_value(raw)
            column += delta
            new_line, new_column = mover.moved((line, column))
            segments = out.setdefault(new_line, [])
            assert isinstance(segments, list)  # touched lines never land on kept ones
            segments.append((new_column, rest))
    total = max(len(groups) + changes[-1].new_end[0] - changes[-1].end[0], max(out, default=-1) + 1)
    return ";".join(_group(out.get(line, "")) for line in range(total))


def _first_value(segment: str) -> tuple[int, str]:
    """The first VLQ value of a segment and the digits after it."""
    for index, char in enumerate(segment):
        digit = _DIGIT.get(char)
        if digit is None:
            raise ValueError(f"{char!r} is not a base64 VLQ digit")
        if not digit & _CONTINUE:
            return decode_vlq(segment[: index + 1])[0], segment[index + 1 :]
    raise ValueError("a VLQ value is cut off before its last digit")


def _group(line: str | list[tuple[int, str]]) -> str:
    if isinstance(line, str):
        return line
    parts: list[str] = []
    previous = 0
    for column, rest in line:
        parts.append(encode_vlq([column - previous]) + rest)
        previous = column
    return ",".join(parts)


# -- the map file ---------------------------------------------------------------------------------

# ECMA-426: a map may start with this line, which guards it against being run as a script.
_XSSI_PREFIX = ")]}'"


def adjust_source_map(
    data: bytes, text: str, edits: Sequence[Edit], syntax: Syntax
) -> tuple[bytes, str | None]:
    """The map ``data`` of generated ``text`` after ``edits``, with only its ``mappings`` string
    replaced; or ``data`` unchanged and why, when it cannot be adjusted (not JSON, an index map
    with ``sections``, no ``mappings``)."""
    try:
        source = data.decode("utf-8-sig")
        span, value, sections = _mappings_value(source)
    except (UnicodeDecodeError, ValueError) as error:
        return data, f"not a source map this build can read ({error})"
    if sections:
        return data, "an index map (with sections), which this build does not adjust"
    if span is None or not isinstance(value, str):
        return data, 'no "mappings" string'
    try:
        new_value = moved_mappings(value, text, edits, syntax)
    except ValueError as error:
        return data, f'its "mappings" cannot be read ({error})'
    if new_value == value:
        return data, None
    bom = "\ufeff" if data.startswith(b"\xef\xbb\xbf") else ""
    adjusted = source[: span[0]] + json.dumps(new_value) + source[span[1] :]
    return (bom + adjusted).encode("utf-8"), None


def _mappings_value(source: str) -> tuple[tuple[int, int] | None, object, bool]:
    """The span and value of the top-level ``mappings`` member, and whether ``sections`` is
    there: the map's own text is walked, so that every other byte can be kept."""
    decoder = json.JSONDecoder()
    i = 0
    if source.startswith(_XSSI_PREFIX):
        newline = source.find("\n")
        i = len(source) if newline < 0 else newline + 1
    i = _skip_space(source, i)
    if source[i : i + 1] != "{":
        raise ValueError("the top level is not a JSON object")
    span: tuple[int, int] | None = None
    value: object = None
    sections = False
    i = _skip_space(source, i + 1)
    while source[i : i + 1] != "}":
        key, i = decoder.raw_decode(source, i)
        i = _skip_space(source, i)
        if not isinstance(key, str) or source[i : i + 1] != ":":
            raise ValueError(f"a member name is expected at offset {i}")
        start = _skip_space(source, i + 1)
        member, i = decoder.raw_decode(source, start)
        if key == "mappings":
            span, value = (start, i), member
        sections = sections or key == "sections"
        i = _skip_space(source, i)
        if source[i : i + 1] == ",":
            i = _skip_space(source, i + 1)
        elif source[i : i + 1] != "}":
            raise ValueError(f"',' or '}}' is expected at offset {i}")
    if source[_skip_space(source, i + 1) :]:
        raise ValueError("text follows the JSON object")
    return span, value, sections


def _skip_space(source: str, i: int) -> int:
    while i < len(source) and source[i] in " \t\n\r":
        i += 1
    return i
