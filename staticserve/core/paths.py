"""Request paths: the canonical, percent-encoded form of a path, or None for a hostile one.

Production lookups are exact dictionary hits on manifest entries, so nothing here guards the
disk; this only lets equivalent spellings (``%7E`` for ``~``, lower-case escapes, unencoded
``(``) find their entry, and turns everything suspicious away before it is looked up.
"""

from __future__ import annotations

from urllib.parse import quote, unquote_to_bytes

__all__ = ["MAX_PATH", "canonical_path", "path_below", "raw_below", "url_path"]

MAX_PATH = 1024
# Encoded "/", "\" and NUL would let a client smuggle a separator or terminator past a check.
_SMUGGLED = (b"%2f", b"%5c", b"%00")
_CONTROL = bytes(range(0x20)) + b"\x7f"


def url_path(text: str) -> bytes:
    """The canonical encoding of a decoded path: what the catalog keys and URLs use."""
    return quote(text, safe="/").encode("ascii")


def canonical_path(raw: bytes) -> bytes | None:
    """Re-encode ``raw`` canonically; None when it is hostile or odd.

    Refused: longer than ``MAX_PATH``, not absolute, empty or dot segments (``//``, ``.``,
    ``..``), dotfiles, encoded separators or NUL, backslashes, control characters and bytes that
    are not strict UTF-8 (overlong forms included). A trailing ``/`` (a directory) is kept.
    """
    if len(raw) > MAX_PATH or not raw.startswith(b"/"):
        return None
    lowered = raw.lower()
    if any(smuggled in lowered for smuggled in _SMUGGLED):
        return None
    decoded = unquote_to_bytes(raw)
    if b"\\" in decoded or decoded != decoded.translate(None, _CONTROL):
        return None
    try:
        text = decoded.decode("utf-8")  # strict: overlong forms and surrogates are errors
    except UnicodeDecodeError:
        return None
    segments = text.split("/")[1:]
    if any(not segment or segment.startswith(".") for segment in segments[:-1]):
        return None
    if segments[-1].startswith("."):
        return None
    return url_path(text)


# -- mount points: the part of the URL a server or framework routed to the app ----------------


def path_below(mount_point: str, path: str) -> str:
    """``path`` without the leading ``mount_point``; unchanged when it does not start with it.

    Starlette's routing rule (``get_route_path``): since ASGI 3 the ``path`` includes the
    ``root_path`` (uvicorn >= 0.26 prepends it, Starlette's ``Mount`` keeps it), but a server
    that was told its root path may still be sent paths without it (behind a proxy that strips it).
    """
    mount_point = mount_point.rstrip("/")
    if path.startswith(mount_point) and path[len(mount_point) : len(mount_point) + 1] == "/":
        return path[len(mount_point) :]
    return path


def raw_below(raw: bytes, mount_point: bytes) -> bytes | None:
    """The raw target ``raw`` without the (decoded) ``mount_point``; None when it was sent
    spelled another way, so that it cannot be split exactly.

    Kept raw, the rest still shows an encoded slash or a dot segment as the client sent it.
    """
    head = quote(mount_point.rstrip(b"/"), safe="/").encode("ascii")
    if raw.startswith(head) and raw[len(head) : len(head) + 1] == b"/":
        return raw[len(head) :]
    return None
