"""Development mode: answer straight from the build's source folders, as they are on disk now.

No build, no manifest: a request's logical path is looked up in the configured sources in the
same order and with the same ignore patterns as ``staticserve build``, so the first source
still wins. Or, given a ``dev_sources`` function (the Django integration passes Django's
staticfiles finders), it names the file for each logical path. Every answer says ``Cache-Control: no-cache``: the browser revalidates each time and
gets a 304 while the file is unchanged, and sees an edit on the next reload.

Confinement does not rely on the path check alone: the file found is resolved (symlinks
followed) and must lie inside the resolved source folder it was found in.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from base64 import b64encode
from pathlib import Path
from urllib.parse import unquote

from .core.content_types import content_type_for
from .core.paths import canonical_path, url_path
from .core.resource import IDENTITY, CachePolicy, Resource, VariantSource, build_resource
from .core.response import Body, FileSlice
from .manifest import MANIFEST_NAME, split_reference
from .options import ServeOptions, header_rules, matching_headers
from .pipeline.collect import is_ignored, resolve_sources
from .pipeline.config import BuildConfig, load_config

__all__ = ["DevFinder"]

log = logging.getLogger("staticserve")

NO_CACHE = CachePolicy(b"no-cache")
_CACHED_RESOURCES = 4096  # prepared answers remembered; a crawler cannot grow it further

# (resolved file, st_mtime_ns, st_size, st_ino): a prepared answer is reused while it matches.
Signature = tuple[str, int, int, int]


class DevFinder:
    """The development-mode lookup: ``find(path)``, ``static_url`` and ``integrity``.

    ``config`` is a :class:`BuildConfig`, a path to a TOML file with a ``[tool.staticserve]``
    table, or None for ``pyproject.toml`` in the working directory. It is not read when
    ``options.dev_sources`` names the files instead.
    """

    def __init__(
        self, config: BuildConfig | str | os.PathLike[str] | None, options: ServeOptions
    ) -> None:
        self.options = options
        self._source_lookup = options.dev_sources
        self.config: BuildConfig | None = None
        self._sources: list[tuple[str, Path]] = []
        self._ignore_patterns: tuple[str, ...] = ()
        if self._source_lookup is None:
            self.config = config if isinstance(config, BuildConfig) else load_config(config)
            self._sources = [(s.prefix, s.path.resolve()) for s in resolve_sources(self.config)]
            self._ignore_patterns = self.config.ignore_patterns
        self._mount = url_path(options.mount)
        self._cache_control = NO_CACHE
        self._origin = options.allow_origin.encode("ascii") if options.allow_origin else None
        self._rules = header_rules(options.headers)
        self._prepared: dict[str, tuple[Signature, Resource]] = {}
        if self.config is not None and self.config.prefix.rstrip("/") != options.prefix:
            log.warning(
                "the configuration's URL prefix is %r but development mode serves under %r",
                self.config.prefix,
                options.mount,
            )

    def find(self, path: bytes) -> Resource | None:
        """The resource for a canonical URL path, read from the sources now; None if absent."""
        if not path.startswith(self._mount) or canonical_path(path) != path:
            return None
        logical = unquote(path[len(self._mount) :].decode("ascii"))
        index = self.options.index_file
        if index is not None and (not logical or logical.endswith("/")):
            logical += index
        found = self._locate(logical)
        if found is None:
            return None
        file, info = found
        signature = (str(file), info.st_mtime_ns, info.st_size, info.st_ino)
        prepared = self._prepared.get(logical)
        if prepared is not None and prepared[0] == signature:
            return prepared[1]
        resource = self._prepare(logical, file, info)
        if resource is not None:
            if len(self._prepared) >= _CACHED_RESOURCES:
                self._prepared.clear()
            self._prepared[logical] = (signature, resource)
        return resource

    def static_url(self, path: str) -> str:
        """The unhashed URL of a logical path that exists in a source folder now.

        A ``?query`` or ``#fragment`` after the path is kept, as in production.
        """
        logical, suffix = split_reference(path, self._is_file)
        self._found(logical)
        return self.options.mount + url_path(logical).decode("ascii") + suffix

    def integrity(self, path: str) -> str:
        """The Subresource Integrity value of the source file as it is now (suffix ignored)."""
        file = self._found(split_reference(path, self._is_file)[0])
        digest = hashlib.sha384(file.read_bytes()).digest()
        return "sha384-" + b64encode(digest).decode("ascii")

    def _found(self, logical: str) -> Path:
        found = self._locate(logical)
        if found is None:
            raise KeyError(f"{logical!r} is in none of the source folders")
        return found[0]

    def _is_file(self, logical: str) -> bool:
        return ("?" in logical or "#" in logical) and self._locate(logical) is not None

    def reload(self) -> bool:
        """Nothing to reload: every request reads the sources. Always False."""
        return False

    def _locate(self, logical: str) -> tuple[Path, os.stat_result] | None:
        """The first source's regular file for ``logical``, confined to that source folder."""
        parts = tuple(logical.split("/"))
        if not logical or any(p in ("", ".", "..") or "\\" in p or "\0" in p for p in parts):
            return None
        if logical == MANIFEST_NAME:
            return None
        if self._source_lookup is not None:
            return _named_file(self._source_lookup(logical))
        for prefix, root in self._sources:
            relative = _strip_prefix(parts, prefix)
            if relative is None or _ignored(relative, self._ignore_patterns):
                continue
            found = _confined_file(root, relative)
            if found is not None:
                return found
        return None

    def _prepare(self, logical: str, file: Path, info: os.stat_result) -> Resource | None:
        body: Body
        if info.st_size <= self.options.memory_limit:
            try:
                body = file.read_bytes()
            except OSError as exc:
                log.warning("cannot read %s: %s", file, exc.strerror or exc)
                return None
            tag = hashlib.sha256(body).hexdigest()[:16]
        else:  # too big to hash on every edit: the stat signature stands for the content
            body = FileSlice(str(file), 0, info.st_size, info.st_size)
            tag = f"{info.st_mtime_ns:x}-{info.st_size:x}-{info.st_ino:x}"
        length = len(body) if isinstance(body, bytes) else info.st_size
        return build_resource(
            [VariantSource(IDENTITY, tag, length, body)],
            content_type=content_type_for(logical),
            cache=self._cache_control,
            last_modified=int(info.st_mtime),
            allow_origin=self._origin,
            extra_headers=matching_headers(self._rules, logical),
        )


