"""A file of the build cut on disk while a server sends it: never a response shorter than its
Content-Length on a connection the server keeps.

gunicorn (gthread) keeps a connection after a whole file sent with ``sendfile`` for as many
bytes as the file had; a client that asked for two files on it read the second response as the
missing end of the first: the head and body of another file, kept as a year-immutable asset.
The middleware looks at the file's size when it opens it and answers 404 when it is not the
size the build recorded.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import quote

import pytest

from staticserve.manifest import Manifest

from .conftest import Server, make_site, parse_reply


def pipelined(port: int, targets: list[bytes], timeout: float = 3.0) -> bytes:
    """Send every request at once on one keep-alive connection; what came back before the
    server closed it or fell silent."""
    requests = b"".join(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % t for t in targets)
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as client:
        client.sendall(requests)
        try:
            while data := client.recv(262144):
                received += data
        except (TimeoutError, ConnectionResetError):
            pass
    return bytes(received)


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_a_file_cut_on_disk_never_leaves_a_kept_connection_short(
    tmp_path: Path, start_server: object, kind: str
) -> None:
    site = make_site(tmp_path / "project")
    manifest = Manifest.load(site.out)
    clip, robots = manifest.assets["media/clip.mp4"], manifest.assets["robots.txt"]
    server: Server = start_server(kind, site, memory_total="1")  # type: ignore[operator]
    clip_url = b"/static/" + quote(clip.path).encode()
    robots_url = b"/static/" + quote(robots.path).encode()
    first = parse_reply(pipelined(server.port, [clip_url]))
    assert first.status == 200  # served from disk: no copy of it is kept (memory_total)
    with open(site.out / clip.path, "r+b") as file:
        file.truncate(clip.size - 1000)
    received = pipelined(server.port, [clip_url, robots_url])
    head = parse_reply(received, head_only=True)
    assert head.status == 404, (head.status, head.header(b"content-length"))
    end = received.index(b"\r\n\r\n") + 4 + int(head.header(b"content-length") or b"0")
    assert parse_reply(received[:end]).framing_ok
    second = parse_reply(received[end:])  # the next response, whole and in its place
    assert second.status == 200
    assert second.body == (site.out / robots.path).read_bytes()
    assert "cannot open" in server.log_text()
