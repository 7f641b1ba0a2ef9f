"""Per-request cost of the serving hot path, in process: no sockets, no load generator, no noise.

    python bench/hotpath.py                  # ns per request (best of several rounds)
    python bench/hotpath.py --instructions   # instructions per request, counted by callgrind

Each scenario of the serving benchmark is driven through three stacks:

- ``asgi``: the ASGI callable awaited directly with a no-op ``send`` (our cost alone);
- ``uvicorn``: uvicorn's own httptools protocol fed raw request bytes on a fake transport
  (our cost plus the server's Python code: parsing, header validation, response framing);
- ``wsgi``: the WSGI callable with a no-op ``start_response``.

The bare app is measured the same way, so the ratios say what a middleware keeps of the
ceiling before the kernel and the network are involved. Instruction counts (valgrind's
callgrind, the difference between two request counts) do not move when the machine is busy,
unlike wall-clock figures. Needs the benchmark corpus (run ``bench/run.py`` once) and the bench
venv (uvicorn, httptools, uvloop).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
os.environ.setdefault("BENCH_ROOT", str(BENCH / ".work" / "serve-out"))
os.environ.setdefault("BENCH_PREFIX", "/static")
LARGE_FILE = "img/hero.webp"  # the 500k scenario's file, which the bare app sends from memory


def _memory_file_env() -> None:
    """Point the bare app at the 500 KB file (as the serving benchmark does)."""
    root = Path(os.environ["BENCH_ROOT"])
    manifest = root / "staticserve.json"
    if manifest.exists() and "BENCH_MEMORY_PATH" not in os.environ:
        path = json.loads(manifest.read_text())["assets"][LARGE_FILE]["path"]
        os.environ["BENCH_MEMORY_PATH"] = "/static/" + path
        os.environ["BENCH_MEMORY_FILE"] = str(root / path)


_memory_file_env()

STACKS = ("asgi", "uvicorn", "wsgi")
SCENARIOS = ("small", "large-br", "304", "500k", "fallthrough")
BARE = ("bare", "bare+headers", "bare-500k")
Case = tuple[str, str, list[tuple[bytes, bytes]]]  # (app, path, request headers)


def _cases() -> dict[str, Case]:
    from apps.common import PING_PATH
    from apps.staticserve_asgi import app

    assets = app.catalog.manifest.assets
    small = "/static/" + assets["css/small.css"].path
    large = "/static/" + assets["js/large.js"].path
    hero = "/static/" + assets[LARGE_FILE].path
    resource = app.lookup.find(small.encode())
    assert resource is not None
    etag = resource.identity.etag
    return {
        "small": ("ours", small, []),
        "large-br": ("ours", large, [(b"accept-encoding", b"br")]),
        "304": ("ours", small, [(b"if-none-match", etag)]),
        "500k": ("ours", hero, []),
        "fallthrough": ("ours", PING_PATH, []),
        "bare": ("bare", small, []),
        "bare+headers": ("headers", small, []),  # the bare app with an asset's ten fields
        "bare-500k": ("bare", hero, []),  # the same 500 KB from memory
    }


def _wire(path: str, headers: list[tuple[bytes, bytes]]) -> bytes:
    """The request as wrk sends it."""
    lines = [
        f"GET {path} HTTP/1.1".encode(),
        b"Host: 127.0.0.1:8000",
        *(n + b": " + v for n, v in headers),
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "state": {},
    }


async def _noop_send(message: Any) -> None:
    return None


def _asgi_runner(app: Any, case: Case) -> Callable[[int], float]:
    scope = _scope(case[1], case[2])

    async def loop(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            await app(scope, None, _noop_send)
        return time.perf_counter() - start

    return lambda n: asyncio.run(loop(n))


class _Transport(asyncio.Transport):
    """Swallows what the protocol writes; counts the writes (each would be a send() call)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: Any) -> None:
        if data:
            self.writes += 1

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        return None

    def resume_reading(self) -> None:
        return None

    def close(self) -> None:
        return None


