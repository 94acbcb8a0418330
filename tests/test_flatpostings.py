"""Flat posting lists (search/flatpostings.py): the same postings as Whoosh's blocks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from whoosh import index as whoosh_index
from whoosh.formats import Positions

from indexer import segwriter
from indexer.segwriter import TermPoolWriter
from search import docsets, flatpostings
from search.models import Article
from search.schema import build_schema, to_document
from tests.jobfixtures import collection_lines
from tests.test_segwriter import _articles, _build


def _blocks(leaf: Any, field: str, tbytes: bytes
            ) -> tuple[list[int], list[float], list[tuple[int, int]]]:
    """A term's postings as Whoosh's matcher reads them, block by block: ids, weights and
    (id, position) pairs (none for a field without positions)."""
    m = leaf.postings(field, tbytes)
    ids, weights, positions = [], [], []
    positional = type(leaf.schema[field].format) is Positions
    while m.is_active():
        ids.append(m.id())
        weights.append(m.weight())
        if positional:
            positions.extend((m.id(), p) for p in m.value_as("positions"))
        m.next()
    return ids, weights, positions


def assert_flat_matches_blocks(ix: Any) -> int:
    """Every term is in the flat file with Whoosh's postings and document frequency; the
    terms longer than a block in fields with positions have their positions too."""
    checked = with_positions = 0
    with ix.reader() as reader:
        for leaf, _base in reader.leaf_readers():
            flat = flatpostings.for_segment(leaf)
            assert flat.complete
            terms = 0
            for field, tbytes in leaf.all_terms():
                terms += 1
                got = flat.lookup(field, tbytes)
                assert got is not None, (field, tbytes)
                ids, weights, positions = _blocks(leaf, field, tbytes)
                assert got[0].tolist() == ids, (field, tbytes)
                assert got[1].tolist() == weights, (field, tbytes)
                assert flat.doc_frequency(field, tbytes) == leaf.doc_frequency(field, tbytes)
                where = flat.positions(field, tbytes, got[0][::2].copy())
                if leaf.doc_frequency(field, tbytes) <= 128 or not positions:
                    assert where is None, (field, tbytes)
                    continue
                assert where is not None, (field, tbytes)
                assert list(zip(where[0].tolist(), where[1].tolist(), strict=True)) == \
                    [(d, p) for d, p in positions if d in set(ids[::2])], (field, tbytes)
                checked += 1
                with_positions += bool(positions)
            assert terms == len(flat)
            assert flat.lookup("body", b"zzz-not-a-word") is None
            assert flat.doc_frequency("body", b"zzz-not-a-word") is None
            empty = flat.positions("body", b"zzz-not-a-word", np.array([0, 1]))
            assert empty is not None and len(empty[0]) == 0
    return checked


@pytest.mark.parametrize("chunk", [segwriter.POSITIONS_CHUNK, 7])
def test_flat_postings_are_whooshs_postings(tmp_path: Path, chunk: int,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Positions are unpickled, and term keys made, a chunk at a time: 7 makes many chunks."""
    monkeypatch.setattr(segwriter, "POSITIONS_CHUNK", chunk)
    monkeypatch.setattr(flatpostings, "KEY_CHUNK", min(chunk, flatpostings.KEY_CHUNK))
    ix = _build(tmp_path / "pool", TermPoolWriter, [to_document(a) for a in _articles(700)])
    assert assert_flat_matches_blocks(ix) >= 10  # "item", "of", "part", the source's words...


def test_flat_postings_on_real_articles(tmp_path: Path, shared_data: Path) -> None:
    docs = []
    for name in ("saudinewsnet", "reuters21578"):
        for line in collection_lines(shared_data, name, 400):
            record = json.loads(line)
            docs.append(to_document(Article(
                id=f"{name}-{len(docs)}", title=record.get("title") or "",
                body=record.get("body") or "", source=name,
                language="ar" if name == "saudinewsnet" else "en")))
    ix = _build(tmp_path / "pool", TermPoolWriter, docs)
    assert assert_flat_matches_blocks(ix) >= 50  # terms with positions kept flat


def test_searches_read_flat_postings_without_deleted_documents(tmp_path: Path) -> None:
    """`docsets.postings` and `docsets.among` give what Whoosh's matchers give, deletions
    applied, whether a segment has the flat file (written by the pool) or not (Whoosh's)."""
    docs = [to_document(a) for a in _articles(700)]
    built = []
    for name, make in (("whoosh", lambda ix: ix.writer()), ("pool", TermPoolWriter)):
        ix = _build(tmp_path / name, make, docs)
        writer = ix.writer()
        for i in (0, 3, 5, 130, 131, 600):
            writer.delete_by_term("id", f"a{i}")
        writer.commit(merge=False)
        built.append(whoosh_index.open_dir(str(tmp_path / name)))
    results = []
    for ix in built:
        with ix.searcher() as s:
            reader = s.reader()
            leaf = reader.leaf_readers()[0][0]
            assert leaf.has_deletions()
            has_flat = flatpostings.for_segment(leaf).lookup("body", b"item") is not None
            ids, weights = docsets.postings(reader, "body", "item")
            assert ids.tolist() == list(reader.postings("body", "item").all_ids())
            assert ids.dtype == np.int64 and weights.dtype == np.float64
            wanted = sorted(set(range(0, 700, 3)) - {0, 3, 130, 600})
            among = docsets.among(reader, "body", "item", wanted)
            assert sorted(among) == sorted(set(wanted) & set(ids.tolist()))
            results.append((has_flat, ids.tolist(), weights.tolist(), among))
    (whoosh_flat, *whoosh_got), (pool_flat, *pool_got) = results
    assert (whoosh_flat, pool_flat) == (False, True)
    assert whoosh_got == pool_got and len(pool_got[0]) == 700 * 3 // 5 - 4


