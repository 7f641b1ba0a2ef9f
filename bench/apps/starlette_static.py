"""Starlette's ``StaticFiles`` mounted under the prefix; everything else goes to the wrapped app."""

from starlette.routing import Mount, Router
from starlette.staticfiles import StaticFiles

from apps.common import inner_asgi, prefix, root

app = Router(routes=[Mount(prefix(), app=StaticFiles(directory=root()))], default=inner_asgi)