def _uvicorn_runner(app: Any, case: Case) -> Callable[[int], float]:
    import uvloop
    from uvicorn.config import Config
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    wire = _wire(case[1], case[2])

    async def loop(n: int) -> float:
        config = Config(app, http="httptools", lifespan="off", access_log=False)
        state = ServerState()
        # What uvicorn's server adds to every response (refreshed once a second).
        state.default_headers = [
            (b"date", b"Tue, 24 Nov 2026 10:00:00 GMT"),
            (b"server", b"uvicorn"),
        ]
        protocol = HttpToolsProtocol(config, state, {}, _loop=asyncio.get_running_loop())
        transport = _Transport()
        protocol.connection_made(transport)
        start = time.perf_counter()
        for _ in range(n):
            protocol.data_received(wire)
            cycle = protocol.cycle
            while not cycle.response_complete:
                await asyncio.sleep(0)
            await asyncio.sleep(0)  # let the task finish and leave the server's task set
        elapsed = time.perf_counter() - start
        protocol._unset_keepalive_if_required()
        return elapsed

    return lambda n: uvloop.run(loop(n))


def _wsgi_runner(app: Any, case: Case) -> Callable[[int], float]:
    path = case[1]
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "RAW_URI": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.url_scheme": "http",
    }
    for name, value in case[2]:
        environ["HTTP_" + name.decode().upper().replace("-", "_")] = value.decode("latin-1")

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return None

    def loop(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            body: Iterable[bytes] = app(dict(environ), start_response)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()
        return time.perf_counter() - start

    return loop


def _runner(stack: str, scenario: str) -> Callable[[int], float]:
    case = _cases()[scenario]
    if stack == "wsgi":
        from apps.bare_wsgi import app as bare_wsgi
        from apps.staticserve_wsgi import app as ours_wsgi

        if case[0] == "headers":
            raise ValueError("bare+headers is an ASGI app")
        return _wsgi_runner(ours_wsgi if case[0] == "ours" else bare_wsgi, case)
    from apps.bare_asgi import app as bare_asgi
    from apps.bare_asgi_headers import app as headers_asgi
    from apps.staticserve_asgi import app as ours_asgi

    app = {"ours": ours_asgi, "bare": bare_asgi, "headers": headers_asgi}[case[0]]
    return (_asgi_runner if stack == "asgi" else _uvicorn_runner)(app, case)


def _timed(stack: str, scenario: str, n: int, rounds: int) -> float:
    run = _runner(stack, scenario)
    run(min(n, 2000))  # warm caches (plans, negotiation, dates)
    return min(run(n) for _ in range(rounds)) / n


def _instructions(stack: str, scenario: str, n: int) -> float:
    """Instructions per request: callgrind totals for 2n and n requests, differenced."""
    totals = []
    for count in (n, 2 * n):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "cg.out"
            command = [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--child",
                stack,
                scenario,
                str(count),
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            match = re.search(r"Collected : (\d+)", done.stderr)
            if match is None:
                raise RuntimeError(done.stderr[-2000:])
            totals.append(int(match.group(1)))
    return (totals[1] - totals[0]) / n


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instructions", action="store_true", help="count with callgrind")
    parser.add_argument("--stack", action="append", choices=STACKS, help="(repeatable)")
    parser.add_argument("--scenario", action="append", choices=(*SCENARIOS, *BARE))
    parser.add_argument("-n", type=int, help="requests per round")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        stack, scenario, count = args.child
        run = _runner(stack, scenario)
        run(200)
        run(int(count))
        return 0
    stacks = args.stack or list(STACKS)
    scenarios = args.scenario or [*SCENARIOS, *BARE]
    unit = "instr/req" if args.instructions else "ns/req"
    print(f"{'':12}" + "".join(f"{s:>14}" for s in stacks) + f"   ({unit})")
    for scenario in scenarios:
        cells = []
        for stack in stacks:
            if scenario == "bare+headers" and stack == "wsgi":
                cells.append(f"{'—':>14}")
                continue
            if args.instructions:
                value = _instructions(stack, scenario, args.n or 2000)
            else:
                value = _timed(stack, scenario, args.n or 20000, 5) * 1e9
            cells.append(f"{value:14,.0f}")
        print(f"{scenario:12}" + "".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
