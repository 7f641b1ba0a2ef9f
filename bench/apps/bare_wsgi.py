"""Bare WSGI reference: the wrapped app alone, no middleware."""

from apps.common import inner_wsgi

app = inner_wsgi
