"""The scanners' regular expressions: Python 3.10 syntax, and linear time on hostile input.

``requires-python`` says 3.10, whose ``re`` has neither possessive quantifiers (``*+``, ``++``)
nor atomic groups (``(?>…)``): both arrived in 3.11, and one of them made ``import staticserve``
fail on 3.10 with "multiple repeat". The tox envs py310..py313 run the whole fast suite on each
claimed Python; this module pins the rule on whichever Python runs it.

Without possessive quantifiers the patterns stay linear by construction (unrolled loops that
give back one position at a time); the long inputs below are the shapes that would make a
backtracking pattern take quadratic or exponential time: a scan of each then would not finish.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import staticserve
from staticserve.pipeline.scan import Syntax, find_references, rewrite

from ..conftest import examples

try:  # the parser behind re.compile: re._parser from 3.11 on, sre_parse before
    from re import _parser as re_parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as re_parser

# Opcodes that only Python 3.11+ can compile.
NEWER_THAN_310 = {"POSSESSIVE_REPEAT", "ATOMIC_GROUP"}


def package_patterns() -> Iterator[tuple[str, re.Pattern[str]]]:
    """Every compiled pattern at module level in the package (also inside dicts and tuples)."""
    for module_info in pkgutil.walk_packages(staticserve.__path__, "staticserve."):
        if module_info.name.endswith(".__main__"):  # runs the command line when imported
            continue
        try:
            module = importlib.import_module(module_info.name)
        except ImportError:  # an optional extra (django, jinja2, ...) that is not installed
            continue
        for name, value in vars(module).items():
            values = value.values() if isinstance(value, dict) else [value]
            for item in values:
                if isinstance(item, re.Pattern):
                    yield f"{module_info.name}.{name}", item


def opcodes(parsed: Any) -> Iterator[str]:
    """The names of every opcode in a parsed pattern, nested groups and repeats included."""
    if isinstance(parsed, re_parser.SubPattern):
        for op, argument in parsed:
            yield str(op)
            yield from opcodes(argument)
    elif isinstance(parsed, (list, tuple)):
        for item in parsed:
            yield from opcodes(item)


PATTERNS = dict(package_patterns())


def test_the_scanners_patterns_are_found() -> None:
    assert any(name.startswith("staticserve.pipeline.scan.css.") for name in PATTERNS)
    assert any(name.startswith("staticserve.pipeline.scan.js.") for name in PATTERNS)


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_pattern_compiles_on_python_3_10(name: str) -> None:
    pattern = PATTERNS[name]
    used = set(opcodes(re_parser.parse(pattern.pattern, pattern.flags)))
    assert not used & NEWER_THAN_310, f"{name} needs Python 3.11: {sorted(used & NEWER_THAN_310)}"


N = 30_000  # long enough that a quadratic scan would run for minutes, not milliseconds

# Inputs that end before what would close them, or that repeat what a pattern could split in
# many ways: the cases where a backtracking engine gives back and retries.
HOSTILE = [
    ("css", "an unclosed comment of stars", "/*" + "*" * N),
    ("css", "an unclosed comment of a*", "/* " + "a*" * N),
    ("css", "an unclosed string of escapes", 'a{b:"' + "\\a" * N),
    ("css", "a name run before a backslash", "a" * N + "\\"),
    ("css", "names before backslashes", "ab\\" * N),
    ("css", "an at-name before a backslash", "@" + "a" * N + "\\"),
    ("css", "an unclosed url", "a{b:url(" + "a" * N),
    ("css", "an unclosed url of escapes", "a{b:url(" + "\\(" * N),
    ("css", "an unclosed image-set", "a{b:image-set(" + "'a' 1x," * (N // 8)),
    ("css", "many @import without a value", "@import;" * (N // 8)),
    ("css", "many open parentheses", "(" * N),
    ("css", "url( repeated", "url(" * (N // 4)),
    ("js", "an unclosed comment of stars", "/*" + "*" * N),
    ("js", "an unterminated string of escapes", "x='" + "\\x" * N),
    ("js", "an unterminated template of escapes", "x=`" + "\\`" * N),
    ("js", "an unterminated template with dollars", "x=`" + "$" * N),
    ("js", "an unterminated regex class", "x=/[" + "\\]" * N),
    ("js", "an unterminated regex of classes", "x=/" + "[a]" * N),
    ("js", "import repeated", "import " * (N // 7)),
    ("js", "import with a long clause and no from", "import " + "a," * N),
    ("js", "import with a long brace list and no from", "import{" + "a," * N),
    ("js", "export star repeated", "export*" * (N // 7)),
    ("js", "nested template substitutions", "`${" * (N // 3)),
    ("js", "a long member chain before slashes", "a." * N + "a/b/c"),
    ("js", "dynamic import of dynamic import", "import(" * (N // 7)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("syntax", "text"), [(c[0], c[2]) for c in HOSTILE], ids=[c[1] for c in HOSTILE]
)
def test_hostile_input_is_scanned_in_one_pass(syntax: Syntax, text: str) -> None:
    assert rewrite(text, syntax, lambda ref: None) == text
    # And the same with a reference after it, which the scan must still reach.
    tail = "\n;a{b:url(x.png)}" if syntax == "css" else "\n;import './x.js'"
    refs = find_references(text + tail, syntax)
    assert all(ref.end <= len(text) + len(tail) for ref in refs)


_PIECES = ["/*", "*", "*/", "\\", '"', "'", "`", "${", "}", "a", "url(", "import", "/", "[", "]"]


@settings(max_examples=examples(50), deadline=None)
@given(unit=st.lists(st.sampled_from(_PIECES), min_size=1, max_size=4).map("".join),
       syntax=st.sampled_from(["css", "js"]))  # fmt: skip
def test_any_short_unit_repeated_many_times_is_scanned(unit: str, syntax: Syntax) -> None:
    text = unit * (20_000 // len(unit))
    assert rewrite(text, syntax, lambda ref: None) == text
