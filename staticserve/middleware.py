"""What the ASGI and WSGI middlewares share: options, the lookup, template helpers, file opening.

:class:`MiddlewareBase` validates the options, picks what requests are answered from (the
build's :class:`~staticserve.catalog.Catalog`, or in development mode the
:class:`~staticserve.dev.DevFinder` over the source folders) and answers ``static_url`` and
``integrity``. Once the app has used those helpers, the adapters pin one build per request in
``pinned_builds`` while the app handles it, so a page never pairs the URL of one build with
the integrity value of the next when a deploy lands mid-render.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import TYPE_CHECKING, BinaryIO

from .catalog import Catalog, pinned_builds
from .core.plan import Lookup
from .core.response import FileSlice
from .options import KEYWORDS, ServeKeywords, ServeOptions

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .dev import DevFinder

__all__ = ["MiddlewareBase", "open_slice", "pinned_builds"]


class MiddlewareBase:
    """What both middlewares share: options, the catalog, and the template helpers.

    ``lookup`` is what requests are answered from: the build's catalog, or in development mode
    (``dev=True``) a finder over the configured source folders (anything with ``find(path)``).
    """

    def __init__(
        self, root: str | os.PathLike[str], prefix: str, **keywords: Unpack[ServeKeywords]
    ) -> None:
        for name in keywords:
            if name not in KEYWORDS:  # as Python words it for a named parameter
                called = type(self).__init__.__qualname__
                raise TypeError(f"{called}() got an unexpected keyword argument {name!r}")
        options = ServeOptions(prefix=prefix, **keywords)
        self.options = options
        self.dev = options.dev
        self.catalog: Catalog | DevFinder
        if options.dev:
            from .dev import DevFinder  # the build's config and collect code, in dev only

            self.catalog = DevFinder(options.config, options)
        else:  # config= is for development mode; settings may pass it whatever dev is
            self.catalog = Catalog(root, options)
        self.lookup: Lookup = self.catalog
        self.fall_through = options.fall_through
        self.mount = options.mount
        # Pin one build per request for the helpers, once the app has shown it uses them:
        # apps that never call them pay nothing for it on their requests.
        self.pinning = False
        # Where the app is mounted in the request being handled (ASGI root_path, WSGI
        # SCRIPT_NAME), percent-encoded: static_url puts it first, so that its URLs work from
        # the site root. The adapters set it around the wrapped app's call.
        self.request_root: ContextVar[str] = ContextVar("staticserve_request_root", default="")
        # url_base: absolute URLs on a CDN, the same from every mount point. Development mode
        # serves the sources, which no CDN holds: its URLs stay local.
        self._absolute_urls = options.url_base is not None and not options.dev

    def static_url(self, path: str) -> str:
        """The URL of a logical path: hashed (``/static/css/app.3f2a9c1d7e4b.css``) in production,
        the plain ``/static/css/app.css`` in development mode; during a request to an app mounted
        under a sub-path, with that path first (``/app/static/…``). With ``url_base`` (not in
        development mode): that base and the hashed path (``https://cdn.example.com/static/css/
        app.3f2a9c1d7e4b.css``), whatever the mount point."""
        self.pinning = True
        if self._absolute_urls:
            return self.catalog.static_url(path)
        return self.request_root.get() + self.catalog.static_url(path)

    def integrity(self, path: str) -> str:
        """The Subresource Integrity value (``sha384-…``) of a logical path."""
        self.pinning = True
        return self.catalog.integrity(path)

    def reload(self) -> bool:
        """Pick up a newly published build now (True when one was swapped in)."""
        return self.catalog.reload()

    @property
    def held_bytes(self) -> int:
        """The bytes of files kept in memory now (never more than ``memory_total``); 0 in
        development mode, which reads the files on every request."""
        catalog = self.catalog
        return catalog.held_bytes if isinstance(catalog, Catalog) else 0


def wrong_size(found: int, part: FileSlice) -> OSError | None:
    """The error for a file of ``found`` bytes where ``part`` was made for another size; None
    when the sizes agree."""
    if found == part.size:
        return None
    return OSError(f"{found} bytes on disk where {part.size} were expected")


def cut_while_sent(remaining: int) -> OSError:
    """What a body raises when its file ends ``remaining`` bytes early: the server then drops
    the connection, instead of keeping it for a next response that would fill the gap."""
    return OSError(f"{remaining} bytes short: the file was cut while being sent")


def open_slice(part: FileSlice) -> BinaryIO:
    """Open the file of ``part`` positioned at its offset (the caller closes it).

    OSError, as for a file that is gone, when the file is not the size ``part`` was made for
    (cut or grown since the build, or since it was looked at): its bytes are not the ones the
    response's validators name, and a shorter body than its Content-Length would leave a
    keep-alive connection waiting for bytes that the next response then fills."""
    file = open(part.path, "rb")  # noqa: SIM115 -- handed to the caller, who closes it
    try:
        wrong = wrong_size(os.fstat(file.fileno()).st_size, part)
        if wrong is not None:
            raise wrong
        if part.offset:
            file.seek(part.offset)
    except BaseException:
        file.close()
        raise
    return file