def _strip_prefix(parts: tuple[str, ...], prefix: str) -> tuple[str, ...] | None:
    if not prefix:
        return parts
    head = tuple(prefix.split("/"))
    if parts[: len(head)] != head or len(parts) == len(head):
        return None
    return parts[len(head) :]


def _ignored(relative: tuple[str, ...], patterns: tuple[str, ...]) -> bool:
    """As the build: a path is skipped when any folder on the way, or the file, is ignored."""
    return any(is_ignored(relative[:depth], patterns) for depth in range(1, len(relative) + 1))


def _named_file(name: str | os.PathLike[str] | None) -> tuple[Path, os.stat_result] | None:
    """The regular file a source lookup named (symlinks followed), or None."""
    if name is None:
        return None
    try:
        resolved = Path(name).resolve(strict=True)
        info = resolved.stat()
    except (OSError, RuntimeError, ValueError):
        return None
    return (resolved, info) if stat.S_ISREG(info.st_mode) else None


def _confined_file(root: Path, relative: tuple[str, ...]) -> tuple[Path, os.stat_result] | None:
    try:
        resolved = root.joinpath(*relative).resolve(strict=True)
        info = resolved.stat()
    except (OSError, RuntimeError, ValueError):  # missing, loop, NUL: not a file we serve
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    if not resolved.is_relative_to(root):
        log.warning(
            "not serving %s: it leads outside its source folder %s", "/".join(relative), root
        )
        return None
    return resolved, info
