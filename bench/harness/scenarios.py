"""What is asked of every contender, and how one answer is checked before it is timed."""

from __future__ import annotations

import http.client
from dataclasses import dataclass, field

from harness.contenders import Contender
from harness.corpus import ServedFile
from harness.procs import HOST

PING_PATH = "/api/ping"
PING_BODY = b'{"ok":true}'
CEILING_SIZE = 2048
SHOWN_HEADERS = ("cache-control", "expires", "etag", "last-modified", "vary", "content-type")


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    title: str
    logical: str | None = None  # the served file; None for the fall-through request
    accept_encoding: str | None = None
    conditional: bool = False
    # The bare apps answer this scenario's URL with the file's own bytes from memory, not with
    # their constant 2 KB body: the ceiling for sending that many bytes on that server.
    from_memory: bool = False

    @property
    def fallthrough(self) -> bool:
        return self.logical is None

    def accepted(self) -> set[str]:
        codings = {"identity"}
        if self.accept_encoding:
            codings |= {c.split(";")[0].strip() for c in self.accept_encoding.split(",")}
        return codings


SCENARIOS = (
    Scenario("small", "small hashed CSS (~1 KB), no Accept-Encoding", "css/small.css"),
    Scenario(
        "medium",
        "medium JS (~30 KB), Accept-Encoding: gzip, deflate, br",
        "js/medium.js",
        "gzip, deflate, br",
    ),
    Scenario("large-br", "100 KB JS, Accept-Encoding: br", "js/large.js", "br"),
    Scenario(
        "304",
        "If-None-Match with the contender's own ETag -> 304",
        "css/small.css",
        conditional=True,
    ),
    Scenario("500k", "500 KB file, no Accept-Encoding", "img/hero.webp", from_memory=True),
    Scenario("fallthrough", "GET /api/ping falls through to the wrapped app", None),
)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def encoding(self) -> str:
        return self.headers.get("content-encoding", "identity").strip().lower() or "identity"


def memory_file(served: dict[str, ServedFile]) -> ServedFile:
    """The file the bare apps send from memory (the one scenario marked ``from_memory``)."""
    (logical,) = [s.logical for s in SCENARIOS if s.from_memory and s.logical]
    return served[logical]


def fetch(port: int, path: str, headers: dict[str, str]) -> Answer:
    """One GET on a fresh connection; the body exactly as sent (never decoded)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        connection.close()


@dataclass(slots=True)
class Check:
    """The result of the one request made before timing: what to send wrk, and what came back."""

    path: str
    request_headers: dict[str, str]
    status: int = 0
    encoding: str = ""
    body_bytes: int = 0
    sent: dict[str, str] = field(default_factory=dict)
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _request_headers(scenario: Scenario) -> dict[str, str]:
    return {"Accept-Encoding": scenario.accept_encoding} if scenario.accept_encoding else {}


def _expected_body(
    contender: Contender, scenario: Scenario, file: ServedFile | None, answer: Answer
) -> str | None:
    """None when the body is right for what the headers say, else what is wrong."""
    if scenario.fallthrough:
        return None if answer.body == PING_BODY else f"body {answer.body[:40]!r} is not the app's"
    assert file is not None
    if contender.constant_body:
        size = file.size if scenario.from_memory else CEILING_SIZE
        return None if len(answer.body) == size else f"body of {len(answer.body)} B"
    if answer.encoding not in scenario.accepted():
        return f"Content-Encoding {answer.encoding} was not accepted"
    expected = file.expected_size(answer.encoding)
    if expected is None:
        return f"Content-Encoding {answer.encoding}, but the build has no such variant"
    if len(answer.body) != expected:
        return f"{answer.encoding} body of {len(answer.body)} B, expected {expected} B"
    return None


def check(
    contender: Contender, scenario: Scenario, served: dict[str, ServedFile], port: int
) -> Check:
    """Ask once, check status and body length; for the 304 scenario, fetch the ETag first."""
    file = served[scenario.logical] if scenario.logical else None
    path = file.url_path if file else PING_PATH
    result = Check(path=path, request_headers=_request_headers(scenario))
    try:
        expect_status = 200
        if scenario.conditional and not contender.constant_body:
            first = fetch(port, path, {})
            etag = first.headers.get("etag")
            if etag is None:
                result.problem = f"no ETag in the first response (status {first.status})"
                return result
            result.request_headers = {"If-None-Match": etag}
            expect_status = 304
        answer = fetch(port, path, result.request_headers)
    except (OSError, http.client.HTTPException) as error:
        result.problem = f"request failed: {error!r}"
        return result
    result.status, result.encoding, result.body_bytes = (
        answer.status,
        answer.encoding,
        len(answer.body),
    )
    result.sent = {name: answer.headers[name] for name in SHOWN_HEADERS if name in answer.headers}
    if answer.status != expect_status:
        result.problem = f"status {answer.status}, expected {expect_status}"
    elif expect_status == 304:
        result.problem = f"304 with a body of {len(answer.body)} B" if answer.body else None
    else:
        result.problem = _expected_body(contender, scenario, file, answer)
    return result
