"""Who is measured: each contender is an app module run by a server with the same flags."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.paths import BENCH_DIR, VENV_PYTHON
from harness.procs import HOST, SERVER_CPU, pinned

CEILING = "ceiling"  # bare app on the same server: the most any middleware there can reach
REFERENCE = "reference"  # nginx: the practical limit
PEER = "peer"
# A bare app sending staticserve's header fields: what the server itself charges for them.
DIAGNOSTIC = "diagnostic"
OURS = "staticserve"

SERVERS = ("uvicorn", "hypercorn", "granian", "gunicorn-sync", "gunicorn-gthread", "nginx")
GTHREAD_THREADS = 4


@dataclass(frozen=True, slots=True)
class Contender:
    name: str  # what the tables show, e.g. "ServeStatic ASGI"
    server: str  # one of SERVERS
    module: str | None  # app module under bench/apps (None for nginx)
    role: str

    @property
    def key(self) -> str:
        slug = self.name.lower().replace(" ", "-")
        return f"{slug}@{self.server}"

    @property
    def label(self) -> str:
        return f"{self.name} · {self.server}"

    @property
    def constant_body(self) -> bool:
        """A bare app: the same 2 KB body from memory for every path but the ping and the
        large file's, whose own bytes it sends from memory."""
        return self.role in (CEILING, DIAGNOSTIC)


def all_contenders() -> list[Contender]:
    """Every contender, references first on each server."""
    return [
        Contender("nginx", "nginx", None, REFERENCE),
        # nginx with the block `staticserve nginx-conf` prints: what its rules cost nginx.
        Contender("staticserve nginx-conf", "nginx", None, OURS),
        Contender("bare ASGI", "uvicorn", "apps.bare_asgi", CEILING),
        Contender("bare ASGI + asset headers", "uvicorn", "apps.bare_asgi_headers", DIAGNOSTIC),
        Contender("staticserve ASGI", "uvicorn", "apps.staticserve_asgi", OURS),
        Contender("ServeStatic ASGI", "uvicorn", "apps.servestatic_asgi", PEER),
        Contender("Starlette StaticFiles", "uvicorn", "apps.starlette_static", PEER),
        Contender("blacknoise", "uvicorn", "apps.blacknoise_asgi", PEER),
        Contender("bare ASGI", "hypercorn", "apps.bare_asgi", CEILING),
        Contender("staticserve ASGI", "hypercorn", "apps.staticserve_asgi", OURS),
        Contender("bare ASGI", "granian", "apps.bare_asgi", CEILING),
        Contender("staticserve ASGI", "granian", "apps.staticserve_asgi", OURS),
        Contender("ServeStatic ASGI", "granian", "apps.servestatic_asgi", PEER),
        Contender("bare WSGI", "gunicorn-sync", "apps.bare_wsgi", CEILING),
        Contender("staticserve WSGI", "gunicorn-sync", "apps.staticserve_wsgi", OURS),
        Contender("ServeStatic WSGI", "gunicorn-sync", "apps.servestatic_wsgi", PEER),
        Contender("WhiteNoise", "gunicorn-sync", "apps.whitenoise_wsgi", PEER),
        Contender("bare WSGI", "gunicorn-gthread", "apps.bare_wsgi", CEILING),
        Contender("staticserve WSGI", "gunicorn-gthread", "apps.staticserve_wsgi", OURS),
        Contender("ServeStatic WSGI", "gunicorn-gthread", "apps.servestatic_wsgi", PEER),
        Contender("WhiteNoise", "gunicorn-gthread", "apps.whitenoise_wsgi", PEER),
    ]


