"""Hostile request targets never reveal a byte outside the served set and never cause a 5xx.

Each target is sent byte for byte over a socket to uvicorn (ASGI), gunicorn (WSGI, which hands
the app the raw target) and wsgiref (WSGI, which hands it only the decoded path), all serving
one site with canary files planted above, next to and inside the output and the source (see
:class:`Site`). Every reply is checked the same way:

- not a 5xx, and well framed;
- no canary token, and not the manifest, in the body (decoded when it is compressed);
- a 200 carries exactly the bytes of a file of the served set: the manifest's files in
  production, the source's published files in development mode.

``assets/linked.txt`` is a symlink to a canary outside the source: the build skips symlinks
that leave their source folder, and development mode confines resolved paths to the sources, so
its target is never served in either mode.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..conftest import examples
from .conftest import (
    APP_404,
    MODES,
    SERVERS,
    NoResponse,
    RawReply,
    Server,
    Site,
    make_site,
    raw_request,
    record,
    served_hashes,
)


@dataclass
class Fleet:
    """One site, its servers, and what a reply may and may not contain."""

    site: Site
    mode: str
    servers: list[Server]
    allowed: set[str]  # sha256 of every body a 200 may carry
    forbidden: list[bytes]  # canary tokens and the manifest's own bytes

    def check(self, server: Server, target: bytes, accept: bytes | None = None) -> RawReply:
        headers = [(b"accept-encoding", accept)] if accept is not None else []
        where = f"{server.kind}/{self.mode} {target[:120]!r}"
        try:
            reply = raw_request(server.port, target, headers)
        except NoResponse as exc:  # a server may refuse a request it cannot parse; never hang
            raise AssertionError(f"{where}: no HTTP response: {exc}") from None
        assert reply.status < 500, f"{where}: {reply.status} {reply.body[:200]!r}"
        assert reply.framing_ok, f"{where}: body length disagrees with the framing"
        body = reply.decoded() if reply.status == 200 else reply.body
        for secret in self.forbidden:
            assert secret not in body, f"{where}: served forbidden bytes {secret[:60]!r}"
        if reply.status == 200:
            digest = hashlib.sha256(body).hexdigest()
            assert digest in self.allowed, f"{where}: a 200 whose body is no served file"
        if reply.status == 404 and reply.body != b"Not Found\n":
            assert reply.body == APP_404 or b"<html" in reply.body.lower(), where
        return reply


def _allowed(site: Site, mode: str) -> tuple[set[str], list[bytes]]:
    forbidden = [(site.out / "staticserve.json").read_bytes(), b'"content_hash"', *site.tokens()]
    if mode == "production":
        return served_hashes(site.out), forbidden
    allowed = {
        hashlib.sha256(path.read_bytes()).hexdigest()
        for path in site.assets.rglob("*")
        if path.is_file()
        and not path.is_symlink()
        and not any(part.startswith(".") or part.endswith("~") for part in path.parts)
    }
    return allowed, forbidden


@contextlib.contextmanager
def fleet_for(site: Site, mode: str, logs: Path) -> Iterator[Fleet]:
    servers: list[Server] = []
    try:
        for kind in SERVERS:
            servers.append(Server(kind, site, mode, logs / f"{kind}-{mode}.log"))
        allowed, forbidden = _allowed(site, mode)
        yield Fleet(site, mode, servers, allowed, forbidden)
    finally:
        for server in servers:
            server.stop()
    for server in servers:
        text = server.log_text()
        assert "Traceback" not in text, f"{server.kind} logged an exception:\n{text[-3000:]}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(tmp_path_factory.mktemp("hostile") / "project")


@pytest.fixture(scope="module", params=MODES)
def fleet(
    request: pytest.FixtureRequest, site: Site, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    with fleet_for(site, request.param, tmp_path_factory.mktemp("logs")) as running:
        yield running


# -- the curated list ---------------------------------------------------------------------------


def curated(site: Site) -> list[tuple[str, bytes]]:
    above = str(site.base.parent / "canary-above.txt").encode()
    next_to = str(site.base / "canary-next.txt").encode()
    return [
        ("dot-dot", b"/static/../canary-next.txt"),
        ("dot-dot twice", b"/static/../../canary-above.txt"),
        ("dot-dot from a subfolder to a stray output file", b"/static/css/../canary-stray.txt"),
        ("dot-dot before the prefix", b"/../canary-next.txt"),
        ("dot-dot into the outside folder", b"/static/../outside/canary-linked.txt"),
        ("many dot-dots", b"/static/" + b"../" * 40 + above.lstrip(b"/")),
        ("..%2f", b"/static/..%2fcanary-next.txt"),
        ("%2e%2e%2f", b"/static/%2e%2e%2fcanary-next.txt"),
        ("%2e%2e/", b"/static/%2e%2e/%2e%2e/canary-above.txt"),
        ("upper-case escapes", b"/static/%2E%2E%2Fcanary-next.txt"),
        ("mixed dot and escape", b"/static/.%2e/canary-next.txt"),
        ("double encoding %252e", b"/static/%252e%252e%252fcanary-next.txt"),
        ("double-encoded slash", b"/static/..%252fcanary-next.txt"),
        ("backslash", b"/static/..\\canary-next.txt"),
        ("encoded backslash", b"/static/..%5c..%5ccanary-above.txt"),
        ("NUL byte", b"/static/robots.txt%00.png"),
        ("NUL before dot-dot", b"/static/%00/../canary-next.txt"),
        ("overlong UTF-8 dots", b"/static/%c0%ae%c0%ae/canary-next.txt"),
        ("overlong UTF-8 slash", b"/static/..%c0%afcanary-next.txt"),
        ("three-byte overlong dots", b"/static/%e0%80%ae%e0%80%ae/canary-next.txt"),
        ("raw overlong bytes", b"/static/\xc0\xae\xc0\xae/canary-next.txt"),
        ("full-width solidus", b"/static/..%ef%bc%8fcanary-next.txt"),
        ("invalid UTF-8", b"/static/%ff%fe%fd"),
        ("absolute path after the prefix", b"/static/" + next_to),
        ("absolute path with an empty segment", b"/static//" + next_to.lstrip(b"/")),
        ("absolute path as the whole target", next_to),
        ("/etc/passwd", b"/static//etc/passwd"),
        ("absolute-form target", b"http://127.0.0.1/static/../canary-next.txt"),
        ("absolute-form target of a served file", b"http://127.0.0.1/static/robots.txt"),
        ("double slash", b"/static//robots.txt"),
        ("leading double slash", b"//static/robots.txt"),
        ("Windows drive", b"/static/C:/Windows/win.ini"),
        ("Windows drive, encoded", b"/static/C%3a%5cWindows%5cwin.ini"),
        ("UNC path", b"/static/\\\\server\\share\\canary-next.txt"),
        ("very long path", b"/static/" + b"a/" * 2000 + b"robots.txt"),
        ("very long segment", b"/static/" + b"x" * 20000),
        ("long path under the gunicorn limit", b"/static/" + b"b/" * 1000 + b"robots.txt"),
        ("dotfile in the source", b"/static/.canary-dotfile"),
        ("dotfile, encoded dot", b"/static/%2ecanary-dotfile"),
        ("editor backup in the source", b"/static/css/canary.css~"),
        ("editor backup, encoded tilde", b"/static/css/canary.css%7e"),
        ("the state folder's cache", b"/static/.staticserve/cache.json"),
        ("the state folder's journal", b"/static/.staticserve/journal.json"),
        ("the state folder's lock", b"/static/.staticserve/lock"),
        ("the manifest", b"/static/staticserve.json"),
        ("the manifest, encoded dot", b"/static/staticserve%2ejson"),
        ("the manifest, upper-case escapes", b"/static/%73taticserve.json"),
        ("the manifest via a dot segment", b"/static/./staticserve.json"),
        ("the manifest via dot-dot", b"/static/css/../staticserve.json"),
        ("a stray file in the output", b"/static/canary-stray.txt"),
        ("the symlink pointing outside the source", b"/static/linked.txt"),
        ("traversal through the symlink", b"/static/linked.txt/../canary-next.txt"),
        ("path parameter", b"/static/..;/canary-next.txt"),
        ("query after dot-dot", b"/static/../canary-next.txt?x=1"),
        ("fragment", b"/static/robots.txt#/../../canary-next.txt"),
        ("lone percent", b"/static/%"),
        ("bad escape", b"/static/%zz"),
        ("encoded percent", b"/static/%25"),
        ("encoded CR LF", b"/static/%0d%0aSet-Cookie:%20x=1"),
        ("trailing dot", b"/static/robots.txt."),
        ("trailing slash", b"/static/robots.txt/"),
        ("upper-case prefix", b"/STATIC/robots.txt"),
        ("asterisk", b"*"),
        ("right-to-left override", b"/static/%e2%80%aetxt.stobor"),
        ("a served file (control)", b"/static/robots.txt"),
        ("a served file, encoded (control)", b"/static/%72obots.txt"),
    ]


def test_curated_hostile_paths(fleet: Fleet) -> None:
    cases = curated(fleet.site)
    statuses: dict[str, set[int]] = {}
    for server in fleet.servers:
        for name, target in cases:
            for accept in (None, b"br, gzip"):
                reply = fleet.check(server, target, accept)
                statuses.setdefault(name, set()).add(reply.status)
    record(f"hostile paths: curated targets ({fleet.mode})", len(cases))
    record("hostile paths: curated requests", len(cases) * 2 * len(fleet.servers))
    # The controls show that the servers do serve: a check that passes on 404s alone proves nothing.
    assert statuses["a served file (control)"] == {200}
    assert statuses["a served file, encoded (control)"] == {200}
    assert statuses["the manifest"] <= {404}
    assert statuses["the symlink pointing outside the source"] <= {404}
    assert statuses["dot-dot"] <= {400, 404}


# -- generated paths ----------------------------------------------------------------------------

ATOMS = [
    b"..", b".", b"%2e", b"%2E", b"%2e%2e", b".%2e", b"%252e", b"%252e%252e", b"%2f", b"%2F",
    b"%252f", b"%5c", b"%5C", b"\\", b"%00", b"%2500", b"%c0%ae", b"%c0%af", b"%e0%80%ae",
    b"%ef%bc%8f", b"%c1%9c", b"\xc0\xae", b"C:", b"c%3a", b"%3a", b"/", b"//", b";", b"%3b",
    b"?", b"#", b"%23", b"%", b"%25", b"%zz", b"~", b"%7e", b"%20", b"+", b"%0d%0a", b"%09",
    b"staticserve.json", b"staticserve%2ejson", b".staticserve", b"journal.json", b"cache.json",
    b"lock", b"canary-next.txt", b"canary-above.txt", b"canary-stray.txt", b".canary-dotfile",
    b"canary.css~", b"outside", b"canary-linked.txt", b"linked.txt", b"assets", b"out",
    b"project", b"css", b"app.css", b"robots.txt", b"media", b"clip.mp4", b"etc", b"passwd",
    b"my%20file%20(1).txt", b"\xff", b"\xe2\x80\xae",
]  # fmt: skip
STARTS = [b"/static/", b"/static", b"/", b"//static/", b"/STATIC/", b"/static/..", b"/static/./"]


def _encode_all(data: bytes) -> bytes:
    return b"".join(b"%%%02x" % byte for byte in data)


_PRINTABLE = bytes(range(0x21, 0x7F)) + bytes(range(0x80, 0x100))
segments = st.one_of(
    st.sampled_from(ATOMS),
    st.binary(min_size=1, max_size=6).map(_encode_all),
    st.lists(st.sampled_from(_PRINTABLE), min_size=1, max_size=8).map(bytes),
    st.text(min_size=1, max_size=6).map(lambda s: _encode_all(s.encode("utf-8", "surrogatepass"))),
)
targets = st.builds(
    lambda start, parts, absolute: (
        (b"http://127.0.0.1" if absolute else b"") + start + b"".join(parts)
    ),
    st.sampled_from(STARTS),
    st.lists(segments, max_size=14),
    st.sampled_from([False, False, False, True]),
)
accepts = st.sampled_from([None, None, b"br, gzip", b"gzip", b"identity"])
EXAMPLES = {"fast": examples(150), "slow": 10_000}
generated = {"fast": 0, "slow": 0}


def _fuzz(fleet: Fleet, group: str) -> None:
    @settings(
        max_examples=EXAMPLES[group],
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(target=targets, accept=accepts)
    def run(target: bytes, accept: bytes | None) -> None:
        generated[group] += 1
        for server in fleet.servers:
            fleet.check(server, target, accept)

    before = generated[group]
    run()
    tried = generated[group] - before
    record(f"hostile paths: generated targets ({group}, {fleet.mode})", tried)
    record("hostile paths: generated requests", tried * len(fleet.servers))
    assert tried >= EXAMPLES[group]


def test_generated_hostile_paths(fleet: Fleet) -> None:
    _fuzz(fleet, "fast")


@pytest.mark.slow
def test_ten_thousand_generated_hostile_paths(fleet: Fleet) -> None:
    _fuzz(fleet, "slow")
