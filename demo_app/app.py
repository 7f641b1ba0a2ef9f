"""The ASGI demo: Starlette + Jinja2 templates, wrapped by staticserve's middleware."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from staticserve import Manifest, StaticServe
from staticserve.integrations.jinja2 import install

from .settings import TEMPLATES, build_config, config_file


def create_app(*, dev: bool = False) -> StaticServe:
    """The demo; ``dev=True`` serves the sources as they are (development mode)."""
    root = build_config().output_dir
    templates = Jinja2Templates(directory=TEMPLATES)

    async def index(request: Request) -> Response:
        return templates.TemplateResponse(request, "index.html")

    async def gallery(request: Request) -> Response:
        size = Manifest.load(root).assets["img/horizon.png"].size
        return templates.TemplateResponse(request, "gallery.html", {"size": size})

    async def assets(request: Request) -> Response:
        return templates.TemplateResponse(request, "assets.html", {"manifest": Manifest.load(root)})

    async def status(request: Request) -> Response:
        manifest = Manifest.load(root)
        return JSONResponse({"assets": len(manifest.assets), "generation": manifest.generation})

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/gallery", gallery),
            Route("/assets", assets),
            Route("/api/status", status),
        ]
    )
    static = StaticServe(app, root=root, prefix="/static", dev=dev, config=config_file())
    install(templates.env, static)
    return static
