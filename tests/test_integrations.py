from __future__ import annotations

import jinja2

from staticserve.integrations.jinja2 import install
from staticserve.manifest import Asset, Manifest


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
