"""A segment's posting lists as flat arrays, read without decoding.

Whoosh stores each posting list as blocks of 128 postings, each block one pickled
(and, past a size, zlib-compressed) tuple of ids, weights and position bytes, and
finds a term through an on-disk hash table (an md5 and a few reads). To know which
documents hold a word a search looked the word up in every segment and unpickled
every block, positions included: at the full corpus, most of a search's time.

So the segment writer (indexer/segwriter.py) also writes, inside the segment's
compound file, every term's postings as plain arrays: segment-local document
numbers (2 or 4 bytes) and weights (float32), the same values the blocks hold,
and, for the terms longer than one block in fields with positions, each posting's
positions. A search maps the file (no copy), finds a term by binary search over
its keys' 32-bit hashes, and slices the arrays; a term it does not find is not in
the segment (no Whoosh lookup). A phrase finds its words side by side with array
operations over the candidates' positions instead of unpickling each posting's
(a short term's positions, a block at most, still come from Whoosh's block).
A segment without this file (written by Whoosh's own writer, or merged) is read
through Whoosh: `for_segment` answers an empty `FlatPostings` (`complete` False).

Layout: ``MAGIC``, a little-endian uint32 header length, a JSON header naming
each array's (offset, dtype, count), then the arrays, 8-byte aligned within the
file. ``keys`` holds each term as field name, 0xFF (never in UTF-8), term bytes;
``key_ends`` where each ends; ``hashes`` the keys' `key_hash` ascending, ``by_hash``
their rows; term ``r``'s postings are ``starts[r]:starts[r + 1]``, posting ``j``'s
positions ``pos_starts[j]:pos_starts[j + 1]`` when ``positional[r]``.
"""

from __future__ import annotations

import json
import struct
import threading
import weakref
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate, islice
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


def key_hash(key: bytes) -> int:
    """A term key's 32-bit hash (CRC-32: C speed; keys that share one are told apart by
    their bytes)."""
    return zlib.crc32(key)


def key_of(field: str, tbytes: bytes) -> bytes:
    return field.encode("ascii") + SEPARATOR + tbytes


class _Prefixes(dict[str, bytes]):
    """Field name -> its keys' first bytes (name and separator), made once a field."""

    def __missing__(self, field: str) -> bytes:
        prefix = self[field] = key_of(field, b"")
        return prefix


KEY_CHUNK = 1 << 16  # keys made at once: a chunk's bytes, never every key's (a writer's peak)


def key_columns(keys: Iterable[tuple[str, bytes]]) -> dict[str, Column]:
    """The `keys`, `key_ends`, `hashes` and `by_hash` columns of terms `keys` (sorted)."""
    blob = bytearray()
    key_ends = array("Q")
    key_hashes = array("I")
    prefixes = _Prefixes()
    found = iter(keys)
    while chunk := [prefixes[f] + t for f, t in islice(found, KEY_CHUNK)]:
        key_hashes.extend(map(key_hash, chunk))
        key_ends.extend(islice(accumulate(map(len, chunk), initial=len(blob)), 1, None))
        blob += b"".join(chunk)
    ends = np.frombuffer(key_ends, dtype=np.uint64) if key_ends else np.zeros(0, dtype=np.uint64)
    hashes = np.frombuffer(key_hashes, dtype=np.uint32) if key_hashes else np.zeros(0, np.uint32)
    by_hash = np.argsort(hashes, kind="stable")
    return {"keys": whole(np.frombuffer(blob, dtype=np.uint8), np.uint8),
            "key_ends": whole(ends), "hashes": whole(hashes[by_hash], np.uint32),
            "by_hash": whole(by_hash)}


