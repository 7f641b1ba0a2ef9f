"""blacknoise around the wrapped app, told which files are hashed so it sends immutable caching."""

from blacknoise import BlackNoise

from apps.common import IMMUTABLE_RE, inner_asgi, prefix, root


def _immutable(path: str) -> bool:
    return IMMUTABLE_RE.search(path) is not None


app = BlackNoise(inner_asgi, immutable_file_test=_immutable)
app.add(root(), prefix())
