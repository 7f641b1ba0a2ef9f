"""Debian's nginx in the foreground on 127.0.0.1, with a configuration and prefix folder of its own.

The server block holds the ``location`` block a test generated with ``staticserve nginx-conf``
and answers 404 anywhere else. nginx runs with ``daemon off; master_process on``, its PID file,
error log and temporary folders in the test's folder; it is stopped by its PID. Without nginx
(or its brotli_static module) the tests that need it are skipped, and fail under ``CI=true``,
where ``.ci/run`` installs both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import stop_process
from .ports import start_on_free_port, wait_listening

__all__ = ["BROTLI_MODULE", "require_nginx", "running_nginx"]

# Debian's libnginx-mod-http-brotli-static (bench/harness/contenders.py loads the same file).
BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None
    )


def require_nginx() -> str:
    """The nginx command; skip without it (fail under CI=true, which installs it)."""
    binary = nginx_binary()
    missing = []
    if binary is None:
        missing.append("nginx")
    if not BROTLI_MODULE.exists():
        missing.append("libnginx-mod-http-brotli-static")
    if missing:
        reason = (
            "not installed: "
            + ", ".join(missing)
            + " (apt-get install -y "
            + " ".join(["nginx", "libnginx-mod-http-brotli-static"])
            + ")"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    assert binary is not None
    return binary


def nginx_config(location: str, folder: Path, port: int, http: str = "") -> str:
    """A whole nginx.conf around ``location``: one worker, everything in ``folder``; ``http``:
    more directives of the http block, as a site's own nginx.conf has them."""
    # As root the workers would drop to "nobody", who may not read the test's folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    block = "".join(f"        {line}\n" if line else "\n" for line in location.splitlines())
    temp = folder / "temp"
    return f"""\
load_module {BROTLI_MODULE};
{user}daemon off;
master_process on;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    {http}
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    server {{
        listen 127.0.0.1:{port};
{block}
        location / {{ return 404; }}
    }}
}}
"""


@contextmanager
def running_nginx(
    location: str, folder: Path, http: str = ""
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """nginx serving ``location`` on a free port: (its URL, the master process)."""
    binary = require_nginx()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "temp").mkdir(exist_ok=True)
    config = folder / "nginx.conf"

    def start(port: int) -> tuple[subprocess.Popen[bytes], int]:
        config.write_text(nginx_config(location, folder, port, http), encoding="utf-8")
        command = [binary, "-p", str(folder), "-c", str(config), "-e", str(folder / "error.log")]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx refuses the configuration:\n{checked.stderr}")
        process = subprocess.Popen(command)
        try:
            wait_listening(process, port, log=folder / "error.log")
        except BaseException:
            stop_process(process)
            raise
        return process, port

    process, port = start_on_free_port(start)
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        stop_process(process)
