"""A segment's postings records and term-table rows, laid out with numpy.

Each term's postings are blocks of up to 128: per block a pickle of (ids, weights,
values) and an info pickle, per term a header and a row for the terms table. Nearly
every term has one block. Made one term at a time in Python that was ~18 s of an
index worker's ~105 s over its 28k articles, about 20 us a term. Here a chunk of terms
is laid out at once: every opcode, integer, float and value byte goes to its place by
array indexing, and only zlib runs per block (those of `COMPRESSION_MIN_SIZE` bytes and
up). The bytes are what `pickle.dumps` and `W3PostingsWriter` write, byte for byte
(tests/test_blocks.py holds them equal), so a segment's files are the ones the per-term
path wrote. A term this layout does not cover (a one-byte value, which pickle memoizes
as a shared object; a pickle big enough for pickle to frame in pieces) is handed back
as rejected, for the caller to write through the codec.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from whoosh.codec.whoosh3 import COMPRESSION_MIN_SIZE, WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.util.numeric import _length_byte_cache

# How a field's format pickles a block's values (`W3PostingsWriter._mini_values`).
VAR = 0  # a tuple of the non-empty values (variable size: Positions)
NONE = 1  # None (no values: Existence)
JOINED = 2  # one bytes object, the values joined (fixed size: Frequency)

# Pickle opcodes (pickle.py's names).
_K, _M, _J = 0x4B, 0x4D, 0x4A  # BININT1, BININT2, BININT
_MARK, _TUPLE, _EMPTY_TUPLE, _TUPLE1 = 0x28, 0x74, 0x29, 0x85
_MEMOIZE, _BINPUT, _NONE, _BINFLOAT, _STOP = 0x94, 0x71, 0x4E, 0x47, 0x2E
_SHORT_BINBYTES, _BINBYTES = 0x43, 0x42
_PROTO, _FRAME = 0x80, 0x95
FRAME_LIMIT = 1 << 16  # pickle's FRAME_SIZE_TARGET: a larger pickle is framed in pieces
_HEADER = 11  # PROTO 4, FRAME and its 8-byte length
_MAGIC = np.frombuffer(WHOOSH3_HEADER_MAGIC, dtype=np.uint8)
_BYTES = np.asarray(_length_byte_cache, dtype=np.int64)
_LENGTH_MAX = 106374  # `length_to_byte`: this length and up are byte 255
_NO_LENGTH = 1 << 40  # above any field length: a block or term without one
BLOCK_LIMIT = 128  # postings in a block (W3Codec's `blocklimit`)

# A term's row value (`W3TermInfo._struct`, then the postings' offset and length).
ROW = np.dtype([("flags", "u1"), ("weight", ">f4"), ("df", ">u4"), ("minlength", "u1"),
                ("maxlength", "u1"), ("maxweight", ">f4"), ("minid", ">u4"),
                ("maxid", ">u4"), ("offset", ">i8"), ("length", ">i4")])
assert ROW.itemsize == W3TermInfo._struct.size + 12


@dataclass(frozen=True)
class Postings:
    """A segment's sorted postings as arrays: term t's are [bounds[t], bounds[t + 1])."""

    bounds: np.ndarray  # int64, one more than there are terms
    ids: np.ndarray  # uint32
    weights: np.ndarray  # float32
    data: np.ndarray  # uint8: every value's bytes; posting j's are data[begins[j]:ends[j]]
    begins: np.ndarray  # uint32
    ends: np.ndarray  # uint32
    lengths: np.ndarray  # uint32: each posting's document's field length (0: none)


@dataclass(frozen=True)
class Chunk:
    """Some terms' records, one term's after another, and their rows (offsets from 0)."""

    terms: np.ndarray  # the terms written, ascending
    rejected: np.ndarray  # the terms left to the caller
    data: bytes
    rows: np.ndarray  # ROW, one per written term

    def placed(self, base: int) -> np.ndarray:
        """The rows, for records written from `base` on."""
        rows = self.rows.copy()
        rows["offset"] += base
        return rows


def kind(fixed_size: int | None) -> int:
    """The values' pickling for a format's `fixed_value_size()`."""
    return VAR if fixed_size is None or fixed_size < 0 else NONE if fixed_size == 0 else JOINED


def build(terms: np.ndarray, got: Postings, values: int, compression: int,
          limit: int = BLOCK_LIMIT) -> Chunk:
    """Lay out the postings of `terms` (ascending), in blocks of `limit` postings, with
    `values` (VAR, NONE, JOINED) and zlib level `compression` (0: none), as
    `W3PostingsWriter` writes them: a term's records are the header magic, then per
    block its length (negative: the term's last block), its info pickle, its data."""
    terms = np.asarray(terms, dtype=np.int64)
    if not len(terms):
        return Chunk(terms, terms, b"", np.zeros(0, dtype=ROW))
    start = got.bounds[terms]
    n = got.bounds[terms + 1] - start
    per = (n + limit - 1) // limit  # blocks of each term
    bfirst = starts(per)  # each term's first block
    btix = np.repeat(np.arange(len(terms)), per)
    nth = np.arange(int(per.sum()), dtype=np.int64) - bfirst[btix]  # a block's place in its term
    lay = _Layout(start[btix] + nth * limit, np.minimum(limit, n[btix] - nth * limit), got,
                  values)
    bad = lay.rejected()
    if bad.any():
        bad = _sums(bad.astype(np.int64), bfirst) > 0
        chunk = build(terms[~bad], got, values, compression, limit)
        return Chunk(chunk.terms, np.sort(np.r_[chunk.rejected, terms[bad]]), chunk.data,
                     chunk.rows)
    pickles, plen = lay.pickles()
    pstart = starts(plen)
    comp = np.where(plen >= COMPRESSION_MIN_SIZE, compression, 0)
    dlen = plen.copy()
    packed: list[bytes] = []
    if compression:
        big = np.flatnonzero(comp)
        view = memoryview(pickles.data)
        packed = [zlib.compress(view[s:s + n], compression)
                  for s, n in zip(pstart[big].tolist(), plen[big].tolist(), strict=True)]
        dlen[big] = np.fromiter(map(len, packed), dtype=np.int64, count=len(packed))
    else:
        big = np.zeros(0, dtype=np.int64)

    # The info: (postings, last id, max weight, compression, min/max length bytes),
    # pickled at protocol 2.
    maxw = np.where(lay.wmax > 0, lay.wmax, 0.0)
    minbyte = np.where(lay.minlength > 0, _length_bytes(lay.minlength), 0)
    maxbyte = _length_bytes(lay.maxlength)
    wsize = np.where(maxw > 0, 9, 2)  # a float, or the int 0
    isize = (3 + _int_size(lay.n) + _int_size(lay.last) + wsize + _int_size(comp)
             + _int_size(minbyte) + _int_size(maxbyte) + 4)
    opening = nth == 0
    lastblock = np.zeros(len(nth), dtype=bool)
    lastblock[bfirst + per - 1] = True
    rlen = 4 * opening + 4 + isize + dlen
    rstart = starts(rlen)
    out = np.zeros(int(rlen.sum()), dtype=np.uint8)
    out[rstart[opening][:, None] + np.arange(4)] = _MAGIC
    at = rstart + 4 * opening
    _put_be32(out, at, np.where(lastblock, -1, 1) * (isize + dlen))
    at = at + 4
    out[at], out[at + 1], out[at + 2] = _PROTO, 2, _MARK
    at = at + 3
    for v in (lay.n, lay.last):
        _put_ints(out, at, v)
        at = at + _int_size(v)
    floats = maxw > 0
    _put_floats(out, at[floats], maxw[floats])
    out[at[~floats]] = _K  # K 0: the int 0 (the byte after it is already 0)
    at = at + wsize
    for v in (comp, minbyte, maxbyte):
        _put_ints(out, at, v)
        at = at + _int_size(v)
    out[at], out[at + 1], out[at + 3] = _TUPLE, _BINPUT, _STOP  # BINPUT 0
    at = at + 4
    plain = comp == 0
    copy(out, at[plain], pickles, pstart[plain], plen[plain])
    if len(big):
        zdata = np.frombuffer(b"".join(packed), dtype=np.uint8)
        copy(out, at[big], zdata, starts(dlen[big]), dlen[big])

    # Each term's row: its blocks' statistics together (`W3TermInfo.add_block`).
    rows = np.zeros(len(terms), dtype=ROW)
    rows["weight"] = _sums(lay.total, bfirst)
    rows["df"] = n
    least = np.where(lay.minlength > 0, lay.minlength, _NO_LENGTH)
    least = np.minimum.reduceat(least, bfirst)
    rows["minlength"] = np.where(least < _NO_LENGTH, _length_bytes(least), 0)
    rows["maxlength"] = _length_bytes(np.maximum.reduceat(lay.maxlength, bfirst))
    rows["maxweight"] = np.maximum.reduceat(maxw, bfirst)
    rows["minid"] = lay.ids[lay.first[bfirst]]
    rows["maxid"] = lay.last[bfirst + per - 1]
    rows["offset"] = rstart[bfirst]
    rows["length"] = _sums(rlen, bfirst)
    return Chunk(terms, np.zeros(0, dtype=np.int64), out.tobytes(), rows)


class _Layout:
    """Each block's pickle, sized per part (ids, weights, values), then laid out."""

    def __init__(self, start: np.ndarray, n: np.ndarray, got: Postings, values: int) -> None:
        self.n = n  # a block's postings: got's [start, start + n)
        self.values = values
        self.first = first = starts(n)  # each block's first posting, in this layout's order
        tix = self.tix = np.repeat(np.arange(len(n)), n)
        pj = np.arange(int(n.sum()), dtype=np.int64) - first[tix] + start[tix]
        ids = self.ids = got.ids[pj].astype(np.int64)
        self.last = ids[first + n - 1]
        idv = self.idv = ids.copy()  # the first id, then the differences
        idv[1:] -= ids[:-1]
        idv[first] = ids[first]
        self.idlen = _tuple_len(n, _sums(_int_size(idv), first))

        w = self.w = got.weights[pj].astype(np.float64)
        self.wmax = np.maximum.reduceat(w, first)
        self.total = np.add.reduceat(w, first)
        equal = np.minimum.reduceat(w, first) == self.wmax
        self.wkind = np.where(equal, np.where(w[first] == 1.0, 0, 1), 2)
        self.wlen = np.where(self.wkind == 0, 1,
                             np.where(self.wkind == 1, 9, _tuple_len(n, 9 * n)))

        lengths = got.lengths[pj].astype(np.int64)
        self.maxlength = np.maximum.reduceat(lengths, first)
        self.minlength = np.minimum.reduceat(np.where(lengths > 0, lengths, _NO_LENGTH), first)
        self.minlength[self.minlength == _NO_LENGTH] = 0  # none: length_to_byte(None)

        self.src = got.begins[pj].astype(np.int64)
        vl = self.vl = got.ends[pj].astype(np.int64) - self.src
        self.data = got.data
        if values == NONE:
            self.vlen: np.ndarray = np.ones(len(n), dtype=np.int64)
        elif values == VAR:
            nonempty = vl > 0
            self.item = np.where(nonempty, _bytes_len(vl), 0)
            self.vn = _sums(nonempty.astype(np.int64), first)
            self.vlen = np.where(self.vn == 0, 1, _tuple_len(self.vn, _sums(self.item, first)))
        else:
            self.joined = _sums(vl, first)
            self.vlen = _bytes_len(self.joined)
        self.plen = _HEADER + self.idlen + self.wlen + self.vlen + 3

    def rejected(self) -> np.ndarray:
        """Blocks whose pickle this layout does not write as pickle would."""
        bad = (self.plen >= FRAME_LIMIT) | (self.ids[self.first + self.n - 1] >= 1 << 31)
        if self.values == VAR:
            bad |= _sums((self.vl == 1).astype(np.int64), self.first) > 0
        return bad

    def pickles(self) -> tuple[np.ndarray, np.ndarray]:
        """Every block's pickle of (ids, weights, values), one after another, and their
        lengths: `pickle.dumps((ids, weights, values), 4)`."""
        n, first, tix, plen = self.n, self.first, self.tix, self.plen
        start = starts(plen)
        out = np.zeros(int(plen.sum()), dtype=np.uint8)
        out[start], out[start + 1], out[start + 2] = _PROTO, 4, _FRAME
        _put_le(out, start + 3, plen - _HEADER, 4)  # the frame's length (8 bytes, < 2**32)

        at = start + _HEADER  # the ids: (first, differences...)
        _put_ints(out, at[tix] + _opens(n)[tix] + _within(_int_size(self.idv), first, tix),
                  self.idv)
        _put_tuple(out, at, n, self.idlen)

        at = at + self.idlen  # the weights: None (all 1.0), one float (all equal), a tuple
        out[at[self.wkind == 0]] = _NONE
        one = self.wkind == 1
        _put_floats(out, at[one], self.w[first[one]])
        many = self.wkind == 2
        mine = many[tix]
        _put_floats(out, (at[tix] + _opens(n)[tix] + 9 * _within(np.ones_like(tix), first, tix))
                    [mine], self.w[mine])
        _put_tuple(out, at[many], n[many], self.wlen[many])

        at = at + self.wlen
        if self.values == NONE:
            out[at] = _NONE
        elif self.values == VAR:
            item = at[tix] + _opens(self.vn)[tix] + _within(self.item, first, tix)
            self._put_bytes(out, item, self.vl > 0)
            empty = self.vn == 0
            out[at[empty]] = _EMPTY_TUPLE
            _put_tuple(out, at[~empty], self.vn[~empty], self.vlen[~empty])
        else:
            head = _put_bytes_head(out, at, self.joined)  # one bytes object: the values joined
            copy(out, at[tix] + head[tix] + _within(self.vl, first, tix), self.data, self.src,
                 self.vl)
            out[at + head + self.joined] = _MEMOIZE
        end = at + self.vlen
        out[end], out[end + 1], out[end + 2] = _TUPLE1 + 2, _MEMOIZE, _STOP  # TUPLE3 of the parts
        return out, plen

    def _put_bytes(self, out: np.ndarray, at: np.ndarray, mask: np.ndarray) -> None:
        """Each masked posting's value as a bytes object at `at`: SHORT_BINBYTES or
        BINBYTES, its length, its bytes, MEMOIZE."""
        at, vl = at[mask], self.vl[mask]
        head = _put_bytes_head(out, at, vl)
        copy(out, at + head, self.data, self.src[mask], vl)
        out[at + head + vl] = _MEMOIZE


def _bytes_len(size: np.ndarray) -> np.ndarray:
    """Bytes of a pickled bytes object of `size` bytes: opcode, length, bytes, MEMOIZE."""
    return size + np.where(size < 256, 3, 6)


def _put_bytes_head(out: np.ndarray, at: np.ndarray, size: np.ndarray) -> np.ndarray:
    """SHORT_BINBYTES (a one-byte length) or BINBYTES (four) at `at`; return each head's
    length (where the bytes go)."""
    big = size >= 256
    out[at] = np.where(big, _BINBYTES, _SHORT_BINBYTES)
    _put_le(out, at + 1, size, 1)
    _put_le(out, (at + 2)[big], size[big] >> 8, 3)
    return np.where(big, 5, 2)


def starts(lengths: np.ndarray) -> np.ndarray:
    """Where each of consecutive pieces of these lengths starts."""
    ends = np.cumsum(lengths)
    return ends - lengths


def _sums(x: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Each group's sum of `x`, the groups starting at `first` (none empty)."""
    return np.add.reduceat(x, first)


def _within(x: np.ndarray, first: np.ndarray, tix: np.ndarray) -> np.ndarray:
    """Per posting, the sum of `x` over the postings before it in its term."""
    before = np.cumsum(x) - x
    return before - before[first][tix]


def _int_size(v: np.ndarray) -> np.ndarray:
    """Bytes of a pickled non-negative int below 2**31: BININT1, BININT2 or BININT."""
    return np.where(v < 0x100, 2, np.where(v < 0x10000, 3, 5))


def _put_ints(out: np.ndarray, at: np.ndarray, v: np.ndarray) -> None:
    size = _int_size(v)
    out[at] = np.where(size == 2, _K, np.where(size == 3, _M, _J))
    _put_le(out, at + 1, v, 1)
    wide = size > 2
    _put_le(out, (at + 2)[wide], v[wide] >> 8, 1)
    wide = size > 3
    _put_le(out, (at + 3)[wide], v[wide] >> 16, 2)


def _put_le(out: np.ndarray, at: np.ndarray, v: np.ndarray, nbytes: int) -> None:
    """`nbytes` of each `v`, little-endian, at `at`."""
    for k in range(nbytes):
        out[at + k] = (v >> (8 * k)) & 0xFF


def _put_be32(out: np.ndarray, at: np.ndarray, v: np.ndarray) -> None:
    """Each `v` (a signed 32-bit int) big-endian, as `whoosh.system.pack_int`."""
    out[at[:, None] + np.arange(4)] = v.astype(">i4").view(np.uint8).reshape(-1, 4)


def _put_floats(out: np.ndarray, at: np.ndarray, v: np.ndarray) -> None:
    """BINFLOAT: the opcode, then the double big-endian."""
    out[at] = _BINFLOAT
    out[at[:, None] + 1 + np.arange(8)] = v.astype(">f8").view(np.uint8).reshape(-1, 8)


def _opens(n: np.ndarray) -> np.ndarray:
    """1 where a tuple of `n` items starts with MARK (more than three items)."""
    return (n > 3).astype(np.int64)


def _tuple_len(n: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Bytes of a pickled tuple of `n` (> 0) items taking `items` bytes: TUPLE1/2/3 or
    MARK ... TUPLE, then MEMOIZE."""
    return _opens(n) + items + 2


def _put_tuple(out: np.ndarray, at: np.ndarray, n: np.ndarray, length: np.ndarray) -> None:
    """The opcodes around tuples of `n` (> 0) items `length` bytes long from `at`."""
    opened = n > 3
    out[at[opened]] = _MARK
    close = at + length - 2
    out[close] = np.where(opened, _TUPLE, _TUPLE1 - 1 + np.minimum(n, 3))
    out[close + 1] = _MEMOIZE


COPY_BYTES = 1 << 18  # bytes `copy` moves at once: its index arrays take 24 bytes a byte


def copy(out: np.ndarray, at: np.ndarray, src: np.ndarray, begins: np.ndarray,
         lengths: np.ndarray) -> None:
    """Copy `src[begins[i]:begins[i] + lengths[i]]` to `out[at[i]:...]`, for every i."""
    ends = np.cumsum(lengths)
    i = 0
    while i < len(lengths):
        # The pieces up to about COPY_BYTES (at least one), by one gather and scatter.
        j = max(i + 1, int(np.searchsorted(ends, ends[i] - lengths[i] + COPY_BYTES, "right")))
        n = lengths[i:j]
        step = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(starts(n), n)
        out[np.repeat(at[i:j], n) + step] = src[np.repeat(begins[i:j], n) + step]
        i = j


def _length_bytes(lengths: np.ndarray) -> np.ndarray:
    """`length_to_byte` of each length (> 0)."""
    return np.where(lengths >= _LENGTH_MAX, 255, np.searchsorted(_BYTES, lengths, side="left"))