def test_a_segment_written_by_whoosh_has_no_flat_postings(tmp_path: Path) -> None:
    ix = _build(tmp_path / "whoosh", lambda ix: ix.writer(), [to_document(a) for a in _articles(200)])
    with ix.reader() as reader:
        flat = flatpostings.for_segment(reader.leaf_readers()[0][0])
        assert len(flat) == 0 and flat.lookup("body", b"item") is None and not flat.complete
    assert flat.positions("body", b"item", np.array([1])) is None


def test_encode_round_trip_and_refusals() -> None:
    keys = [("body", b"a\xffb\x00"), ("pub_ts", b"\x00\x01"), ("title", "é".encode())]
    starts = np.array([0, 2, 2, 5])
    ids = np.array([1, 9, 0, 4, 70_000])  # past 2 bytes: 4-byte ids
    weights = np.array([1.0, 2.5, 1.0, 1.0, 3.0])
    pos_starts = np.array([0, 2, 3, 3, 3, 3])  # body's postings have positions; the others none
    positions = np.array([4, 9, 0])
    flat = flatpostings.FlatPostings(flatpostings.encode(keys, starts, ids, weights, pos_starts,
                                                         positions))
    assert len(flat) == 3
    got = flat.lookup("body", b"a\xffb\x00")
    assert got is not None and got[0].tolist() == [1, 9] and got[1].tolist() == [1.0, 2.5]
    empty = flat.lookup("pub_ts", b"\x00\x01")
    assert empty is not None and len(empty[0]) == 0
    assert flat.lookup("title", "é".encode())[0].tolist() == [0, 4, 70_000]  # type: ignore[index]
    assert flat.lookup("title", b"x") is None and flat.doc_frequency("title", b"x") is None
    assert flat.doc_frequency("title", "é".encode()) == 3
    docs, where = flat.positions("body", b"a\xffb\x00", np.array([1, 5, 9]))  # type: ignore[misc]
    assert docs.tolist() == [1, 1, 9] and where.tolist() == [4, 9, 0]
    assert flat.positions("title", "é".encode(), np.array([4, 70_000])) is None  # none kept
    docs, where = flat.positions("title", b"x", np.array([4]))  # type: ignore[misc]
    assert docs.tolist() == [] and where.tolist() == []  # not in the segment at all
    small = flatpostings.FlatPostings(flatpostings.encode(keys, starts, ids % 60_000, weights,
                                                          pos_starts, positions))
    assert small._ids.dtype == np.uint16 and flat._ids.dtype == np.uint32
    docs, _where = small.positions("body", b"a\xffb\x00",  # type: ignore[misc]
                                   np.array([9, 65_536 + 1]))
    assert docs.tolist() == [9]  # 65,537 is past 2-byte ids: not wrapped round to 1
    assert small.lookup("title", "é".encode())[0].tolist() == [0, 4, 10_000]  # type: ignore[index]
    with pytest.raises(ValueError, match="agree"):
        flatpostings.encode(keys, starts[:3], ids, weights, pos_starts, positions)
    with pytest.raises(ValueError, match="agree"):
        flatpostings.encode(keys, starts, ids, weights, pos_starts, positions[:2])
    with pytest.raises(ValueError, match="not a flat postings file"):
        flatpostings.FlatPostings(b"garbage" * 4)
    assert build_schema()  # the schema's fields are ASCII names: the separator is safe
    assert all(name.isascii() for name in build_schema().names())


def test_terms_whose_hashes_collide_are_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flatpostings, "key_hash", lambda key: 7 if b"a" in key else 3)
    keys = [("body", b"a"), ("body", b"ab"), ("body", b"b"), ("title", b"a")]
    flat = flatpostings.FlatPostings(flatpostings.encode(
        keys, np.array([0, 1, 3, 4, 6]), np.array([5, 1, 2, 9, 0, 8]), np.ones(6),
        np.zeros(7, dtype=np.int64), np.zeros(0)))
    got = {k: flat.lookup(*k)[0].tolist() for k in keys}  # type: ignore[index]
    assert got == {("body", b"a"): [5], ("body", b"ab"): [1, 2], ("body", b"b"): [9],
                   ("title", b"a"): [0, 8]}
    assert flat.lookup("body", b"abc") is None and flat.lookup("title", b"b") is None


def test_a_merged_segment_has_flat_postings(tmp_path: Path) -> None:
    """An update that merges segments (`optimize`, deletions dropped) writes the merged
    segment's flat postings too, through Whoosh's own posting loop."""
    articles = _articles(400)
    ix = _build(tmp_path / "pool", TermPoolWriter, [to_document(a) for a in articles[:250]])
    writer = TermPoolWriter(ix)
    for a in articles[250:]:
        writer.add_document(**to_document(a))
    writer.delete_by_term("id", "a3")
    writer.commit(optimize=True)
    merged = whoosh_index.open_dir(str(tmp_path / "pool"))
    assert len(merged._segments()) == 1
    assert assert_flat_matches_blocks(merged) >= 5
    with merged.searcher() as s:
        assert not s.reader().has_deletions()
        assert flatpostings.for_segment(s.reader().leaf_readers()[0][0]).complete
        ids, _w = docsets.postings(s.reader(), "body", "item")
        assert ids.tolist() == list(s.reader().postings("body", "item").all_ids())
        assert len(ids) > 200
