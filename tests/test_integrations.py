from __future__ import annotations

import jinja2

from staticserve import StaticServeWSGI
from staticserve.integrations.jinja2 import install
from staticserve.manifest import Asset, Manifest

from .conftest import Build


def test_templates_get_hashed_urls_and_integrity_values() -> None:
    manifest = Manifest(
        assets={
            "css/app.css": Asset("css/app.css", "css/app.0123456789ab.css", 1, "x", "sha384-abc")
        }
    )
    env = jinja2.Environment(autoescape=True)
    install(env, manifest)
    html = env.from_string(
        '<link rel="stylesheet" href="{{ static_url(\'css/app.css\') }}" integrity="{{ integrity(\'css/app.css\') }}">'
    ).render()
    assert (
        html
        == '<link rel="stylesheet" href="/static/css/app.0123456789ab.css" integrity="sha384-abc">'
    )


def test_template_references_keep_their_query_and_fragment(static_build: Build) -> None:
    # As Django's {% static "icons.svg#home" %}: the hashed name, the suffix kept.
    env = jinja2.Environment(autoescape=True)
    install(env, StaticServeWSGI(object(), static_build.root))  # type: ignore[arg-type]
    html = env.from_string(
        "<use href=\"{{ static_url('img/my logo.svg#home') }}\">"
        "<link href=\"{{ static_url('css/app.css?v=1') }}\""
        " integrity=\"{{ integrity('css/app.css?v=1') }}\">"
    ).render()
    assert html == (
        f'<use href="{static_build.hashed("img/my logo.svg")}#home">'
        f'<link href="{static_build.hashed("css/app.css")}?v=1"'
        f' integrity="{static_build.asset("css/app.css").integrity}">'
    )


def test_a_manifest_keeps_the_query_and_fragment_too() -> None:
    manifest = Manifest(
        assets={
            "css/app.css": Asset("css/app.css", "css/app.0123456789ab.css", 1, "x", "sha384-abc")
        }
    )
    assert manifest.static_url("css/app.css?v=1") == "/static/css/app.0123456789ab.css?v=1"
    assert manifest.integrity("/css/app.css#x") == "sha384-abc"
