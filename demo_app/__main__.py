"""``python -m demo_app [--host H] [--port P] [--wsgi] [--dev]``: build the assets if needed, then serve."""

from __future__ import annotations

import argparse
import os
import sys

from staticserve.errors import StaticServeError

from .settings import CONFIG_ENV, build_assets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo_app", description=__doc__)
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    parser.add_argument(
        "--wsgi",
        action="store_true",
        help="serve the Flask (WSGI) twin instead of the Starlette app",
    )
    parser.add_argument(
        "--dev",
        action="store_true",
        help="development mode: serve the source folders as they are (edit, reload, see it)",
    )
    parser.add_argument(
        "--config",
        help=f"the build configuration (default: ${CONFIG_ENV}, else demo_app/staticserve.toml)",
    )
    args = parser.parse_args(argv)
    if args.config:  # the apps read it when they are created, in this process
        os.environ[CONFIG_ENV] = os.path.abspath(args.config)
    try:
        report = build_assets()
    except StaticServeError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    state = "built" if report.changed else "up to date"
    print(f"assets {state}: {report.files} files in {report.output}")
    url = f"http://{args.host}:{args.port}"
    if args.wsgi:
        return serve_wsgi(args.host, args.port, url, dev=args.dev)
    return serve_asgi(args.host, args.port, url, dev=args.dev)


def serve_asgi(host: str, port: int, url: str, *, dev: bool) -> int:
    import uvicorn

    from .app import create_app

    mode = " in development mode" if dev else ""
    print(f"serving the Starlette demo{mode} on {url}  (Ctrl+C to stop)", flush=True)
    uvicorn.run(create_app(dev=dev), host=host, port=port, log_level="warning")
    return 0


def serve_wsgi(host: str, port: int, url: str, *, dev: bool) -> int:
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from .wsgi import create_app

    class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = make_server(host, port, create_app(dev=dev), ThreadingWSGIServer, QuietHandler)
    mode = " in development mode" if dev else ""
    print(f"serving the Flask (WSGI) demo{mode} on {url}  (Ctrl+C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
