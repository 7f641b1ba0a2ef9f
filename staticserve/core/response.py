"""What the core hands the adapters: a status, header fields and a body (bytes or a file slice)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["STATUS_LINES", "Body", "FileSlice", "Header", "MemoryCopy", "ResponsePlan"]

Header = tuple[bytes, bytes]

STATUS_LINES: Mapping[int, str] = MappingProxyType(
    {
        200: "200 OK",
        206: "206 Partial Content",
        302: "302 Found",
        304: "304 Not Modified",
        404: "404 Not Found",
        405: "405 Method Not Allowed",
        412: "412 Precondition Failed",
        416: "416 Range Not Satisfiable",
    }
)


class MemoryCopy:
    """The place for a copy of a whole file kept in memory, shared by every slice of that file.

    ``data`` holds the file's bytes, checked against what the build says they are, or None
    while no copy is kept; ``hits`` counts the requests for the file. The adapters read
    ``data`` and count ``hits`` on every request; ``wanted`` (should this request load the
    file?) and ``load`` (the checked bytes, or None when the file does not hold them) belong to
    the lookup that made the copy. Here they keep no copy: a plain ``MemoryCopy`` only counts.
    """

    __slots__ = ("data", "hits")

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.hits = 0

    def wanted(self) -> bool:
        """True when the adapter should ``load`` the file for this request (off the event loop)."""
        return False

    def load(self) -> bytes | None:
        """The whole file's checked bytes (kept when there is room), or None: answer 404."""
        return None


@dataclass(frozen=True, slots=True)
class FileSlice:
    """``length`` bytes of the file at ``path`` from ``offset``; ``size`` is the whole file's.

    ``copy`` is where a copy of the whole file may be kept in memory (None: it never is).
    """

    path: str
    offset: int
    length: int
    size: int
    copy: MemoryCopy | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.offset < 0 or self.length < 0 or self.offset + self.length > self.size:
            raise ValueError(f"slice {self.offset}+{self.length} outside a {self.size}-byte file")

    @property
    def whole(self) -> bool:
        """True when the slice is the entire file (what ``pathsend`` can send)."""
        return self.offset == 0 and self.length == self.size


Body = bytes | FileSlice


@dataclass(frozen=True, slots=True)
class ResponsePlan:
    """What to send. An empty ``bytes`` body means no body (HEAD, 304, 405, 412, 416).

    Plans are immutable and often shared between requests (prepared once per representation),
    so ``headers`` is a tuple; adapters copy it into whatever their server may mutate.
    """

    status: int
    headers: tuple[Header, ...]
    body: Body
    # A slot an adapter may fill with its own rendering of ``headers`` (e.g. native strings),
    # so that the work is done once per plan and forgotten with it.
    adapter_cache: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.status not in STATUS_LINES:
            raise ValueError(f"the core never answers {self.status}")
