"""indexer/blocks.py lays out one-block records byte for byte as pickle and Whoosh would."""

from __future__ import annotations

import zlib
from operator import sub
from pickle import dumps, loads
from struct import Struct

import numpy as np
import pytest
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.system import pack_int
from whoosh.util.numeric import length_to_byte

from indexer import blocks
from indexer.segwriter import BLOCK_PROTOCOL, _block

ROW = Struct(W3TermInfo._struct.format + "qi")


def reference(got: blocks.Postings, data: bytes, t: int, values: int, compression: int,
              offset: int, limit: int = blocks.BLOCK_LIMIT) -> tuple[bytes, bytes]:
    """Term t's records and row, one Python object at a time as the codec makes them:
    `W3PostingsWriter._write_block` per block, `W3TermInfo.add_block` and `to_bytes`."""
    s, e = int(got.bounds[t]), int(got.bounds[t + 1])
    record = WHOOSH3_HEADER_MAGIC
    total, minlength, maxlength, maxweight = 0.0, None, 0, 0
    for bs in range(s, e, limit):
        be = min(e, bs + limit)
        ids = [int(x) for x in got.ids[bs:be]]
        weights = [float(x) for x in got.weights[bs:be]]
        # Sliced from a bytes object, as the segment writer does: a one-byte value is
        # then Python's shared object, which pickle writes once and refers back to.
        found = [data[b:f] for b, f in zip(got.begins[bs:be].tolist(),
                                           got.ends[bs:be].tolist(), strict=True) if f > b]
        vals = tuple(found) if values == blocks.VAR else None if values == blocks.NONE \
            else b"".join(found)
        if weights.count(weights[0]) == len(weights):
            mini: object = None if weights[0] == 1.0 else weights[0]
        else:
            mini = tuple(weights)
        databytes = dumps(((ids[0], *map(sub, ids[1:], ids)), mini, vals), BLOCK_PROTOCOL)
        top = max(weights)
        top = top if top > 0 else 0
        lens = [int(x) for x in got.lengths[bs:be] if x]
        low = min(lens) if lens else None
        high = max(lens) if lens else 0
        info, body = _block(compression, databytes, len(ids), ids[-1], top,
                            length_to_byte(low), length_to_byte(high))
        size = len(info) + len(body)
        record += pack_int(-size if be == e else size) + info + body
        total += sum(weights)
        minlength = low if minlength is None else min(minlength, low) if low else minlength
        maxlength, maxweight = max(maxlength, high), max(maxweight, top)
    row = ROW.pack(0, total, e - s, length_to_byte(minlength), length_to_byte(maxlength),
                   maxweight, int(got.ids[s]), int(got.ids[e - 1]), offset, len(record))
    return record, row


def postings(rng: np.random.Generator, terms: int, values: int, *, big_values: bool = False,
             one_byte: bool = False) -> tuple[blocks.Postings, bytes]:
    """Random sorted postings: 1-300 per term, ids increasing per term (some past 2**16
    and 2**24), weights all 1, all equal or varied, values of 0-400 bytes."""
    n = rng.choice([1, 1, 1, 2, 3, 4, 5, 17, 128, 129, 300], size=terms)
    bounds = np.r_[0, np.cumsum(n)].astype(np.int64)
    ids, weights = [], []
    for k in n:
        top = rng.choice([300, 70_000, 1 << 26])
        ids.append(np.sort(rng.choice(max(top, 1000), size=k, replace=False)))
        kind = rng.integers(3)
        weights.append(np.ones(k) if kind == 0 else np.full(k, rng.choice([2.0, 0.5, 3.0]))
                       if kind == 1 else rng.integers(1, 9, size=k) * 1.5)
    total = int(bounds[-1])
    if values == blocks.JOINED:
        sizes = np.full(total, 4)
    else:
        sizes = rng.choice([2, 3, 7, 40] + ([255, 256, 400] if big_values else [])
                           + ([1] if one_byte else []), size=total)
        if values == blocks.VAR:
            sizes[rng.random(total) < 0.02] = 0  # an empty value: left out of the tuple
    if values == blocks.NONE:
        sizes[:] = 0
    # Values stored out of order, as a pool holds them (arrival order, not term order).
    order = rng.permutation(total)
    ends_stored = np.cumsum(sizes[order])
    begins_stored = ends_stored - sizes[order]
    begins, ends = np.empty(total, np.int64), np.empty(total, np.int64)
    begins[order], ends[order] = begins_stored, ends_stored
    data = rng.integers(0, 256, size=int(sizes.sum()), dtype=np.uint8).tobytes()
    lengths = rng.choice([0, 1, 5, 300, 200_000], size=total).astype(np.uint32)
    got = blocks.Postings(bounds, np.concatenate(ids).astype(np.uint32),
                          np.concatenate(weights).astype(np.float32),
                          np.frombuffer(data, dtype=np.uint8), begins.astype(np.uint32),
                          ends.astype(np.uint32), lengths)
    return got, data


