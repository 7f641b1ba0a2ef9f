"""Where the hash goes in a percent-encoded path: after decoding, it names the hashed file; every
character the hash does not touch keeps its spelling."""

from __future__ import annotations

import posixpath
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staticserve.pipeline.fingerprint import hashed_name
from staticserve.pipeline.scan import rewrite, with_hash

H = "3f2a9c1d7e4b"

WITH_HASH = [
    ("a plain name", "../img/logo.png", f"../img/logo.{H}.png"),
    ("an encoded dot before the suffix", "../img/logo%2Epng", f"../img/logo.{H}%2Epng"),
    ("a lower-case encoded dot", "logo%2epng", f"logo.{H}%2epng"),
    ("an encoded space", "my%20file.png", f"my%20file.{H}.png"),
    ("encoded UTF-8", "%C3%A9t%C3%A9.css", f"%C3%A9t%C3%A9.{H}.css"),
    ("raw unicode", "été.css", f"été.{H}.css"),
    ("an encoded percent sign", "100%25.png", f"100%25.{H}.png"),
    ("a percent sign that starts no escape", "100%.png", f"100%.{H}.png"),
    ("an encoded slash separates the directory", "dir%2Flogo.png", f"dir%2Flogo.{H}.png"),
    ("a dot only in the directory", "v1.2/LICENSE", f"v1.2/LICENSE.{H}"),
    ("no suffix", "LICENSE", f"LICENSE.{H}"),
    ("a name that is only a suffix", ".htaccess", f".htaccess.{H}"),
    ("an encoded leading dot", "%2Ehtaccess", f"%2Ehtaccess.{H}"),
    ("only the last suffix counts", "a.tar%2Egz", f"a.tar.{H}%2Egz"),
    ("an encoded ?, # and quote", "a%3Fb%23c%22.png", f"a%3Fb%23c%22.{H}.png"),
    ("a name that climbs back", "logo.png/x/..", f"logo.{H}.png"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("written", "expected"), [c[1:] for c in WITH_HASH], ids=[c[0] for c in WITH_HASH]
)
def test_with_hash_names_the_hashed_file_in_the_written_spelling(
    written: str, expected: str
) -> None:
    assert with_hash(written, H) == expected


@given(
    name=st.text(st.characters(exclude_categories=["Cs"], exclude_characters="/\x00"), min_size=1)
)
def test_with_hash_decodes_to_the_hashed_name(name: str) -> None:
    if name in (".", ".."):
        return
    written = "".join(
        f"%{byte:02X}" for byte in name.encode()
    )  # every character encoded: the most foreign spelling
    assert unquote(with_hash(written, H)) == hashed_name(name, H + "0" * 52)
    assert unquote(with_hash(name.replace("%", "%25"), H)) == hashed_name(name, H + "0" * 52)


KEPT_SPELLINGS = [
    ("css", 'a{b:url("\\6c ogo%2Epng")}', f'a{{b:url("\\6c ogo.{H}%2Epng")}}'),
    ("css", "a{b:url(../img/my\\ logo%2Epng?v=1)}", f"a{{b:url(../img/my\\ logo.{H}%2Epng?v=1)}}"),
    ("js", "import './\\u0061%2Ejs'", f"import './\\u0061.{H}%2Ejs'"),
    ("js", "/*# sourceMappingURL=app%2Ejs.map */", f"/*# sourceMappingURL=app%2Ejs.{H}.map */"),
]  # fmt: skip


@pytest.mark.parametrize(("syntax", "text", "expected"), KEPT_SPELLINGS)
def test_inserting_a_hash_keeps_every_other_character_as_written(
    syntax: str, text: str, expected: str
) -> None:
    output = rewrite(text, syntax, lambda ref: with_hash(ref.path, H))  # type: ignore[arg-type]
    assert output == expected


def resolve(referrer: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(referrer), unquote(path)))
