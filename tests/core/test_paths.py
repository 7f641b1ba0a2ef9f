"""Request paths: equivalent spellings find their entry, hostile ones find nothing."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staticserve.core.paths import MAX_PATH, canonical_path, path_below, raw_below

CANONICAL = [
    ("an ordinary path stays as it is", b"/static/css/app.css", b"/static/css/app.css"),
    ("an escaped tilde is unescaped", b"/static/%7Euser.css", b"/static/~user.css"),
    ("lower-case escapes become upper-case", b"/static/a%c3%a9.css", b"/static/a%C3%A9.css"),
    ("parentheses get escaped", b"/static/a(1).css", b"/static/a%281%29.css"),
    ("an escaped dot is unescaped", b"/static/app%2Ecss", b"/static/app.css"),
    ("a space stays escaped", b"/static/my%20logo.svg", b"/static/my%20logo.svg"),
    ("a directory keeps its slash", b"/static/docs/", b"/static/docs/"),
    ("a path at the length limit", b"/" + b"a" * (MAX_PATH - 1), b"/" + b"a" * (MAX_PATH - 1)),
]


@pytest.mark.parametrize(
    ("raw", "expected"), [c[1:] for c in CANONICAL], ids=[c[0] for c in CANONICAL]
)
def test_equivalent_spellings_are_canonicalised(raw: bytes, expected: bytes) -> None:
    assert canonical_path(raw) == expected


HOSTILE = [
    ("dot-dot segment", b"/static/../secret"),
    ("encoded dot-dot", b"/static/%2e%2e/secret"),
    ("upper-case encoded dot-dot", b"/static/%2E%2E/secret"),
    ("half-encoded dot-dot", b"/static/.%2e/secret"),
    ("dot segment", b"/static/./app.css"),
    ("encoded slash", b"/static/css%2fapp.css"),
    ("upper-case encoded slash", b"/static/css%2Fapp.css"),
    ("encoded backslash", b"/static/..%5csecret"),
    ("raw backslash", b"/static/..\\secret"),
    ("raw backslash inside a name", b"/static/a\\b.css"),
    ("a dot directory first", b"/.git/config"),
    ("an empty first segment", b"//static/app.css"),
    ("a dotfile three folders down", b"/static/css/.env"),
    ("encoded NUL", b"/static/app.css%00.png"),
    ("raw NUL", b"/static/app.css\x00.png"),
    ("double slash", b"/static//etc/passwd"),
    ("dotfile", b"/static/.env"),
    ("dot directory", b"/static/.git/config"),
    ("overlong UTF-8 dot", b"/static/%c0%ae%c0%ae/secret"),
    ("overlong UTF-8 slash", b"/static/..%c0%afsecret"),
    ("invalid UTF-8", b"/static/%ff.css"),
    ("encoded surrogate", b"/static/%ed%a0%80.css"),
    ("control character", b"/static/a%0d%0aSet-Cookie:x"),
    ("relative path", b"static/app.css"),
    ("absolute URL", b"http://evil.example/static/app.css"),
    ("huge path", b"/static/" + b"a" * MAX_PATH),
    ("empty", b""),
]


@pytest.mark.parametrize("raw", [c[1] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_paths_have_no_canonical_form(raw: bytes) -> None:
    assert canonical_path(raw) is None


def test_double_encoding_is_decoded_once_only() -> None:
    # "%252e%252e" is the literal name "%2e%2e", which no manifest entry is called.
    assert canonical_path(b"/static/%252e%252e/x") == b"/static/%252e%252e/x"


@given(st.binary(max_size=200))
def test_canonical_paths_never_contain_traversal(raw: bytes) -> None:
    canonical = canonical_path(b"/static/" + raw)
    if canonical is None:
        return
    decoded = unquote(canonical.decode("ascii"))
    segments = decoded.split("/")[1:]
    assert not any(s in ("", ".", "..") or s.startswith(".") for s in segments[:-1])
    assert "\\" not in decoded
    assert "\x00" not in decoded
    assert canonical_path(canonical) == canonical  # idempotent


@given(st.lists(st.sampled_from(["..", ".", "%2e%2e", "%2f", "%5c", "", "a", "%00", "%c0%ae"])))
def test_generated_traversal_attempts_never_canonicalise_to_a_climb(parts: list[str]) -> None:
    canonical = canonical_path(("/static/" + "/".join(parts) + "/secret").encode())
    assert canonical is None or b".." not in canonical


# -- mount points ------------------------------------------------------------------------------

PATH_BELOW = [
    ("the mount point comes off", "/app", "/app/static/a.css", "/static/a.css"),
    ("a trailing slash on the mount point", "/app/", "/app/static/a.css", "/static/a.css"),
    ("a path without it stays whole", "/app", "/static/a.css", "/static/a.css"),
    ("a longer segment is not the mount point", "/app", "/application/a.css", "/application/a.css"),
    ("the mount point itself stays whole", "/app", "/app", "/app"),
]


@pytest.mark.parametrize(
    ("mount_point", "path", "expected"),
    [c[1:] for c in PATH_BELOW],
    ids=[c[0] for c in PATH_BELOW],
)
def test_the_path_below_a_mount_point(mount_point: str, path: str, expected: str) -> None:
    assert path_below(mount_point, path) == expected


RAW_BELOW = [
    ("an encoded slash is kept", b"/app/static/css%2fa.css", b"/app", b"/static/css%2fa.css"),
    ("a dot segment is kept", b"/app/static/../a.css", b"/app", b"/static/../a.css"),
    ("a mount point that needs quoting", b"/my%20app/static/a.css", b"/my app", b"/static/a.css"),
    ("a mount point spelled another way", b"/%61pp/static/a.css", b"/app", None),
    ("a target without it", b"/static/a.css", b"/app", None),
    ("a longer segment", b"/application/a.css", b"/app", None),
]


@pytest.mark.parametrize(
    ("raw", "mount_point", "expected"), [c[1:] for c in RAW_BELOW], ids=[c[0] for c in RAW_BELOW]
)
def test_the_raw_target_below_a_mount_point(
    raw: bytes, mount_point: bytes, expected: bytes | None
) -> None:
    assert raw_below(raw, mount_point) == expected
