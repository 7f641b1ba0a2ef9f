"""Which names are taken as hashed already, and the bytes behind an immutable URL.

A name is kept as it is (and served ``immutable`` for a year) only when that is certain: it
carries the SHA-256 of its own bytes (12 hex or more, as ours do), or it matches a pattern the
user configured in ``fingerprinted``. Any other name gets our hash, even one that looks like a
bundler's (``roboto-latin400.woff2``, ``index-B7x9Qz1k.js``): a second hash costs nothing, stale
bytes under an immutable URL cost a year. And whatever the name, the bytes on disk behind every
manifest entry hash to that entry's sha256: a file already there is reused only when the last
build's manifest recorded it with those bytes, never because its size matches.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import random
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import brotli
import httpx
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from staticserve.cli import main
from staticserve.errors import ConfigError
from staticserve.fingerprinted import carries_own_hash, hash_parts, keeps_its_name
from staticserve.manifest import Asset, Manifest
from staticserve.pipeline import BuildReport
from staticserve.pipeline.config import BuildConfig, load_config
from staticserve.pipeline.fingerprint import _kept_names, hashed_name

from ..conftest import LiveServer, check_live_build, wrap
from .conftest import compressible, write_tree

Project = Callable[..., BuildReport]

CONTENT = b"the bytes of a file"
SHA = hashlib.sha256(CONTENT).hexdigest()
OTHER = hashlib.sha256(b"other bytes").hexdigest()
VITE = r"assets/.*-[A-Za-z0-9_-]{8}\.(js|css)"


# -- the rule, as a table ------------------------------------------------------------------------

TRUST: list[tuple[str, str, tuple[str, ...], bool]] = [
    # (name, sha256 of its bytes, fingerprinted patterns, kept as it is)
    (f"css/app.{SHA[:12]}.css", SHA, (), True),  # ours: its own hash
    (f"app.{SHA[:20]}.js", SHA, (), True),  # a longer prefix of its own hash
    (f"LICENSE.{SHA[:12]}", SHA, (), True),  # no suffix
    (f"{SHA[:16]}.js", SHA, (), True),  # the name is the hash
    (f"app.{OTHER[:12]}.css", SHA, (), False),  # a hash, of other bytes
    (f"app.{SHA[:11]}.css", SHA, (), False),  # too short to be certain
    (f"app.{SHA[:12].upper()}.css", SHA, (), False),  # ours are lowercase
    (f"{SHA[:12]}/app.css", SHA, (), False),  # in a folder's name: not the file's
    (f"app-{SHA[:12]}.css", SHA, (), False),  # not a dot-separated part
    ("fonts/roboto-latin400.woff2", SHA, (), False),  # looks like a bundler's: not certain
    ("assets/index-B7x9Qz1k.js", SHA, (), False),
    ("main.0a1b2c3d4e5f6a7b8c9d.js", SHA, (), False),  # webpack's hex, not of these bytes
    ("assets/index-B7x9Qz1k.js", SHA, (VITE,), True),  # the user says so
    ("assets/index-B7x9Qz1k.css", SHA, (VITE,), True),
    ("other/index-B7x9Qz1k.js", SHA, (VITE,), False),  # the pattern matches whole paths
    ("assets/index-B7x9Qz1k.js.map", SHA, (VITE,), False),
    ("app.css", SHA, (), False),
]


@pytest.mark.parametrize(("name", "sha256", "patterns", "kept"), TRUST)
def test_a_name_is_kept_only_when_its_hash_is_certain(
    name: str, sha256: str, patterns: tuple[str, ...], kept: bool
) -> None:
    assert keeps_its_name(name, sha256, patterns) is kept


@given(st.binary(max_size=200), st.text(min_size=1, max_size=20).filter(lambda s: "/" not in s))
def test_our_hashed_name_of_any_bytes_is_kept_and_never_for_other_bytes(
    data: bytes, stem: str
) -> None:
    digest = hashlib.sha256(data).hexdigest()
    name = hashed_name(f"dir/{stem}.css", digest)
    assert keeps_its_name(name, digest, ())
    assert not keeps_its_name(name, hashlib.sha256(data + b"!").hexdigest(), ())


@given(st.text(max_size=40), st.binary(max_size=100))
def test_without_patterns_a_kept_name_always_contains_its_own_hash(name: str, data: bytes) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if keeps_its_name(name, digest, ()):
        base = name.rsplit("/", 1)[-1]
        assert any(len(p) >= 12 and digest.startswith(p) for p in base.split("."))
    assert carries_own_hash(name, digest) is keeps_its_name(name, digest, ())


def _model_kept(files: dict[str, bytes], patterns: tuple[str, ...]) -> frozenset[str]:
    """Every file hashed, every name checked against its digest: what _kept_names must say."""
    return frozenset(
        name for name, data in files.items() if keeps_its_name(name, sha256(data), patterns)
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Names that carry their own hash, another's, a hash too short or in capitals or in a folder.
_NAME_SHAPES = st.sampled_from(
    ["{h12}.css", "a.{h12}.css", "a.{h20}", "{h12}/a.css", "a.{H12}.css", "a.{h11}.js",
     "a-{h12}.js", "a.{o12}.css", "ü n.{h64}.js", "a.{h64}0.js", "..{h12}..", "plain.css"]
)  # fmt: skip


@st.composite
def named_files(draw: st.DrawFn) -> dict[str, bytes]:
    files = {}
    for shape, data in draw(st.lists(st.tuples(_NAME_SHAPES, st.binary(max_size=8)))):
        digest, other = sha256(data), sha256(data + b"!")
        files[shape.format(h12=digest[:12], h20=digest[:20], h64=digest, h11=digest[:11],
                           H12=digest[:12].upper(), o12=other[:12])] = data  # fmt: skip
    return files


@given(named_files(), st.sampled_from([(), (r".*\.js",), (r"plain\.css",)]))
def test_the_build_hashes_only_names_that_may_carry_a_hash_and_agrees_with_the_rule(
    files: dict[str, bytes], patterns: tuple[str, ...]
) -> None:
    assert _kept_names(dict(files), patterns) == _model_kept(files, patterns)  # type: ignore[arg-type]


def test_a_name_without_a_hash_shaped_part_is_not_hashed_to_check_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hashed: list[bytes] = []

    def counting(data: bytes) -> str:
        hashed.append(data)
        return sha256(data)

    module = sys.modules[_kept_names.__module__]  # the package exports a function of that name
    monkeypatch.setattr(module, "sha256_of", counting)
    files = {"a.css": b"a", "b/c.js": b"c", f"d.{SHA[:12]}.css": CONTENT, "e.0123456789ab.js": b"e"}
    assert _kept_names(files, ()) == {f"d.{SHA[:12]}.css"}  # type: ignore[arg-type]
    assert sorted(hashed) == [b"e", CONTENT]  # the two whose names have 12 hex digits
    assert hash_parts("x/a.0123456789ab.B.css") == ["0123456789ab"]
    assert hash_parts("0123456789ab/a.css") == []


# -- the setting ---------------------------------------------------------------------------------


def test_patterns_come_from_the_config_file_the_command_and_the_api(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        f"[tool.staticserve]\nfingerprinted = ['{VITE}']\n", encoding="utf-8"
    )
    assert load_config(start=tmp_path).fingerprinted == (VITE,)
    assert BuildConfig().with_overrides(fingerprinted=[VITE]).fingerprinted == (VITE,)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("fingerprinted = 'x'", "[tool.staticserve] fingerprinted: must be a list of regular"),
        ("fingerprinted = [1]", "fingerprinted: patterns must be strings"),
        ("fingerprinted = ['(']", "fingerprinted: '(' is not a valid regular expression"),
        ("fingerprinted = ['']", "fingerprinted: an empty pattern"),
    ],
)
def test_bad_patterns_are_clear_errors(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.staticserve]\n{toml}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(start=tmp_path)


def test_a_bad_pattern_on_the_command_line_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path / "s", {"a.css": "a{}"})
    monkeypatch.chdir(tmp_path)
    args = ["build", "--source", "s", "--output", "o", "--fingerprinted", "a[b"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: fingerprinted: 'a[b' is not a valid regular expression "
        "(unterminated character set at position 1)"
    ]


# -- end to end: builds, edits of the same size, and what a browser gets -------------------------


def same_size_edit(data: bytes) -> bytes:
    edited = bytes(b ^ 0x55 for b in data[:64]) + data[64:]
    assert len(edited) == len(data)
    assert edited != data
    return edited


def fetch(
    live_servers: dict[str, LiveServer], apps: dict[str, Any], adapter: str, out: Path, url: str
) -> httpx.Response:
    server = live_servers[adapter]
    server.switch.target = wrap(adapter, apps[adapter], out)
    return httpx.get(server.url + url, headers={"accept-encoding": "identity"})


@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
def test_a_same_size_edit_of_a_name_that_looks_hashed_is_served_with_its_new_bytes(
    project: Project,
    tmp_path: Path,
    adapter: str,
    live_servers: dict[str, LiveServer],
    framework_apps: dict[str, Any],
) -> None:
    logical = "fonts/roboto-latin400.woff2"
    font = b"wOF2" + random.Random(1).randbytes(4000)
    project({logical: font})
    edited = same_size_edit(font)
    write_tree(tmp_path / "assets", {logical: edited})
    project()
    out = tmp_path / "out"
    manifest = check_live_build(out)  # every file's bytes hash to its record
    asset = manifest.assets[logical]
    assert asset.path != logical  # our hash, in addition to what looked like one
    assert asset.sha256 == hashlib.sha256(edited).hexdigest()
    reply = fetch(live_servers, framework_apps, adapter, out, manifest.url(logical))
    assert reply.status_code == 200
    assert hashlib.sha256(reply.content).hexdigest() == asset.sha256
    assert "immutable" in reply.headers["cache-control"]
    plain = fetch(live_servers, framework_apps, adapter, out, "/static/" + logical)
    assert plain.content == edited
    assert "immutable" not in plain.headers["cache-control"]


@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
def test_a_name_the_user_declares_hashed_is_kept_and_a_same_size_edit_still_lands_on_disk(
    project: Project,
    tmp_path: Path,
    adapter: str,
    live_servers: dict[str, LiveServer],
    framework_apps: dict[str, Any],
) -> None:
    logical = "assets/index-B7x9Qz1k.js"
    script = compressible(5000, "console.log('hello');\n").encode()
    project({logical: script, "fonts/icon-latin400.woff2": os.urandom(900)}, fingerprinted=(VITE,))
    edited = same_size_edit(script)
    write_tree(tmp_path / "assets", {logical: edited})
    report = project(fingerprinted=(VITE,))
    out = tmp_path / "out"
    manifest = check_live_build(out)
    asset = manifest.assets[logical]
    assert asset.path == logical  # kept: the user said the bundler hashed it
    assert asset.fingerprinted
    assert manifest.assets["fonts/icon-latin400.woff2"].path != "fonts/icon-latin400.woff2"
    assert (out / logical).read_bytes() == edited
    # The name did not change with the bytes: browsers may keep the old ones. Say so.
    assert any(logical in w and "bytes changed" in w for w in report.warnings), report.warnings
    reply = fetch(live_servers, framework_apps, adapter, out, manifest.url(logical))
    assert hashlib.sha256(reply.content).hexdigest() == asset.sha256
    assert "immutable" in reply.headers["cache-control"]


def same_size_variants(data: bytes) -> bytes:
    """Other bytes of the same size whose br and gzip variants have the sizes of ``data``'s."""
    sizes = (len(brotli.compress(data, quality=11)), len(gzip.compress(data, 9, mtime=0)))
    rng = random.Random(7)
    for _ in range(500):
        i = rng.randrange(len(data) - 2)
        candidate = data[:i] + data[i + 1 : i + 2] + data[i : i + 1] + data[i + 2 :]
        packed = (len(brotli.compress(candidate, quality=11)), len(gzip.compress(candidate, 9, mtime=0)))  # fmt: skip
        if candidate != data and packed == sizes:
            return candidate
    raise AssertionError("no candidate found")


