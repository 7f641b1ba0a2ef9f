"""ServeStatic's WSGI middleware, told which files are hashed so it sends immutable caching."""

from servestatic import ServeStatic

from apps.common import IMMUTABLE_PATTERN, inner_wsgi, prefix, root

app = ServeStatic(inner_wsgi, root=root(), prefix=prefix(), immutable_file_test=IMMUTABLE_PATTERN)
