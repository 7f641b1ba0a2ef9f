"""staticserve's WSGI middleware around the wrapped app."""

from apps.common import inner_wsgi, prefix, root
from staticserve import StaticServeWSGI

app = StaticServeWSGI(inner_wsgi, root=root(), prefix=prefix())
