"""Bare ASGI reference: the wrapped app alone, no middleware."""

from apps.common import inner_asgi

app = inner_asgi
