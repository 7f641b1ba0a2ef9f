"""``staticserve nginx-conf``: the same build served by nginx, as the middleware serves it.

:func:`render` is pure: an :class:`NginxSite` in, the text of one nginx ``location`` block out.
:func:`nginx_conf` is the API under the command: it reads ``[tool.staticserve]`` like
``staticserve build`` (``output`` is the root, ``prefix``, ``encodings``, ``fingerprinted``),
lets keywords override it and checks everything with the build's and the middleware's own checks,
so a bad value gets the same message here as there.

The block names no file of the build: nginx decides from the request path alone whether a name
is hashed (``name.<12 hex>.ext``, or a ``fingerprinted`` pattern) and reads the files as they are
on disk, so a new build -- which writes hashed names before its manifest and then replaces the
logical names' plain copies atomically -- is served at once, without a reload.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from .core.content_types import CONTENT_TYPES, DEFAULT_CONTENT_TYPE
from .errors import ConfigError
from .fingerprinted import MIN_HEX
from .manifest import ENCODING_SUFFIXES, MANIFEST_NAME
from .options import ServeOptions
from .pipeline.config import BuildConfig, load_config

__all__ = ["HASHED_NAME", "NginxSite", "nginx_conf", "render"]

# A name the build gave a content hash: a part of exactly MIN_HEX hex digits before the last
# suffix, or at the end. Exactly, not "at least": a longer run (webpack's 20 hex) may be a name
# the build hashed once more, whose plain copy must stay short-lived.
HASHED_NAME = rf"\.[0-9a-f]{{{MIN_HEX}}}(?:\.[^./]*)?$"

# Characters nginx would read as something else inside a quoted string, or that no path holds.
_UNQUOTABLE = ("$", "\n", "\r", "\0")

# Where a request is routed before nginx answers it (see _ranges): a single byte range is cut
# from the uncompressed file, as the middleware cuts it; a range nginx must not honour (on a
# HEAD, malformed, several) is ignored, so the whole negotiated file is sent.
_IDENTITY = ".staticserve-identity"
_WHOLE = ".staticserve-whole"


@dataclass(frozen=True, slots=True)
class NginxSite:
    """What the generated block needs: where the build is, where it is served, how.

    ``root``: the build's output folder, absolute. ``mount``: the URL path, ``/static/`` form
    (``/`` for the site root). ``max_age`` and ``allow_origin`` as the middleware's options of
    those names. ``encodings``: the build's (``br`` turns on ``brotli_static``, ``gzip``
    ``gzip_static``). ``fingerprinted``: the build's patterns of names kept as hashed.
    """

    root: str
    mount: str = "/static/"
    max_age: int = 60
    allow_origin: str | None = "*"
    encodings: tuple[str, ...] = ("br", "gzip")
    fingerprinted: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not os.path.isabs(self.root):
            raise ConfigError(f"root must be an absolute path for nginx, not {self.root!r}")
        for character in _UNQUOTABLE:
            if character in self.root:
                raise ConfigError(
                    f"root {self.root!r} holds {character!r}, which nginx cannot take in a path "
                    "(it reads '$' as a variable); move the build to a folder without it"
                )
        if not (self.mount.startswith("/") and self.mount.endswith("/")):
            raise ConfigError(f"mount must start and end with '/', not {self.mount!r}")


def nginx_conf(
    root: str | os.PathLike[str] | None = None,
    prefix: str | None = None,
    *,
    config: BuildConfig | str | os.PathLike[str] | None = None,
    max_age: int | None = None,
    allow_origin: str | None = "*",
) -> str:
    """The nginx ``location`` block that serves the build in ``root`` under ``prefix``.

    ``root`` and ``prefix`` default to ``output`` and ``prefix`` of ``[tool.staticserve]`` in
    ``config`` (a TOML file, a :class:`BuildConfig`, or None for ``./pyproject.toml``); a
    relative ``root`` is relative to the working folder, as on the command line. ``max_age``
    (default 60) and ``allow_origin`` (``None``: no CORS field) mean what they mean for the
    middleware. Raises :class:`ConfigError` for a bad value, with the message the build or the
    middleware gives for it.
    """
    build = config if isinstance(config, BuildConfig) else load_config(config)
    build = build.with_overrides(prefix=prefix)  # the build's check of a prefix
    folder = build.output_dir if root is None else Path(root)
    serving = ServeOptions(prefix=build.prefix, allow_origin=allow_origin)
    if max_age is not None:  # the middleware's default otherwise, and its check either way
        serving = replace(serving, max_age=max_age)
    site = NginxSite(
        root=str(Path.cwd() / folder),  # absolute, not resolved: a "current" symlink may move
        mount=serving.mount,
        max_age=serving.max_age,
        allow_origin=serving.allow_origin,
        encodings=build.encodings,
        fingerprinted=build.fingerprinted,
    )
    return render(site)


# -- the text ----------------------------------------------------------------------------------


def render(site: NginxSite) -> str:
    """The ``location`` block for ``site``, with comments saying where it goes and why."""
    mount = site.mount
    alias = _quoted(site.root.rstrip("/") + "/")
    lines = [
        *_header(site),
        f"location ^~ {mount} {{",
        f"    alias {alias};",
        *_types(),
        "    charset off;                  # the types above carry their charset already",
        *_compression(site),
        "    if_modified_since before;     # a 304 for any date not before the file's",
        "    max_ranges 1;                 # several ranges: the whole file, as the middleware",
        "",
        "    # Never served: the manifest, the build's state folder, temporary files and other",
        "    # dot names, folders.",
        f"    location = {mount}{MANIFEST_NAME} {{ return 404; }}",
        '    location ~ "/\\." { return 404; }',
        '    location ~ "/$" { return 404; }',
        f"    location ^~ {mount}{_IDENTITY}/ {{",
        "        internal;",
        f"        alias {alias};",
        "        gzip_static off;" if "gzip" in site.encodings else None,
        "        brotli_static off;" if "br" in site.encodings else None,
        "    }",
        f"    location ^~ {mount}{_WHOLE}/ {{",
        "        internal;",
        f"        alias {alias};",
        "        max_ranges 0;",
        "    }",
        "",
        '    if ($request_method !~ "^(?:GET|HEAD)$") {',
        '        add_header Allow "GET, HEAD" always;',
        "        return 405;",
        "    }",
        "    if (-d $request_filename) { return 404; }",
        "    # A precompressed variant by its own name (app.css.br beside app.css): only through",
        "    # Accept-Encoding, as the variant of its file.",
        '    set $staticserve_variant_of "";',
        '    if ($request_filename ~ "^(.+)\\.(?:'
        + "|".join(s.lstrip(".") for s in ENCODING_SUFFIXES.values())
        + ')$") {',
        "        set $staticserve_variant_of $1;",
        "    }",
        "    if (-f $staticserve_variant_of) { return 404; }",
        "",
        *_caching(site),
        "",
        "    # Vary: Accept-Encoding on every answer for a file that has precompressed variants.",
        '    set $staticserve_vary "";',
        *(  # one stat per encoding the build makes
            f"    if (-f $request_filename{ENCODING_SUFFIXES[encoding]}) "
            "{ set $staticserve_vary Accept-Encoding; }"
            for encoding in site.encodings
        ),
        "    add_header Vary $staticserve_vary;",
        *(
            [f"    add_header Access-Control-Allow-Origin {_quoted(site.allow_origin)};"]
            if site.allow_origin is not None
            else []
        ),
        "    add_header X-Content-Type-Options nosniff;",
        "",
        *_ranges(mount),
        "}",
    ]
    return "\n".join(line for line in lines if line is not None) + "\n"


def _header(site: NginxSite) -> list[str]:
    lines = [
        "# Generated by `staticserve nginx-conf`: the build in",
        f"# {site.root} served under {site.mount} as the staticserve middleware serves it.",
        "# Put this block inside the server { } block of your site. A new build needs nothing:",
        "# nginx reads the files as the build leaves them, without a reload. Generate it again",
        "# when the prefix, the encodings, the fingerprinted patterns, max_age or allow_origin",
        "# change. add_header lines of the server block do not apply inside it (nginx's rule):",
        "# repeat them here if you need them. With open_file_cache, keep open_file_cache_valid",
        "# short (1s): until it expires, a replaced logical name is served from its previous file.",
    ]
    if "br" in site.encodings:
        lines += [
            "# brotli_static needs ngx_http_brotli_static_module: on Debian and Ubuntu,",
            "# `apt-get install libnginx-mod-http-brotli-static` installs and loads it; elsewhere",
            "# load it at the top of nginx.conf (main context):",
            "#     load_module modules/ngx_http_brotli_static_module.so;",
        ]
    if "zstd" in site.encodings:
        lines += [
            "# The build's .zst variants are not sent: Debian's nginx has no zstd module.",
        ]
    return lines


def _types() -> list[str]:
    by_type: dict[bytes, list[str]] = {}
    for extension, content_type in CONTENT_TYPES.items():
        by_type.setdefault(content_type, []).append(extension)
    lines = [f"    default_type {DEFAULT_CONTENT_TYPE.decode()};", "    types {"]
    lines += [
        f"        {_quoted(content_type.decode())} {' '.join(extensions)};"
        for content_type, extensions in by_type.items()
    ]
    return [*lines, "    }"]


def _compression(site: NginxSite) -> list[str]:
    # The build chose what to compress: a `gzip on` of the http block would compress the rest
    # (images, texts too small to gain) on the fly, and without the Vary set below.
    lines = [
        "    gzip off;                     # no compression on the fly: the build's files only"
    ]
    if "gzip" in site.encodings:
        lines.append("    gzip_static on;               # css/app.css.gz for gzip clients")
    if "br" in site.encodings:
        lines.append("    brotli_static on;             # css/app.css.br for br clients")
    lines.append(
        "    gzip_vary off;                # Vary is set below, for every file with variants"
    )
    return lines


def _caching(site: NginxSite) -> list[str]:
    immutable = [
        '        set $staticserve_cache_control "public, immutable";',
        "        set $staticserve_expires 1y;",
        "    }",
    ]
    lines = [
        "    # Logical names (css/app.css): short-lived, the current build's file. Hashed names",
        "    # (css/app.3f2a9c1d7e4b.css) and the fingerprinted patterns: a year, immutable;",
        "    # `expires` adds the Expires field and max-age (a second Cache-Control line).",
        f'    set $staticserve_cache_control "public, max-age={site.max_age}";',
        "    set $staticserve_expires off;",
        f"    if ($uri ~ {_quoted(HASHED_NAME)}) {{",
        *immutable,
    ]
    regex_mount = _regex_literal(site.mount)
    for pattern in site.fingerprinted:
        lines += [f"    if ($uri ~ {_quoted('^' + regex_mount + '(?:' + pattern + ')$')}) {{"]
        lines += immutable
    return [
        *lines,
        "    expires $staticserve_expires;",
        "    add_header Cache-Control $staticserve_cache_control;",
    ]


def _ranges(mount: str) -> list[str]:
    regex_mount = _regex_literal(mount)
    return [
        "    # One byte range of a GET is cut from the uncompressed file (Content-Encoding is",
        "    # never sent with a 206); any other Range field is ignored and the whole file sent.",
        '    set $staticserve_range "$request_method:$http_range";',
        '    set $staticserve_part "";',
        f'    if ($staticserve_range ~ "^(?:GET|HEAD):.") {{ set $staticserve_part {_WHOLE}; }}',
        '    if ($staticserve_range ~ "^GET:bytes=(?:[0-9]+-[0-9]*|-[0-9]+)$") {',
        f"        set $staticserve_part {_IDENTITY};",
        "    }",
        "    if ($staticserve_part) {",
        f'        rewrite "^{regex_mount}(.*)$" {mount}$staticserve_part/$1 last;',
        "    }",
    ]


def _quoted(text: str) -> str:
    """``text`` as one nginx token in double quotes.

    Inside quotes nginx reads ``\\"``, ``\\'`` and ``\\\\`` as the character escaped and ``\\t``,
    ``\\r``, ``\\n`` as control characters, and keeps any other backslash as it is: so only a
    backslash before one of those (or at the end) is doubled, and a regular expression's ``\\.``
    reads as written.
    """
    quoted = []
    for index, character in enumerate(text):
        if character == '"':
            quoted.append('\\"')
        elif character == "\\" and text[index + 1 : index + 2] in (
            "",
            '"',
            "'",
            "\\",
            "t",
            "r",
            "n",
        ):
            quoted.append("\\\\")
        else:
            quoted.append(character)
    return '"' + "".join(quoted) + '"'


def _regex_literal(text: str) -> str:
    """A URL path as a regular expression matching only itself (the prefix's characters)."""
    return "".join("\\" + c if c in ".+*?()[]{}|^$\\" else c for c in text)
