"""Run in a fresh process: construct one middleware over a built folder, print time and RSS as JSON.

Usage: python startup_probe.py KIND ROOT   (KIND is one of PROBES, or "empty")
"""

from __future__ import annotations

import gc
import importlib
import json
import sys
import time
from collections.abc import Callable
from typing import Any


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def _empty_asgi(scope: Any, receive: Any, send: Any) -> None:
    return None


def _empty_wsgi(environ: Any, start_response: Any) -> list[bytes]:
    return []


def _staticserve_asgi(root: str) -> Any:
    from staticserve import StaticServe

    return StaticServe(_empty_asgi, root=root, prefix="/static")


def _staticserve_wsgi(root: str) -> Any:
    from staticserve import StaticServeWSGI

    return StaticServeWSGI(_empty_wsgi, root=root, prefix="/static")


def _servestatic_asgi(root: str) -> Any:
    module = importlib.import_module("servestatic")
    return module.ServeStaticASGI(_empty_asgi, root=root, prefix="static")


def _whitenoise(root: str) -> Any:
    return importlib.import_module("whitenoise").WhiteNoise(_empty_wsgi, root=root, prefix="static")


def _blacknoise(root: str) -> Any:
    app = importlib.import_module("blacknoise").BlackNoise(_empty_asgi)
    app.add(root, "/static")
    return app


# kind -> (modules imported before the clock starts on construction, constructor)
PROBES: dict[str, tuple[tuple[str, ...], Callable[[str], Any]]] = {
    "staticserve-asgi": (("staticserve",), _staticserve_asgi),
    "staticserve-wsgi": (("staticserve",), _staticserve_wsgi),
    "servestatic-asgi": (("servestatic",), _servestatic_asgi),
    "whitenoise": (("whitenoise",), _whitenoise),
    "blacknoise": (("blacknoise",), _blacknoise),
}


def main(kind: str, root: str) -> dict[str, Any]:
    gc.collect()
    rss_empty = _rss_kib()
    if kind == "empty":
        return {"rss_kib": rss_empty}
    modules, construct = PROBES[kind]
    start = time.perf_counter()
    for name in modules:
        importlib.import_module(name)
    imported = time.perf_counter()
    gc.collect()
    rss_imported = _rss_kib()
    start_construct = time.perf_counter()
    app = construct(root)
    constructed = time.perf_counter()
    gc.collect()
    rss_after = _rss_kib()
    assert app is not None
    return {
        "import_s": imported - start,
        "construct_s": constructed - start_construct,
        "rss_empty_kib": rss_empty,
        "rss_imported_kib": rss_imported,
        "rss_kib": rss_after,
    }


if __name__ == "__main__":
    try:
        print(json.dumps(main(sys.argv[1], sys.argv[2])))
    except Exception as error:  # reported, not raised: the harness shows it as unavailable
        message = str(error).split(" (/", 1)[0]  # drop the file path of the module
        print(json.dumps({"error": f"{type(error).__name__}: {message}"}))
