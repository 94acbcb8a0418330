"""Segment files read in place from Whoosh's memory map, not copied into each process.

Whoosh maps a segment's compound file and opens each file inside it (term index,
postings, columns) as a `BufferFile` over a slice of the map; `BufferFile` hands
that slice to `io.BytesIO`, which copies a memoryview whole. So every reader
copied its segments' term indexes and postings into private memory as it opened:
~285 MB of the 57k-article index's 608 MB, ~1.2 GB at 250k (measured with
tracemalloc; the two largest allocations of an open searcher), in every web worker
and for every thread's searcher, none of it shared, all of it read once at open.

`install` makes the compound storage open those files as `MappedFile`: the same
`BufferFile` (its random reads, `get` and the typed `get_*`, already slice the map
and copy only what they read) with a sequential reader over the map instead of the
BytesIO copy. The pages then stay the kernel's page cache, shared by every process
that maps the index, and only the parts queries touch are ever read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from whoosh.filedb import compound
from whoosh.filedb.structfile import BufferFile, StructFile


class MappedReader:
    """The `read`/`readline`/`seek`/`tell` of a BytesIO over a buffer, without a copy."""

    __slots__ = ("_buf", "_pos")

    def __init__(self, buf: bytes | bytearray | memoryview) -> None:
        self._buf: Any = buf
        self._pos = 0

    def read(self, size: int | None = -1) -> bytes:
        start = self._pos
        end = len(self._buf) if size is None or size < 0 else min(start + size, len(self._buf))
        if end <= start:
            return b""
        self._pos = end
        return bytes(self._buf[start:end])

    def readline(self, size: int | None = -1) -> bytes:
        start = self._pos
        stop = len(self._buf) if size is None or size < 0 else min(start + size, len(self._buf))
        end, step = start, 128
        while end < stop:  # look in growing pieces: a line's worth is copied, not the file
            piece = min(end + step, stop)
            found = bytes(self._buf[end:piece]).find(b"\n")
            if found >= 0:
                return self.read(end + found + 1 - start)
            end, step = piece, 2 * step
        return self.read(stop - start)

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 1:
            pos += self._pos
        elif whence == 2:
            pos += len(self._buf)
        elif whence != 0:
            raise ValueError(f"invalid whence ({whence})")
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def tell(self) -> int:
        return self._pos

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self._buf = b""  # the memoryview itself is released by BufferFile.close


class MappedFile(BufferFile):
    """A `BufferFile` whose sequential reads come from the buffer itself (see module doc)."""

    def __init__(
        self,
        buf: bytes | bytearray | memoryview,
        name: str | None = None,
        onclose: Callable[[StructFile], None] | None = None,
    ) -> None:
        super().__init__(b"", name=name, onclose=onclose)  # an empty BytesIO: nothing copied
        self._buf = buf
        self.file = MappedReader(buf)  # type: ignore[assignment]  # BinaryIO in the stubs


def install() -> None:
    """Have Whoosh's compound storage open its files as `MappedFile` (idempotent)."""
    compound.BufferFile = MappedFile  # type: ignore[misc]