def encode(keys: list[tuple[str, bytes]], starts: Any, ids: Any, weights: Any,
           pos_starts: Any, positions: Any, positional: Any = None) -> bytes:
    """Return the file for terms `keys` (sorted): term r's postings are
    `ids[starts[r]:starts[r+1]]`, posting j's positions `positions[pos_starts[j]:pos_starts[j+1]]`
    where `positional[r]` (default: the terms with any positions)."""
    if (len(starts) and int(starts[-1]) != len(ids)) or \
            (len(pos_starts) and int(pos_starts[-1]) != len(positions)):
        raise ValueError("flat postings: starts, ids, weights and positions do not agree")
    if positional is None:
        ps, st = np.asarray(pos_starts), np.asarray(starts)
        positional = ps[st[1:]] > ps[st[:-1]] if len(st) > 1 else np.zeros(0, dtype=bool)
    columns = {**key_columns(keys), "starts": whole(starts), "ids": whole(ids),
               "weights": whole(weights, np.float32), "pos_starts": whole(pos_starts),
               "positions": whole(positions), "positional": whole(positional, np.uint8)}
    return b"".join(pieces(columns))


COLUMNS = ("keys", "key_ends", "hashes", "by_hash", "starts", "ids", "weights", "positional",
           "pos_starts", "positions")


def pieces(columns: dict[str, Column]) -> Iterator[bytes | memoryview]:
    """Yield the file, piece by piece: `MAGIC`, header, then each column (module docstring).
    Whole numbers are stored in the smallest unsigned type that holds them (a segment
    of under 65,536 documents: 2-byte ids).

    Raises ValueError when the columns do not agree with each other or with their counts.
    """
    count = {name: c.count for name, c in columns.items()}
    n = count.get("ids", -1)
    rows = count.get("key_ends", -1)
    if set(count) != set(COLUMNS) or count["starts"] != rows + 1 or count["hashes"] != rows \
            or count["by_hash"] != rows or count["positional"] != rows \
            or count["weights"] != n or count["pos_starts"] != n + 1:
        raise ValueError("flat postings: starts, ids, weights and positions do not agree")
    return array_pieces(MAGIC, columns, COLUMNS)


def array_pieces(magic: bytes, columns: dict[str, Column], order: tuple[str, ...]
                 ) -> Iterator[bytes | memoryview]:
    """Yield a file of named arrays: `magic`, a uint32 header length, a JSON header
    naming each array's (offset, dtype, count), then the arrays (8-byte aligned) in
    `order`. Shared by every flat file of a segment (this one, search/lexicon.py)."""
    count = {name: c.count for name, c in columns.items()}
    header: dict[str, Any] = {"version": 1, "arrays": {}}
    # Offsets depend on the header's length, which depends on the offsets: fix the
    # header's size first with placeholders as wide as any real offset.
    for name in order:
        header["arrays"][name] = [0, np.dtype(columns[name].dtype).str, count[name]]
    size = len(json.dumps(header)) + 16 * len(order)
    pos = _aligned(len(magic) + 4 + size)
    for name in order:
        header["arrays"][name][0] = pos
        pos = _aligned(pos + count[name] * np.dtype(columns[name].dtype).itemsize)
    text = json.dumps(header).encode("ascii").ljust(size)
    written = len(magic) + 4 + size
    yield magic + struct.pack("<I", size) + text
    for name in order:
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
            raise ValueError(f"flat file: {name} has {seen} values, not {column.count}")
        written = offset + seen * np.dtype(column.dtype).itemsize


def read_header(view: memoryview, magic: bytes, order: tuple[str, ...],
                what: str = "flat postings") -> dict[str, tuple[int, str, int]]:
    """Return the (offset, dtype, count) of each array of an `array_pieces` file.

    Raises ValueError when the file is not one, or holds other arrays than `order`.
    """
    if bytes(view[:len(magic)]) != magic:
        raise ValueError(f"not a {what} file")
    (size,) = struct.unpack_from("<I", view, len(magic))
    header = json.loads(bytes(view[len(magic) + 4:len(magic) + 4 + size]))
    arrays = {name: (int(o), str(d), int(c)) for name, (o, d, c) in header["arrays"].items()}
    if set(arrays) != set(order):
        raise ValueError(f"{what}: unknown layout")
    return arrays


