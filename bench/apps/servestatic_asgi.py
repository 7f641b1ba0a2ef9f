"""ServeStatic's ASGI middleware, told which files are hashed so it sends immutable caching."""

from servestatic import ServeStaticASGI

from apps.common import IMMUTABLE_PATTERN, inner_asgi, prefix, root

app = ServeStaticASGI(
    inner_asgi, root=root(), prefix=prefix(), immutable_file_test=IMMUTABLE_PATTERN
)
