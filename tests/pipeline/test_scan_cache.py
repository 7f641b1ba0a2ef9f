"""The scan cache (scans-v1.json in the cache folder): a build from a clean checkout rewrites
the texts it met before exactly as a scan would, without scanning them again; a damaged,
foreign or hand-edited file costs a scan, never a wrong rewrite."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from staticserve.pipeline import BuildConfig, BuildReport, Source, build, scan_cache
from staticserve.pipeline.scan import Site, Syntax, apply_edits, edit_site, find_sites, rewrite
from staticserve.pipeline.scan.stored import dump_sites, load_sites

from ..conftest import examples
from .conftest import compressible, write_tree
from .test_scan import hashed_once, scannable_text, syntaxes

FILES = {
    "css/app.css": (
        '@import "theme.css";\n.a { background: url(../img/a\\2e png) }\n'
        ".b { background: image-set('../img/b.png' 1x) }\n/*# sourceMappingURL=app.css.map */\n"
    ),
    "css/theme.css": compressible(2000, ".t { background: url('../img/b.png'); }\n"),
    "css/app.css.map": '{"version": 3, "sources": [], "mappings": ""}',
    "js/main.js": 'import {x} from "./lib.js";\nconst y = import(`./lib.js`);\n',
    "js/lib.js": "export const x = 1;\n//# sourceMappingURL=lib.js.map\n",
    "js/lib.js.map": '{"version": 3, "sources": [], "mappings": ""}',
    "img/a.png": b"\x89PNG a",
    "img/b.png": b"\x89PNG b",
}


def same_sites(found: list[Site], loaded: list[Site] | None) -> bool:
    """Equal references and pieces, and escapes that escape alike (partials compare by id)."""
    assert loaded is not None
    probes = ["a b", "q'\"`)", "x*/y", "\n\\"]
    return [(s.ref, s.pieces, [s.escape(p) for p in probes]) for s in found] == [
        (s.ref, s.pieces, [s.escape(p) for p in probes]) for s in loaded
    ]


@settings(max_examples=examples(300))
@given(text=scannable_text, syntax=syntaxes)
def test_stored_sites_come_back_as_found(text: str, syntax: Syntax) -> None:
    found = find_sites(text, syntax)
    stored = dump_sites(text, found)
    assert stored is not None
    loaded = load_sites(text, json.loads(json.dumps(stored)))
    assert same_sites(found, loaded)
    assert rewrite(text, syntax, hashed_once) == rewrite_with(text, loaded, hashed_once)


def rewrite_with(text: str, sites: Any, replace: Callable[..., str | None]) -> str:
    edits = [edit_site(text, site, replace(site.ref)) for site in sites]
    return apply_edits(text, [e for e in edits if e is not None])


@given(text=scannable_text, syntax=syntaxes, other=scannable_text, data=st.data())
def test_stored_sites_that_do_not_fit_the_text_are_refused_not_believed(
    text: str, syntax: Syntax, other: str, data: st.DataObject
) -> None:
    """Sites stored for one text and offered for another, or damaged field by field, are
    refused (None) or fit the text they are offered for: a span inside it whose pieces spell
    the path."""
    stored = dump_sites(text, find_sites(text, syntax))
    assert stored is not None
    damaged = json.loads(json.dumps(stored))
    if damaged:
        site = data.draw(st.integers(0, len(damaged) - 1))
        field = data.draw(st.integers(0, len(damaged[site]) - 1))
        damaged[site][field] = data.draw(st.one_of(st.integers(-3, 3), st.text(max_size=3), st.none(), st.lists(st.integers(0, 5), max_size=3)))  # fmt: skip
    for offered_text, value in ((other, stored), (text, damaged)):
        loaded = load_sites(offered_text, value)
        for loaded_site in loaded or []:
            ref = loaded_site.ref
            assert 0 <= ref.start < ref.end <= len(offered_text)
            assert "".join(p[0] for p in loaded_site.pieces) == ref.path


def _plain_to_escaped(stored: list[Any], text: str, data: st.DataObject) -> bool:
    """One piece of one stored site made to stand for another character than the text's
    (the path and URL changed to match); False when no site has a piece to change."""
    choices = [
        (s, p) for s, value in enumerate(stored) for p in range(len(value[9])) if value[7] != "comment-url"
    ]  # fmt: skip
    if not choices:
        return False
    s, p = data.draw(st.sampled_from(choices))
    value = stored[s]
    item = value[9][p]
    start = item[0] if len(item) == 2 else item[1]
    end = start + 1 if len(item) == 2 else item[2]
    index = sum(c[1] if len(c) == 2 else 1 for c in value[9][:p])  # of the piece's character
    char = data.draw(st.sampled_from("qZé").filter(lambda c: c not in text[start:end]))
    pieces = [*value[9][:p]]
    if len(item) == 2:  # a run: its first character becomes an escape that says another
        pieces += [[char, start, start + 1]] + ([[start + 1, item[1] - 1]] if item[1] > 1 else [])
    else:
        pieces += [[char, start, end]]
    value[9] = pieces + value[9][p + 1 :]
    value[2] = value[2][:index] + char + value[2][index + 1 :]
    value[1] = value[1][:index] + char + value[1][index + 1 :]
    return True


@settings(max_examples=examples(300))
@given(text=scannable_text, syntax=syntaxes, data=st.data())
def test_stored_sites_that_overlap_or_misread_their_text_are_refused(
    text: str, syntax: Syntax, data: st.DataObject
) -> None:
    """A site stored twice, sites out of order, and a piece that stands for another character
    than the text's spelling of it (an escape misread) would each garble the rewrite: refused."""
    stored = dump_sites(text, find_sites(text, syntax))
    assert stored is not None
    if stored:
        twice = json.loads(json.dumps(stored))
        at = data.draw(st.integers(0, len(twice) - 1))
        twice.insert(at, twice[at])
        assert load_sites(text, twice) is None
    if len(stored) > 1:
        assert load_sites(text, json.loads(json.dumps(stored[::-1]))) is None
    misread = json.loads(json.dumps(stored))
    if _plain_to_escaped(misread, text, data):
        assert load_sites(text, misread) is None


