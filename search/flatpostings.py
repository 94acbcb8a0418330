"""A segment's long posting lists as flat arrays, read without decoding.

Whoosh stores each posting list as blocks of 128 postings, each block one pickled
(and, past a size, zlib-compressed) tuple of ids, weights and position bytes. To
know which documents hold a common word a search unpickles every block, positions
included: at the full corpus that was the largest single cost of a search.

So the segment writer (indexer/segwriter.py) also writes, inside the segment's
compound file, the lists longer than one block as plain arrays: segment-local
document numbers (uint32), weights (float32) and, for fields with positions, each
posting's positions (uint32), the same values the blocks hold. A search maps them
(no copy) and slices them; a phrase finds its words side by side with array
operations over the candidates' positions instead of unpickling each posting's. Single-block terms, most of a
segment's terms but a small share of its postings, stay with Whoosh's blocks, as
does any segment without this file (written by Whoosh's own writer, or merged):
`FlatPostings.lookup` answers None and the caller reads blocks.

Layout: ``MAGIC``, a little-endian uint32 header length, a JSON header naming
each array's (offset, dtype, count), then the arrays, 8-byte aligned within the
file. ``keys`` holds each term as field name, 0xFF (never in UTF-8), term bytes;
``key_ends`` where each ends; term ``r``'s postings are ``starts[r]:starts[r + 1]``,
posting ``j``'s positions ``pos_starts[j]:pos_starts[j + 1]``.
"""

from __future__ import annotations

import json
import struct
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from whoosh.filedb.compound import CompoundStorage

EXT = ".dlp"  # the file's extension inside a segment (Whoosh names it <segment id>.dlp)
MAGIC = b"DLFLAT1\n"
SEPARATOR = b"\xff"
_ALIGN = 8


@dataclass(frozen=True)
class Column:
    """One array of the file, given as the chunks that make it up (written one by one,
    so a segment writer never holds a second copy of the whole)."""

    dtype: Any
    count: int
    chunks: Callable[[], Iterable[np.ndarray]]


def whole(values: Any, dtype: Any = None) -> Column:
    """A column of one array (whole numbers: the smallest unsigned type that holds them)."""
    arr = np.asarray(values)
    return Column(dtype or unsigned_for(int(arr.max()) if arr.size else 0), int(arr.size),
                  lambda: (arr,))


def unsigned_for(top: int) -> Any:
    """The smallest unsigned type (2, 4 or 8 bytes) that holds whole numbers up to `top`."""
    return np.uint16 if top < 1 << 16 else np.uint32 if top < 1 << 32 else np.uint64


def key_columns(keys: list[tuple[str, bytes]]) -> dict[str, Column]:
    """The `keys` and `key_ends` columns of terms `keys` (sorted)."""
    blob = b"".join(f.encode("ascii") + SEPARATOR + t for f, t in keys)
    ends = np.cumsum([len(f) + 1 + len(t) for f, t in keys], dtype=np.int64)
    return {"keys": whole(np.frombuffer(blob, dtype=np.uint8), np.uint8),
            "key_ends": whole(ends)}


def encode(keys: list[tuple[str, bytes]], starts: Any, ids: Any, weights: Any,
           pos_starts: Any, positions: Any) -> bytes:
    """Return the file for terms `keys` (sorted): term r's postings are
    `ids[starts[r]:starts[r+1]]`, posting j's positions `positions[pos_starts[j]:pos_starts[j+1]]`
    (none for a field without positions)."""
    if (len(starts) and int(starts[-1]) != len(ids)) or \
            (len(pos_starts) and int(pos_starts[-1]) != len(positions)):
        raise ValueError("flat postings: starts, ids, weights and positions do not agree")
    columns = {**key_columns(keys), "starts": whole(starts), "ids": whole(ids),
               "weights": whole(weights, np.float32), "pos_starts": whole(pos_starts),
               "positions": whole(positions)}
    return b"".join(pieces(columns))


COLUMNS = ("keys", "key_ends", "starts", "ids", "weights", "pos_starts", "positions")


def pieces(columns: dict[str, Column]) -> Iterator[bytes | memoryview]:
    """Yield the file, piece by piece: `MAGIC`, header, then each column (module docstring).
    Whole numbers are stored in the smallest unsigned type that holds them (a segment
    of under 65,536 documents: 2-byte ids).

    Raises ValueError when the columns do not agree with each other or with their counts.
    """
    count = {name: c.count for name, c in columns.items()}
    n = count.get("ids", -1)
    if set(count) != set(COLUMNS) or count["starts"] != count["key_ends"] + 1 \
            or count["weights"] != n or count["pos_starts"] != n + 1:
        raise ValueError("flat postings: starts, ids, weights and positions do not agree")
    header: dict[str, Any] = {"version": 1, "arrays": {}}
    # Offsets depend on the header's length, which depends on the offsets: fix the
    # header's size first with placeholders as wide as any real offset.
    for name in COLUMNS:
        header["arrays"][name] = [0, np.dtype(columns[name].dtype).str, count[name]]
    size = len(json.dumps(header)) + 16 * len(COLUMNS)
    pos = _aligned(len(MAGIC) + 4 + size)
    for name in COLUMNS:
        header["arrays"][name][0] = pos
        pos = _aligned(pos + count[name] * np.dtype(columns[name].dtype).itemsize)
    text = json.dumps(header).encode("ascii").ljust(size)
    written = len(MAGIC) + 4 + size
    yield MAGIC + struct.pack("<I", size) + text
    for name in COLUMNS:
        column = columns[name]
        offset = header["arrays"][name][0]
        yield bytes(offset - written)
        seen = 0
        for chunk in column.chunks():
            out = np.ascontiguousarray(chunk, dtype=column.dtype)
            seen += len(out)
            if len(out):
                yield out.data.cast("B")
        if seen != column.count:
            raise ValueError(f"flat postings: {name} has {seen} values, not {column.count}")
        written = offset + seen * np.dtype(column.dtype).itemsize