def test_variants_of_other_bytes_with_the_same_sizes_are_replaced(
    project: Project, tmp_path: Path
) -> None:
    logical = "assets/index-B7x9Qz1k.js"
    script = "".join(f"console.log({i * 7919 % 1000});\n" for i in range(300)).encode()
    project({logical: script}, fingerprinted=(VITE,))
    edited = same_size_variants(script)
    write_tree(tmp_path / "assets", {logical: edited})
    project(fingerprinted=(VITE,))
    manifest = check_live_build(tmp_path / "out")  # each variant decompresses to its file
    assert set(manifest.assets[logical].encodings) == {"br", "gzip"}


def test_old_manifests_keep_immutable_only_for_names_that_carry_their_own_hash() -> None:
    def asset(path: str, **extra: Any) -> Asset:
        return Asset(path, path, len(CONTENT), SHA, "sha384-x", **extra)

    assert asset(f"app.{SHA[:12]}.css").hashed
    assert not asset("assets/index-B7x9Qz1k.js").hashed  # written before the flag existed
    assert asset("assets/index-B7x9Qz1k.js", fingerprinted=True).hashed
    flagged = Manifest({"a-B7x9Qz1k.js": asset("a-B7x9Qz1k.js", fingerprinted=True)})
    again = Manifest.loads(flagged.dumps())
    assert again.assets["a-B7x9Qz1k.js"].fingerprinted
    assert '"fingerprinted"' not in Manifest({"x.css": asset("x.css")}).dumps()
