"""The sans-IO HTTP core: a parsed request and a lookup in, a response plan out.

Nothing here touches files, sockets, clocks or event loops; the adapters (``asgi``/``wsgi``) do
the I/O and the catalog supplies prepared resources.
"""

from __future__ import annotations

from .plan import Lookup, not_found, plan_request, plan_response
from .request import REQUEST_FIELDS, Request
from .resource import (
    IMMUTABLE,
    CachePolicy,
    Representation,
    Resource,
    VariantSource,
    build_resource,
)
from .response import STATUS_LINES, FileSlice, ResponsePlan

__all__ = [
    "IMMUTABLE",
    "REQUEST_FIELDS",
    "STATUS_LINES",
    "CachePolicy",
    "FileSlice",
    "Lookup",
    "Representation",
    "Request",
    "Resource",
    "ResponsePlan",
    "VariantSource",
    "build_resource",
    "not_found",
    "plan_request",
    "plan_response",
]
