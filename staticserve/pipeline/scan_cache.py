"""The scan cache: where the references of each CSS and JavaScript text sit, kept in the cache
folder (``--cache-dir``) beside the compressed variants, so that a build from a clean checkout
walks only the texts it has not met before.

One file, ``DIR/scans-v1.json``: its first line is the SHA-256 of the rest, a JSON object that
names the scanners' code (scan.stored.SCANNER) and maps the SHA-256 of a text and its syntax to
the sites found in it. A file that fails its check, or that other scanners wrote, is ignored
whole; a stored scan that does not fit its text (scan.stored.load_sites) is scanned again. At
the end of a build the file is written anew, under a name of its own then renamed: the scans
this build used first, then earlier ones, up to a bound. Two builds at once each write a whole
file; the last one stays, and the other's new scans are made again by a later build.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

from .cache_dir import read_entry, write_new
from .scan import Site, Syntax, find_sites
from .scan.stored import SCANNER, dump_sites, load_sites

__all__ = ["ScanCache"]

_FILE = "scans-v1.json"
_LIMIT = 20_000  # texts remembered; past it, those no recent build used are forgotten
# A larger file is not this cache's (20,000 texts' scans take a few MB): ignored, never read
# into memory (a sparse file of terabytes planted there would be).
_MAX_BYTES = 256 * 1024 * 1024


class ScanCache:
    """The scans stored in the cache folder ``root`` (None: no folder, every text is scanned);
    ``write``: :meth:`save` stores what this build scanned."""

    def __init__(self, root: Path | None, *, read: bool, write: bool) -> None:
        self._root, self._write = root, write and root is not None
        self._stored: dict[str, Any] = _load(root / _FILE) if root is not None and read else {}
        self._used: dict[str, Any] = {}
        self._refused = False  # a stored scan did not fit its text: the file is written anew
        self.hits = 0

    def sites(self, data: bytes, text: str, syntax: Syntax) -> list[Site]:
        """:func:`~staticserve.pipeline.scan.find_sites` of ``text`` (``data`` decoded)."""
        if not self._write and not self._stored:
            return find_sites(text, syntax)  # no cache folder (or nothing in it, in a dry run)
        key = f"{syntax}:{hashlib.sha256(data).hexdigest()}"
        stored = self._stored.get(key)
        if stored is not None:
            sites = load_sites(text, stored)
            if sites is not None:
                self.hits += 1
                self._used[key] = stored
                return sites
            self._refused = True
        sites = find_sites(text, syntax)
        dumped = dump_sites(text, sites)
        if dumped is not None:
            self._used[key] = dumped
        return sites

    def save(self) -> None:
        """Store this build's scans, and earlier ones up to the bound; never fails a build."""
        if not self._write or self._root is None or not self._used:
            return
        if (
            not self._refused
            and self._used.keys() <= self._stored.keys()
            and len(self._stored) <= _LIMIT
        ):
            return  # nothing new to store
        kept = dict(self._used)  # a refused scan's place taken by the scan made instead
        for key, value in self._stored.items():
            if len(kept) >= _LIMIT:
                break
            kept.setdefault(key, value)
        body = json.dumps({"scanner": SCANNER, "sites": kept}, separators=(",", ":")).encode()
        with contextlib.suppress(OSError):
            write_new(self._root / _FILE, hashlib.sha256(body).hexdigest().encode() + b"\n" + body)


def _load(path: Path) -> dict[str, Any]:
    try:
        # never through a symlink, nor from a pipe, nor a file of any size
        found = read_entry(path, mark_used=False, limit=_MAX_BYTES)
    except OSError:
        return {}
    check, _, body = found[0].partition(b"\n") if found is not None else (b"", b"", b"")
    if not check or hashlib.sha256(body).hexdigest().encode() != check:
        return {}
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return {}
    if not isinstance(value, dict) or value.get("scanner") != SCANNER:
        return {}
    sites = value.get("sites")
    return sites if isinstance(sites, dict) else {}