@pytest.mark.parametrize("values", [blocks.VAR, blocks.NONE, blocks.JOINED])
@pytest.mark.parametrize("compression", [0, 3])
@pytest.mark.parametrize("limit", [blocks.BLOCK_LIMIT, 5])
def test_records_and_rows_are_the_codecs_byte_for_byte(values: int, compression: int,
                                                       limit: int) -> None:
    rng = np.random.default_rng(values * 10 + compression + limit)
    got, data = postings(rng, 300, values, big_values=True)
    terms = np.arange(0, 300, 1 + (values == blocks.NONE))  # every term, or every other
    chunk = blocks.build(terms, got, values, compression, limit)
    assert chunk.terms.tolist() == terms.tolist() and not len(chunk.rejected)
    base = 1000
    rows = chunk.placed(base)
    at = 0
    for i, t in enumerate(terms.tolist()):
        record, row = reference(got, data, t, values, compression, base + at, limit)
        assert chunk.data[at:at + len(record)] == record, t
        assert rows[i].tobytes() == row, t
        at += len(record)
    assert at == len(chunk.data)


def test_blocks_load_as_the_terms_postings() -> None:
    got, _data = postings(np.random.default_rng(7), 50, blocks.VAR)
    chunk = blocks.build(np.arange(50), got, blocks.VAR, 3, limit=5)
    at = 0
    for t, row in zip(chunk.terms.tolist(), chunk.placed(0), strict=True):
        length = int(row["length"])
        record = chunk.data[at:at + length]
        assert record[:4] == WHOOSH3_HEADER_MAGIC
        pos, found, values = 4, [], 0
        while True:  # each block: its length (negative: the last), info, data
            size = int.from_bytes(record[pos:pos + 4], "big", signed=True)
            block = record[pos + 4:pos + 4 + abs(size)]
            info = loads(block)
            body = block[len(dumps(info, 2)):]
            ids, _weights, vals = loads(zlib.decompress(body) if info[3] else body)
            found.extend(np.cumsum(ids).tolist())
            values += len(vals)
            pos += 4 + abs(size)
            if size < 0:
                break
        assert pos == len(record)
        s, e = int(got.bounds[t]), int(got.bounds[t + 1])
        assert found == got.ids[s:e].tolist()
        assert values == sum(1 for j in range(s, e) if got.ends[j] > got.begins[j])
        at += length
    assert at == len(chunk.data)


def test_terms_it_does_not_lay_out_are_handed_back() -> None:
    # One-byte values (shared objects, which pickle refers back to) and pickles past a
    # frame (which pickle splits) are the caller's to write; the rest are laid out.
    rng = np.random.default_rng(3)
    got, data = postings(rng, 300, blocks.VAR, one_byte=True)
    chunk = blocks.build(np.arange(300), got, blocks.VAR, 3)
    sizes = got.ends.astype(np.int64) - got.begins
    has_one = [bool((sizes[got.bounds[t]:got.bounds[t + 1]] == 1).any()) for t in range(300)]
    assert chunk.rejected.tolist() == [t for t in range(300) if has_one[t]]
    assert sorted(chunk.terms.tolist() + chunk.rejected.tolist()) == list(range(300))
    at = 0
    for i, t in enumerate(chunk.terms.tolist()):
        record, row = reference(got, data, t, blocks.VAR, 3, at)
        assert chunk.data[at:at + len(record)] == record
        assert chunk.placed(0)[i].tobytes() == row
        at += len(record)
    # A pickle of 64 KiB or more.
    n = 128
    bounds = np.array([0, n], dtype=np.int64)
    big = blocks.Postings(bounds, np.arange(n, dtype=np.uint32), np.ones(n, np.float32),
                          np.zeros(n * 600, np.uint8),
                          np.arange(0, n * 600, 600).astype(np.uint32),
                          np.arange(600, n * 600 + 1, 600).astype(np.uint32),
                          np.zeros(n, np.uint32))
    chunk = blocks.build(np.array([0]), big, blocks.VAR, 3)
    assert chunk.rejected.tolist() == [0] and not len(chunk.terms)


def test_length_bytes_are_length_to_byte() -> None:
    lengths = np.r_[np.arange(1, 5000), np.arange(5000, 300_000, 97), [106373, 106374, 10**7]]
    assert blocks._length_bytes(lengths).tolist() == [length_to_byte(int(x)) for x in lengths]
