"""The WSGI demo: the same pages from Flask, wrapped by StaticServeWSGI, on the same build."""

from __future__ import annotations

from flask import Flask, jsonify, render_template

from staticserve import Manifest, StaticServeWSGI
from staticserve.integrations.jinja2 import install

from .settings import TEMPLATES, build_config, config_file


def create_app(*, dev: bool = False) -> StaticServeWSGI:
    """The demo; ``dev=True`` serves the sources as they are (development mode)."""
    root = build_config().output_dir
    flask_app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=None)

    @flask_app.get("/")
    def index() -> str:
        return render_template("index.html")

    @flask_app.get("/gallery")
    def gallery() -> str:
        return render_template(
            "gallery.html", size=Manifest.load(root).assets["img/horizon.png"].size
        )

    @flask_app.get("/assets")
    def assets() -> str:
        return render_template("assets.html", manifest=Manifest.load(root))

    @flask_app.get("/api/status")
    def status() -> object:
        manifest = Manifest.load(root)
        return jsonify(assets=len(manifest.assets), generation=manifest.generation)

    static = StaticServeWSGI(flask_app, root=root, prefix="/static", dev=dev, config=config_file())
    install(flask_app.jinja_env, static)
    return static
