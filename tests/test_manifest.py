from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staticserve.errors import ManifestError
from staticserve.manifest import MANIFEST_NAME, Asset, Manifest, is_relative_path


def asset(
    logical: str = "css/app.css", path: str = "css/app.0123456789ab.css", **kw: object
) -> Asset:
    fields: dict[str, object] = {
        "size": 10,
        "sha256": "0123456789ab" + "0" * 52,
        "integrity": "sha384-x",
    }
    fields.update(kw)
    return Asset(logical, path, **fields)  # type: ignore[arg-type]


def test_a_manifest_survives_a_json_round_trip() -> None:
    manifest = Manifest(
        assets={"css/app.css": asset(encodings={"br": 3, "gzip": 4}, generation=2)},
        retained={"css/app.aaaaaaaaaaa1.css": asset(path="css/app.aaaaaaaaaaa1.css", generation=1)},
        prefix="/assets/",
        generation=2,
        created="2026-11-25T10:00:00Z",
    )
    again = Manifest.loads(manifest.dumps())
    assert again == manifest
    assert again.content_hash == manifest.content_hash


def test_the_content_hash_ignores_the_creation_time() -> None:
    one = Manifest(
        assets={"a.css": asset("a.css", "a.0123456789ab.css")}, created="2026-01-01T00:00:00Z"
    )
    two = Manifest(
        assets={"a.css": asset("a.css", "a.0123456789ab.css")}, created="2027-01-01T00:00:00Z"
    )
    assert one.content_hash == two.content_hash
    assert one.dumps() != two.dumps()


def test_url_is_prefixed_and_percent_encoded() -> None:
    manifest = Manifest(
        assets={"img/my logo.png": asset("img/my logo.png", "img/my logo.0123456789ab.png")}
    )
    assert manifest.url("img/my logo.png") == "/static/img/my%20logo.0123456789ab.png"
    assert manifest.url("/img/my logo.png") == "/static/img/my%20logo.0123456789ab.png"
    assert manifest.integrity("img/my logo.png") == "sha384-x"


def test_an_unknown_logical_path_is_a_key_error_that_says_so() -> None:
    with pytest.raises(KeyError, match="is not in the manifest"):
        Manifest(assets={}).url("nope.css")


@pytest.mark.parametrize(
    "bad_path", ["../etc/passwd", "/etc/passwd", "a/../../b", "a\\b", "a\0b", "", "a//b", "./a"]
)
def test_a_manifest_naming_a_path_outside_the_root_is_rejected(bad_path: str) -> None:
    with pytest.raises(ManifestError, match="invalid path"):
        asset(path=bad_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{oops", "is not valid JSON"),
        ("[]", "is not a staticserve manifest"),
        ('{"version": 2, "assets": {}}', "manifest version 2"),
        ('{"version": 1}', "is malformed"),
        ('{"version": 1, "assets": {"a.css": {"path": 3}}}', "malformed manifest entry for 'a.css'"),
        ('{"version": 1, "assets": {"a.css": {"path": "a.css", "size": -1, "sha256": "", "integrity": ""}}}', "negative size"),
    ],
)  # fmt: skip
def test_a_broken_manifest_is_a_manifest_error_with_the_fix(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        Manifest.loads(text)


def test_load_names_the_file_and_the_fix_when_it_is_missing(tmp_path: Path) -> None:
    with pytest.raises(
        ManifestError, match=r"no manifest at .*staticserve\.json: run `staticserve build`"
    ):
        Manifest.load(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text("{")
    with pytest.raises(ManifestError, match=str(tmp_path)):
        Manifest.load(tmp_path)


OWN = "3f2a9c1d7e4b" + "5" * 52  # the sha256 of the bytes in the cases below


@pytest.mark.parametrize(
    ("name", "hashed"),
    [
        ("css/app.3f2a9c1d7e4b.css", True),  # carries the sha256 of its own bytes
        ("main.3f2a9c1d7e4b5555.js", True),
        ("css/app.0a1b2c3d4e5f.css", False),  # a hash of other bytes
        ("assets/index-B7x9Qz1k.js", False),  # a bundler's shape: only the build can say
        ("main.0a1b2c3d4e5f6a7b8c9d.js", False),
        ("fa-brands-400.woff2", False),
        ("OpenSans-SemiBold.ttf", False),
        ("jquery-3.7.1.min.js", False),
        ("report.20240101.css", False),
        ("deadbeefcafe.css", False),
        ("app.css", False),
    ],
)
def test_a_name_kept_by_an_older_build_is_immutable_only_when_it_carries_its_own_hash(
    name: str, hashed: bool
) -> None:
    assert asset(name, name, sha256=OWN).hashed is hashed
    assert asset(name, name, sha256=OWN, fingerprinted=True).hashed  # the build's word


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_.", max_size=30))
def test_plain_lowercase_words_are_never_taken_for_hashes(name: str) -> None:
    assert not asset(name + ".css", name + ".css", sha256=OWN).hashed


def test_dumps_builds_each_entry_once_and_hashes_what_it_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The content hash is of the body dumps writes (less the times): built once, not twice."""
    manifest = Manifest(
        assets={f"{i}.css": asset(f"{i}.css", f"{i}.0123456789ab.css") for i in range(3)},
        retained={"r.aaaaaaaaaaa1.css": asset("r.css", "r.aaaaaaaaaaa1.css", generation=1)},
        generation=2,
        created="2026-11-25T10:00:00Z",
        superseded={1: "2026-11-24T10:00:00Z"},
    )
    expected_hash = manifest.content_hash
    built: list[str] = []
    to_json = Asset.to_json

    def counting(self: Asset, **kw: bool) -> dict[str, object]:
        built.append(self.path)
        return to_json(self, **kw)

    monkeypatch.setattr(Asset, "to_json", counting)
    text = manifest.dumps()
    assert sorted(built) == sorted(
        a.path for a in (*manifest.assets.values(), *manifest.retained.values())
    )
    again = Manifest.loads(text)
    assert again == manifest
    assert again.content_hash == expected_hash
    assert '"content_hash": "' + expected_hash + '"' in text


def _model_is_relative_path(name: object) -> bool:
    """The plain reading of the rule: split on ``/``, look at every part."""
    if not isinstance(name, str) or not name or name.startswith("/"):
        return False
    if "\\" in name or "\0" in name:
        return False
    return not any(part in ("", ".", "..") for part in name.split("/"))


@given(
    st.one_of(
        st.text(),
        st.lists(
            st.sampled_from(["a", ".", "..", "", "/", "\\", "\0", "b.c", "..d", "e.."]), max_size=8
        ).map("/".join),
        st.lists(st.sampled_from(["a", ".", "..", "/", "//", "x.y"]), max_size=8).map("".join),
    )
)
def test_the_path_rule_agrees_with_splitting_on_slashes(name: str) -> None:
    assert is_relative_path(name) == _model_is_relative_path(name)