SOURCE_MAP_COMMENT = "a{}\n/*# sourceMappingURL=app.css.map */\n"


def test_a_source_map_site_whose_value_is_not_the_texts_is_refused() -> None:
    """A source map comment's value is edited up to its end (its query and fragment): a stored
    value longer than the text's, or the site told as another kind, is refused."""
    stored = dump_sites(SOURCE_MAP_COMMENT, find_sites(SOURCE_MAP_COMMENT, "css"))
    assert stored is not None
    assert [value[0] for value in stored] == ["sourcemap"]
    assert load_sites(SOURCE_MAP_COMMENT, json.loads(json.dumps(stored))) is not None
    longer = json.loads(json.dumps(stored))
    longer[0][1] += "?v=1 */"
    relabelled = json.loads(json.dumps(stored))
    relabelled[0][0] = "url"
    assert load_sites(SOURCE_MAP_COMMENT, longer) is None
    assert load_sites(SOURCE_MAP_COMMENT, relabelled) is None


@pytest.fixture
def site(tmp_path: Path) -> Callable[..., BuildReport]:
    write_tree(tmp_path / "assets", FILES)

    def run(output: str, **settings: Any) -> BuildReport:
        settings.setdefault("cache_dir", Path("cache"))
        config = BuildConfig(
            base_dir=tmp_path, sources=(Source(Path("assets")),), output=Path(output), **settings
        )
        return build(config)

    return run


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".staticserve" not in p.parts and p.name != "staticserve.json"
    }


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts the scan cache had to scan, build after build."""
    scanned: list[str] = []

    def counting(text: str, syntax: Syntax) -> list[Site]:
        scanned.append(text)
        return find_sites(text, syntax)

    monkeypatch.setattr(scan_cache, "find_sites", counting)
    return scanned


def test_a_clean_checkout_rewrites_as_a_scan_would_without_scanning(
    tmp_path: Path, site: Callable[..., BuildReport], scans: list[str]
) -> None:
    site("cold", cache_dir=None)
    site("out1")
    assert len(scans) == 8  # every CSS and JS text (source maps included), twice: no cache yet
    assert (tmp_path / "cache" / "scans-v1.json").is_file()
    scans.clear()
    site("out2")
    assert scans == []
    assert tree(tmp_path / "out2") == tree(tmp_path / "cold")


def test_one_changed_text_is_the_only_one_scanned(
    tmp_path: Path, site: Callable[..., BuildReport], scans: list[str]
) -> None:
    site("out1")
    (tmp_path / "assets/js/lib.js").write_text("export const x = 2;\n", encoding="utf-8")
    scans.clear()
    site("out2")
    assert scans == ["export const x = 2;\n"]
    site("cold", cache_dir=None)
    assert tree(tmp_path / "out2") == tree(tmp_path / "cold")


def signed(body: bytes) -> bytes:
    return hashlib.sha256(body).hexdigest().encode() + b"\n" + body


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[:-30] + bytes([raw[-30] ^ 1]) + raw[-29:],  # a bit of the body
        lambda raw: raw[: len(raw) // 2],  # cut
        lambda raw: b"",
        lambda raw: signed(raw.partition(b"\n")[2].replace(b'"scanner":"', b'"scanner":"0', 1)),
        lambda raw: signed(b"[]"),
        lambda raw: signed(b"[" * 100_000 + b"]" * 100_000),
    ],
    ids=["flipped bit", "cut", "empty", "another scanner's", "not an object", "nested too deep"],
)
def test_a_damaged_or_foreign_scan_file_is_ignored(
    tmp_path: Path,
    site: Callable[..., BuildReport],
    scans: list[str],
    damage: Callable[[bytes], bytes],
) -> None:
    site("out1")
    path = tmp_path / "cache" / "scans-v1.json"
    path.write_bytes(damage(path.read_bytes()))
    scans.clear()
    site("out2")
    assert len(scans) == 4  # all scanned again
    site("cold", cache_dir=None)
    assert tree(tmp_path / "out2") == tree(tmp_path / "cold")


def test_a_scan_file_past_its_bound_is_never_read(
    tmp_path: Path,
    site: Callable[..., BuildReport],
    scans: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sparse file of terabytes planted as the scan file would be read into memory whole."""
    site("out1")
    path = tmp_path / "cache" / "scans-v1.json"
    size = path.stat().st_size
    monkeypatch.setattr(scan_cache, "_MAX_BYTES", size - 1)  # a valid file, one byte too big
    scans.clear()
    site("out2")
    assert len(scans) == 4  # all scanned again: the file was ignored
    monkeypatch.setattr(scan_cache, "_MAX_BYTES", size)
    scans.clear()
    site("out3")
    assert scans == []