def same_type(docs: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Return `docs` (sorted, >= 0) in `ids`' type, past its range dropped (none of them
    can be among `ids`): searchsorted would otherwise cast `ids` whole, each time."""
    top = np.iinfo(ids.dtype).max
    if len(docs) and docs[-1] > top:
        docs = docs[:np.searchsorted(docs, top, side="right")]
    return np.asarray(docs).astype(ids.dtype, copy=False)


def _aligned(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


class FlatPostings:
    """One segment's flat posting lists (module docstring), over a buffer it does not copy."""

    def __init__(self, buf: Any) -> None:
        view = memoryview(buf)
        if bytes(view[:len(MAGIC)]) != MAGIC:
            raise ValueError("not a flat postings file")
        (size,) = struct.unpack_from("<I", view, len(MAGIC))
        header = json.loads(bytes(view[len(MAGIC) + 4:len(MAGIC) + 4 + size]))
        arrays = {name: np.frombuffer(view, dtype=np.dtype(dtype), count=count, offset=offset)
                  for name, (offset, dtype, count) in header["arrays"].items()}
        self._starts = arrays["starts"]
        self._ids = arrays["ids"]
        self._weights = arrays["weights"]
        self._pos_starts = arrays["pos_starts"]
        self._positions = arrays["positions"]
        blob = arrays["keys"].tobytes()
        ends = arrays["key_ends"].tolist()
        self._rows: dict[tuple[str, bytes], int] = {}
        begin = 0
        for row, end in enumerate(ends):
            field, _sep, term = blob[begin:end].partition(SEPARATOR)
            self._rows[(field.decode("ascii"), term)] = row
            begin = end

    def __len__(self) -> int:
        return len(self._rows)

    def lookup(self, field: str, tbytes: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """Return the term's (segment-local ids, weights), read-only; None: not stored here."""
        row = self._rows.get((field, tbytes))
        if row is None:
            return None
        a, b = int(self._starts[row]), int(self._starts[row + 1])
        return self._ids[a:b], self._weights[a:b]

    def positions(self, field: str, tbytes: bytes, docs: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray] | None:
        """Return (document of each position, position) for the term in `docs` (sorted,
        segment-local), documents ascending; None: not stored here.

        A term stored without positions (its field keeps none) has none.
        """
        row = self._rows.get((field, tbytes))
        if row is None:
            return None
        a, b = int(self._starts[row]), int(self._starts[row + 1])
        ids = self._ids[a:b]
        docs = same_type(docs, ids)
        k = np.searchsorted(ids, docs)
        inside = k < len(ids)
        hit = np.zeros(len(docs), dtype=bool)
        hit[inside] = ids[k[inside]] == docs[inside]
        j = k[hit] + a  # the postings of `docs` that hold the term
        begin = self._pos_starts[j].astype(np.int64)
        counts = self._pos_starts[j + 1].astype(np.int64) - begin
        total = int(counts.sum())
        offsets = np.cumsum(counts) - counts
        where = np.repeat(begin - offsets, counts) + np.arange(total, dtype=np.int64)
        return np.repeat(docs[hit], counts), self._positions[where]


_NONE = FlatPostings.__new__(FlatPostings)  # a segment without the file
_NONE._rows = {}
_OPENED: weakref.WeakKeyDictionary[Any, FlatPostings] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _mapped(storage: Any, name: str) -> Any:
    """Return the file's bytes: a view of the compound segment's map when there is one.

    (`CompoundStorage.open_file` would copy it: its BufferFile wraps the view in a BytesIO.)
    """
    compound = getattr(storage, "a", storage)  # a segment reader's OverlayStorage
    if isinstance(compound, CompoundStorage) and compound._source is not None \
            and compound.file_exists(name):
        offset, length = compound.range(name)
        return memoryview(compound._source)[offset:offset + length]
    with storage.open_file(name) as f:
        return f.read()


def for_segment(leaf: Any) -> FlatPostings:
    """Return a segment reader's flat postings (empty when its segment has none), opened once.

    Kept on the segment reader: a new generation's readers open their own.
    """
    with _LOCK:
        found = _OPENED.get(leaf)
    if found is not None:
        return found
    found = _NONE
    segment = leaf.segment() if hasattr(leaf, "segment") else None
    storage = getattr(leaf, "_storage", None)
    if segment is not None and storage is not None:
        name = segment.make_filename(EXT)
        if storage.file_exists(name):
            found = FlatPostings(_mapped(storage, name))
    with _LOCK:
        _OPENED[leaf] = found
    return found
