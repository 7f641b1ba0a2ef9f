"""The package's names: every one of ``__all__`` is there (the lazily imported ones included, for
``dir()`` and completion too), and the ``staticserve`` command's build imports none of the
serving code it does not run."""

from __future__ import annotations

import subprocess
import sys

import staticserve


def test_every_exported_name_is_listed_and_importable() -> None:
    listed = dir(staticserve)
    for name in staticserve.__all__:
        assert name in listed, name
        assert getattr(staticserve, name) is not None, name
    from staticserve import nginx_conf
    from staticserve.nginx import nginx_conf as defined

    assert nginx_conf is defined


def test_the_build_command_does_not_import_the_serving_code() -> None:
    """A deploy script runs ``staticserve build`` on every deploy (a no-op, most often): it pays
    for the serving core, asyncio and the nginx renderer only when it uses them."""
    code = (
        "import sys, staticserve.cli; "
        "print(sorted(m for m in sys.modules if m.startswith(('staticserve.core', "
        "'staticserve.nginx', 'staticserve.asgi', 'staticserve.wsgi', 'asyncio'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stdout
