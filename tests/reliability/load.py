"""Load for the deploy and soak tests: threads of plain HTTP/1.1 clients, bounded in time and count.

Each client keeps a connection open (``http.client``), picks a URL from a shared pool, and
verifies every answer against the content hashes: a 200's decoded body must hash to the prefix
its ETag carries (and, on a hashed URL, to the hash in the name); a 206 must be the slice its
Content-Range names of the identity bytes with that ETag. Anything else is an error.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import random
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import brotli

DECODE: dict[str, Callable[[bytes], bytes]] = {
    "br": brotli.decompress,
    "gzip": gzip.decompress,
}
ACCEPT = [None, "br", "gzip", "br, gzip", "identity"]
_HASHED_NAME = re.compile(r"\.([0-9a-f]{12})\.[^./]+$")


@dataclass(frozen=True)
class Url:
    path: str
    hashed: bool


@dataclass
class Pool:
    """The URLs clients may ask for, and the identity bytes of every content hash seen."""

    urls: list[Url] = field(default_factory=list)
    contents: dict[str, bytes] = field(default_factory=dict)  # sha256[:16] -> identity bytes
    lock: threading.Lock = field(default_factory=threading.Lock)

    def replace(self, urls: list[Url]) -> None:
        with self.lock:
            self.urls = list(urls)

    def pick(self, rng: random.Random) -> Url:
        with self.lock:
            return rng.choice(self.urls)


PENDING = "pending"  # a range of a build whose bytes the pool has not learnt yet


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Replies to check once the pool knows their build's bytes (a client can see a new build
    # before the test has read it from disk).
    pending: list[tuple[Url, int, http.client.HTTPMessage, bytes]] = field(default_factory=list)

    def resolve(self, pool: Pool) -> None:
        for url, status, headers, body in self.pending:
            problem = verify(pool, url, status, headers, body)
            if problem:
                self.error(f"{url.path}: {problem}")
        self.pending.clear()

    def count(self, key: str) -> None:
        with self.lock:
            self.counts[key] += 1

    def error(self, message: str) -> None:
        with self.lock:
            self.counts["errors"] += 1
            if len(self.errors) < 50:
                self.errors.append(message)


def verify(
    pool: Pool, url: Url, status: int, headers: http.client.HTTPMessage, body: bytes
) -> str | None:
    """None when the reply is right, else what is wrong with it."""
    etag = headers.get("etag", "")
    match = re.fullmatch(r'"([0-9a-f]{16})(?:-(\w+))?"', etag)
    if status == 304:
        return None if match and body == b"" else f"bad 304 {etag!r}"
    if status not in (200, 206, 416):
        return f"status {status}"
    if match is None:
        return f"ETag {etag!r} is not a content tag"
    tag, coding = match.groups()
    if status in (206, 416) and tag not in pool.contents:
        return PENDING
    if status == 416:  # a range past the end of a small file
        identity = pool.contents[tag]
        if headers.get("content-range") != f"bytes */{len(identity)}":
            return f"bad 416 {etag!r} {headers.get('content-range')!r}"
        return None
    if status == 206:
        identity = pool.contents.get(tag)
        span = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", headers.get("content-range", ""))
        if identity is None or span is None:
            return f"206 with unknown tag {etag!r} or range {headers.get('content-range')!r}"
        first, last, total = (int(g) for g in span.groups())
        if total != len(identity) or body != identity[first : last + 1]:
            return "206 body is not the slice its Content-Range names"
        return None
    if (headers.get("content-encoding") or None) != coding:
        return f"Content-Encoding {headers.get('content-encoding')!r} under ETag {etag!r}"
    decoded = DECODE[coding](body) if coding else body
    digest = hashlib.sha256(decoded).hexdigest()
    if digest[:16] != tag:
        return f"body does not match its ETag {etag!r}"
    named = _HASHED_NAME.search(url.path)
    if url.hashed and (named is None or not digest.startswith(named.group(1))):
        return "body does not match the hash in its name"
    return None


def client(
    port: int,
    pool: Pool,
    tally: Tally,
    stop: threading.Event,
    deadline: float,
    limit: int,
    seed: int,
) -> None:
    """Requests on one keep-alive connection until ``stop``, the deadline or ``limit``."""
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for _ in range(limit):
            if stop.is_set() or time.monotonic() > deadline:
                return
            url = pool.pick(rng)
            headers = {}
            accept = rng.choice(ACCEPT)
            if accept:
                headers["Accept-Encoding"] = accept
            roll = rng.random()
            if roll < 0.15:
                headers["Range"] = f"bytes={rng.randrange(0, 500)}-{rng.randrange(500, 2000)}"
            try:
                connection.request("GET", url.path, headers=headers)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                tally.error(f"{url.path}: {type(exc).__name__}: {exc}")
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            tally.count("requests")
            tally.count("hashed" if url.hashed else "unhashed")
            if response.status == 404 and url.hashed:
                tally.count("hashed 404")
            problem = verify(pool, url, response.status, response.headers, body)
            if problem == PENDING:
                with tally.lock:
                    tally.pending.append((url, response.status, response.headers, body))
            elif problem:
                tally.error(f"{url.path} {headers}: {problem}")
    finally:
        connection.close()


def leaver(
    port: int,
    pool: Pool,
    tally: Tally,
    stop: threading.Event,
    deadline: float,
    limit: int,
    seed: int,
) -> None:
    """A client that goes away mid-download: reads part of a reply, then closes or resets."""
    rng = random.Random(seed)
    for _ in range(limit):
        if stop.is_set() or time.monotonic() > deadline:
            return
        url = pool.pick(rng)
        extra = b"Range: bytes=100-\r\n" if rng.random() < 0.3 else b""
        request = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % (url.path.encode(), extra)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.sendall(request)
                wanted = rng.choice([0, 1, 2000, 70_000, 300_000])
                received = b""
                while len(received) < wanted:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    received += chunk
                if wanted and not received.startswith(b"HTTP/1.1 20"):
                    tally.error(f"leaver {url.path}: {received[:60]!r}")
                if rng.random() < 0.5:  # reset, like a closed browser tab
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        except OSError as exc:
            tally.error(f"leaver {url.path}: {type(exc).__name__}: {exc}")
            continue
        tally.count("abandoned downloads")


def run_load(
    port: int,
    pool: Pool,
    *,
    clients: int,
    leavers: int = 0,
    seconds: float,
    limit: int,
    during: Callable[[], None] | None = None,
    leaver_pool: Pool | None = None,
) -> Tally:
    """Run the clients for ``seconds`` (or until ``during`` returns, when given).

    Leavers pick from ``leaver_pool`` (default: ``pool``).
    """
    leaver_pool = leaver_pool or pool
    tally = Tally()
    stop = threading.Event()
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(target=client, args=(port, pool, tally, stop, deadline, limit, i))
        for i in range(clients)
    ]
    threads += [
        threading.Thread(
            target=leaver, args=(port, leaver_pool, tally, stop, deadline, limit, 100 + i)
        )
        for i in range(leavers)
    ]
    for thread in threads:
        thread.start()
    try:
        if during is not None:
            during()
    finally:
        if during is not None:
            stop.set()
        for thread in threads:
            thread.join(seconds + 60)
    tally.resolve(pool)
    return tally
