"""staticserve's ASGI middleware around the wrapped app."""

from apps.common import inner_asgi, prefix, root
from staticserve import StaticServe

app = StaticServe(inner_asgi, root=root(), prefix=prefix())
