"""A reverse proxy on 127.0.0.1 that forwards HTTP/1.1 to an object store and records every
request (method and target), so that tests count what a publish asked of the store.

It parses just enough HTTP/1.1 to find where each message ends (Content-Length or chunked),
forwards the bytes unchanged (the Host field too, so S3 signatures still verify), and keeps
one upstream connection per client connection.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

__all__ = ["CountingProxy", "Request"]


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # percent-decoded, without the query
    query: str
    status: int | None = None  # None: the exchange broke off before the store answered


@dataclass
class CountingProxy:
    upstream_port: int
    port: int = 0
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            server = self._loop.run_until_complete(
                asyncio.start_server(self._client, "127.0.0.1", 0)
            )
            self.port = server.sockets[0].getsockname()[1]
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="counting-proxy", daemon=True)
        self._thread.start()
        started.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()

    def taken(self) -> list[Request]:
        """The requests recorded since the last reset (and reset)."""
        with self._lock:
            taken = list(self.requests)
            self.requests.clear()
        return taken

    @staticmethod
    def methods(requests: list[Request]) -> Counter[str]:
        return Counter(r.method for r in requests)

    def close(self) -> None:
        async def shut() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(shut(), self._loop)
        self._thread.join(5)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
                parts = urlsplit(target)
                request = Request(method, unquote(parts.path), parts.query)
                try:
                    up_writer.write(head)
                    await _relay_body(reader, up_writer, head, has_body=True)
                    await up_writer.drain()
                    response = await up_reader.readuntil(b"\r\n\r\n")
                except BaseException:
                    with self._lock:
                        self.requests.append(request)
                    raise
                status = int(response.split(b" ", 2)[1])
                with self._lock:
                    self.requests.append(Request(method, request.path, request.query, status))
                writer.write(response)
                bodiless = method == "HEAD" or status in (204, 304) or status < 200
                await _relay_body(up_reader, writer, response, has_body=not bodiless)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            up_writer.close()
            writer.close()


def _fields(head: bytes) -> dict[str, str]:
    found = {}
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            found[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return found


async def _relay_body(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, head: bytes, *, has_body: bool
) -> None:
    if not has_body:
        return
    fields = _fields(head)
    if "chunked" in fields.get("transfer-encoding", "").lower():
        while True:
            size_line = await source.readuntil(b"\r\n")
            sink.write(size_line)
            size = int(size_line.split(b";")[0], 16)
            sink.write(await source.readexactly(size + 2))
            if size == 0:
                return
    length = int(fields.get("content-length", "0"))
    while length:
        chunk = await source.read(min(length, 1 << 16))
        if not chunk:
            raise asyncio.IncompleteReadError(b"", length)
        sink.write(chunk)
        length -= len(chunk)