def _as_ints(view: memoryview, offset: int, dtype: str, count: int) -> memoryview:
    """Return an unsigned integer column of the file as a memoryview of Python ints."""
    kind = np.dtype(dtype)
    if kind.kind != "u" or kind.byteorder == ">":
        raise ValueError(f"flat postings: unexpected column type {dtype}")
    part = view[offset:offset + count * kind.itemsize]
    size = kind.itemsize
    return part.cast("B") if size == 1 else part.cast("H") if size == 2 else \
        part.cast("I") if size == 4 else part.cast("Q")


def expand_runs(lo: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """Return the positions lo[i], lo[i] + 1, ... (runs[i] of them) for every i, in order."""
    ends = np.cumsum(runs)
    return np.repeat(lo - (ends - runs), runs) + np.arange(int(ends[-1]) if len(ends) else 0)


def same_type(docs: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Return `docs` (sorted, >= 0) in `ids`' type, past its range dropped (none of them
    can be among `ids`): searchsorted would otherwise cast `ids` whole, each time."""
    top = np.iinfo(ids.dtype).max
    if len(docs) and docs[-1] > top:
        docs = docs[:np.searchsorted(docs, top, side="right")]
    return np.asarray(docs).astype(ids.dtype, copy=False)


def _aligned(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


class KeyedRows:
    """Rows found by term key: `keys`, `key_ends`, `hashes` and `by_hash` of a flat file
    (`key_columns`), read in place."""

    def _read_keys(self, view: memoryview, arrays: dict[str, tuple[int, str, int]]) -> None:
        # Read one value at a time (a lookup), as memoryviews: bisect over one takes
        # ~0.6 us, where numpy's searchsorted copies the whole array first when it is
        # unaligned (the file sits anywhere inside the segment's compound file).
        self._keys = view[arrays["keys"][0]:][:arrays["keys"][2]]
        self._key_ends = _as_ints(view, *arrays["key_ends"])
        self._hashes = _as_ints(view, *arrays["hashes"])
        self._by_hash = _as_ints(view, *arrays["by_hash"])

    def __len__(self) -> int:
        return len(self._hashes)

    def row(self, field: str, tbytes: bytes) -> int | None:
        """Return the term's row (None: the file does not hold it)."""
        key = key_of(field, tbytes)
        h = key_hash(key)
        hashes, ends = self._hashes, self._key_ends
        i = bisect_left(hashes, h)
        while i < len(hashes) and hashes[i] == h:
            r = self._by_hash[i]
            if self._keys[ends[r - 1] if r else 0:ends[r]] == key:
                return r  # type: ignore[no-any-return]
            i += 1
        return None


class FlatPostings(KeyedRows):
    """One segment's flat posting lists (module docstring), over a buffer it does not copy."""

    complete = True  # every term of the segment is here (a missing one is not in it)

    def __init__(self, buf: Any) -> None:
        view = memoryview(buf)
        layout = read_header(view, MAGIC, COLUMNS)
        arrays = {name: np.frombuffer(view, dtype=np.dtype(dtype), count=count, offset=offset)
                  for name, (offset, dtype, count) in layout.items()}
        self._read_keys(view, layout)
        self._starts = _as_ints(view, *layout["starts"])
        self._ids = arrays["ids"]
        self._weights = arrays["weights"]
        self._positional = arrays["positional"]
        self._pos_starts = arrays["pos_starts"]
        self._positions = arrays["positions"]

    def doc_frequency(self, field: str, tbytes: bytes) -> int | None:
        """Return how many of the segment's documents (deleted ones too) hold the term
        (None: not held), as Whoosh's term info says."""
        r = self.row(field, tbytes)
        return None if r is None else self._starts[r + 1] - self._starts[r]  # type: ignore[no-any-return]

    def lookup(self, field: str, tbytes: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """Return the term's (segment-local ids, weights), read-only; None: not held."""
        r = self.row(field, tbytes)
        if r is None:
            return None
        a, b = int(self._starts[r]), int(self._starts[r + 1])
        return self._ids[a:b], self._weights[a:b]

    def positions(self, field: str, tbytes: bytes, docs: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray] | None:
        """Return (document of each position, position) for the term in `docs` (sorted,
        segment-local), documents ascending: none when the segment does not hold the
        term; None when its positions are not here (read Whoosh's block)."""
        r = self.row(field, tbytes)
        if r is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        if not self._positional[r]:
            return None
        a, b = int(self._starts[r]), int(self._starts[r + 1])
        ids = self._ids[a:b]
        docs = same_type(docs, ids)
        k = np.searchsorted(ids, docs)
        inside = k < len(ids)
        hit = np.zeros(len(docs), dtype=bool)
        hit[inside] = ids[k[inside]] == docs[inside]
        j = k[hit] + a  # the postings of `docs` that hold the term
        begin = self._pos_starts[j].astype(np.int64)
        counts = self._pos_starts[j + 1].astype(np.int64) - begin
        return np.repeat(docs[hit], counts), self._positions[expand_runs(begin, counts)]


    def field_terms(self, field: str) -> tuple[list[bytes], np.ndarray, np.ndarray]:
        """Return the field's terms in order, with each one's first document (segment-
        local) and how many documents hold it: a unique field read without a lookup."""
        keys, ends = self._keys, self._key_ends
        prefix = key_of(field, b"")

        def field_at(r: int) -> str:
            key = bytes(keys[ends[r - 1] if r else 0:ends[r]])
            return key[:key.index(SEPARATOR)].decode("ascii")

        rows = range(len(self))  # sorted by (field, term)
        lo, hi = bisect_left(rows, field, key=field_at), bisect_right(rows, field, key=field_at)
        if hi == lo:
            return [], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        first = int(ends[lo - 1]) if lo else 0
        blob = bytes(keys[first:ends[hi - 1]])
        at = np.frombuffer(ends, dtype=ends.format)[lo:hi].astype(np.int64) - first
        begin = np.r_[0, at[:-1]] + len(prefix)
        terms = [blob[b:e] for b, e in zip(begin.tolist(), at.tolist(), strict=True)]
        starts = np.frombuffer(self._starts, dtype=self._starts.format)[lo:hi + 1].astype(np.int64)
        return terms, self._ids[starts[:-1]].astype(np.int64), np.diff(starts)


class _Absent(FlatPostings):
    """A segment without the file: nothing here, ask Whoosh."""

    complete = False

    def __init__(self) -> None:
        pass

    def __len__(self) -> int:
        return 0

    def row(self, field: str, tbytes: bytes) -> int | None:
        return None

    def positions(self, field: str, tbytes: bytes, docs: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray] | None:
        return None


ABSENT = _Absent()
_OPENED: weakref.WeakKeyDictionary[Any, FlatPostings] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _mapped(storage: Any, name: str) -> Any:
    """Return the file's bytes: a view of the compound segment's map when there is one.

    (Reading the file `CompoundStorage.open_file` gives would copy it whole.)
    """
    compound = getattr(storage, "a", storage)  # a segment reader's OverlayStorage
    if isinstance(compound, CompoundStorage) and compound._source is not None \
            and compound.file_exists(name):
        offset, length = compound.range(name)
        return memoryview(compound._source)[offset:offset + length]
    with storage.open_file(name) as f:
        return f.read()


def segment_file(leaf: Any, ext: str) -> Any:
    """Return the bytes of a segment reader's file named `<segment id><ext>` (a view of
    the compound file's map when there is one); None when the segment has no such file."""
    segment = leaf.segment() if hasattr(leaf, "segment") else None
    storage = getattr(leaf, "_storage", None)
    if segment is None or storage is None:
        return None
    name = segment.make_filename(ext)
    return _mapped(storage, name) if storage.file_exists(name) else None


def for_segment(leaf: Any) -> FlatPostings:
    """Return a segment reader's flat postings (empty when its segment has none), opened once.

    Kept on the segment reader: a new generation's readers open their own.
    """
    with _LOCK:
        found = _OPENED.get(leaf)
    if found is not None:
        return found
    buf = segment_file(leaf, EXT)
    found = ABSENT if buf is None else FlatPostings(buf)
    with _LOCK:
        _OPENED[leaf] = found
    return found