def _twice(sites: list[Any]) -> list[Any]:
    return [sites[0], *sites]


def _swapped(sites: list[Any]) -> list[Any]:
    return [sites[1], sites[0], *sites[2:]]


def _escape_misread(sites: list[Any]) -> list[Any]:
    """The url(../img/a\\2e png) site told as ../img/a/png: its escape read as another char."""
    (site,) = [s for s in sites if s[2] == "../img/a.png"]
    site[9] = [[char if char != "." else "/", *rest] if len(rest) == 2 else [char, *rest]
               for char, *rest in site[9]]  # fmt: skip
    site[1] = site[2] = "../img/a/png"
    return sites


@pytest.mark.parametrize(
    "forge", [_twice, _swapped, _escape_misread], ids=["a site twice", "out of order", "misread"]
)
def test_hand_edited_sites_cost_a_scan_never_a_wrong_rewrite(
    tmp_path: Path,
    site: Callable[..., BuildReport],
    scans: list[str],
    forge: Callable[[list[Any]], list[Any]],
) -> None:
    """A scans file edited by hand (its check made anew) with sites that do not fit their
    text: the build rewrites as a scan would, and stores the scan in their place."""
    site("out1")
    path = tmp_path / "cache" / "scans-v1.json"
    stored = json.loads(path.read_bytes().partition(b"\n")[2])
    app_css = (tmp_path / "assets/css/app.css").read_bytes()
    key = "css:" + hashlib.sha256(app_css).hexdigest()
    stored["sites"][key] = forge(stored["sites"][key])
    path.write_bytes(signed(json.dumps(stored).encode()))
    scans.clear()
    site("out2")
    assert scans == [app_css.decode()]  # scanned again, and only that text
    site("cold", cache_dir=None)
    assert tree(tmp_path / "out2") == tree(tmp_path / "cold")
    scans.clear()
    site("out3")
    assert scans == []  # the file holds the scan made instead


def test_without_the_scanners_sources_no_stored_scan_is_ever_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bytecode-only install cannot say which scanners it runs: its name for them is new in
    every process, so scans stored by other code are never believed."""
    from staticserve.pipeline.scan import stored

    monkeypatch.setattr(stored.Path, "glob", lambda self, pattern: iter(()))
    first, second = stored._scanner_version(), stored._scanner_version()
    assert first.startswith("unknown-")
    assert first != second
    assert stored.SCANNER not in (first, second)