def probe_import(module: str, env: dict[str, str]) -> str | None:
    """Import ``module`` (which builds its app) in a fresh process: None, or why it failed."""
    done = subprocess.run(
        [str(VENV_PYTHON), "-c", f"import {module}"],
        cwd=BENCH_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode == 0:
        return None
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    if not lines:
        return f"exit code {done.returncode}"
    return re.sub(r" \(/[^)]*\)$", "", lines[-1].strip())  # drop the file path of the module


def server_command(contender: Contender, port: int, workdir: Path) -> list[str]:
    """The pinned command line that serves ``contender`` on ``port``; one worker, no access log."""
    if contender.server == "nginx":
        return pinned(SERVER_CPU, nginx_command(workdir))
    assert contender.module is not None
    target = f"{contender.module}:app"
    python = str(VENV_PYTHON)
    commands = {
        "uvicorn": [
            *(python, "-m", "uvicorn", target, "--host", HOST, "--port", str(port)),
            *("--workers", "1", "--http", "httptools", "--loop", "uvloop"),
            *("--no-access-log", "--log-level", "warning", "--lifespan", "off"),
        ],
        # No http.response.pathsend: large files are the middleware's to send, like uvicorn.
        "hypercorn": [
            *(python, "-m", "hypercorn", target, "--bind", f"{HOST}:{port}"),
            *("--workers", "1", "--worker-class", "uvloop", "--log-level", "warning"),
        ],
        "granian": [
            *(python, "-m", "granian", "--interface", "asgi", target),
            *("--host", HOST, "--port", str(port), "--workers", "1", "--runtime-threads", "1"),
            *("--http", "1", "--loop", "uvloop", "--no-ws", "--log-level", "warning"),
        ],
        "gunicorn-sync": [
            *(python, "-m", "gunicorn", target, "--bind", f"{HOST}:{port}"),
            *("--workers", "1", "--worker-class", "sync", "--log-level", "warning"),
        ],
        "gunicorn-gthread": [
            *(python, "-m", "gunicorn", target, "--bind", f"{HOST}:{port}"),
            *("--workers", "1", "--worker-class", "gthread", "--threads", str(GTHREAD_THREADS)),
            *("--log-level", "warning"),
        ],
    }
    return pinned(SERVER_CPU, commands[contender.server])


NGINX_BROTLI = "/usr/lib/nginx/modules/ngx_http_brotli_static_module.so"


def nginx_config(
    root: Path, port: int, workdir: Path, prefix: str = "/static", location: str | None = None
) -> str:
    """One process, no daemon, every file in ``workdir``; gzip_static and brotli_static on.

    ``location``: the block to serve ``prefix`` with (``staticserve nginx-conf``'s), instead of
    the reference's plain one, with ``open_file_cache_valid`` as short as its comments ask (1 s:
    a cached descriptor outlives an atomically replaced logical name until it is checked).
    """
    temp = workdir / "nginx-temp"
    if location is None:
        location = f"""\
location {prefix}/ {{
    alias {root}/;
    gzip_static on;
    gzip_vary on;
    brotli_static on;
    expires 1y;
    add_header Cache-Control "public, immutable";
}}
"""
        file_cache = "open_file_cache max=10000 inactive=60s;\n    open_file_cache_valid 60s;"
    else:
        file_cache = "open_file_cache max=10000 inactive=60s;\n    open_file_cache_valid 1s;"
    served = "".join(f"        {line}\n" if line else "\n" for line in location.splitlines())
    return f"""\
load_module {NGINX_BROTLI};
daemon off;
master_process off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    charset utf-8;
    charset_types text/css application/javascript application/json image/svg+xml;
    access_log off;
    sendfile on;
    tcp_nopush on;
    {file_cache}
    keepalive_requests 1000000;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    server {{
        listen {HOST}:{port};
{served}
        location = /api/ping {{
            default_type application/json;
            return 200 '{{"ok":true}}';
        }}
    }}
}}
"""


def nginx_command(workdir: Path) -> list[str]:
    return ["nginx", "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-e", "stderr"]


def write_nginx_config(root: Path, port: int, workdir: Path, *, generated: bool = False) -> None:
    """The reference's configuration, or with ``generated`` the one around the block that
    ``staticserve.nginx_conf()`` makes for ``root``."""
    location = None
    if generated:
        import staticserve  # the bench venv has this checkout installed

        location = staticserve.nginx_conf(root, "/static/")
    (workdir / "nginx-temp").mkdir(parents=True, exist_ok=True)
    (workdir / "nginx.conf").write_text(nginx_config(root, port, workdir, location=location))
