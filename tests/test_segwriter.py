"""TermPoolWriter writes the segment Whoosh's SegmentWriter writes: same terms, postings, blocks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from whoosh import index as whoosh_index
from whoosh.writing import PostingPool, SegmentWriter

from indexer.segwriter import Keys, TermPool, TermPoolWriter
from search.models import Article
from search.schema import build_schema, to_document
from tests.jobfixtures import collection_lines

TEXTS = [
    ("en", "Negotiations resumed", "The Security Council's negotiations on Gaza resumed; "
     "negotiators said it was the end of the talks."),
    ("tr", "Müzakereler", "Türkiye'nin müzakereleri: Dışişleri Bakanı İstanbul'da konuştu."),
    ("ar", "المفاوضات", "وقالت الحكومة إن المفاوضات الجارية مع الأطراف ستستمر، ولكن بشروط."),
    ("de", "Haushalt", "Die Verhandlungen über den Haushalt wurden in Berlin fortgesetzt."),
    ("en", "Empty", ""),
]


def _articles(n: int) -> list[Article]:
    """Articles in several languages; "negotiations" is in enough of them for many blocks."""
    out = []
    for i in range(n):
        lang, title, body = TEXTS[i % len(TEXTS)]
        out.append(Article(
            id=f"a{i}", title=f"{title} {i}", body=f"{body} Item {i} of {n}, part {i % 7}.",
            source=f"Source {i % 3}", language=lang,
            published=dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=i % 400),
        ))
    return out


def _build(root: Path, make: Any, docs: list[dict[str, Any]]) -> Any:
    root.mkdir()
    ix = whoosh_index.create_in(str(root), build_schema())
    writer = make(ix)
    for doc in docs:
        writer.add_document(**doc)
    writer.commit()
    return whoosh_index.open_dir(str(root))


def _postings(reader: Any, field: str, text: bytes) -> list[tuple[Any, ...]]:
    m = reader.postings(field, text)
    out = []
    while m.is_active():
        out.append((m.id(), m.weight(), m.value(), m.block_min_length(),
                    m.block_max_length(), m.block_max_weight()))
        m.next()
    return out


def assert_same_index(a: Any, b: Any) -> int:
    """Assert two indexes hold the same terms, term statistics, postings and documents."""
    with a.reader() as ra, b.reader() as rb:
        terms = list(ra.all_terms())
        assert terms == list(rb.all_terms())
        postings = 0
        for field, text in terms:
            ia, ib = ra.term_info(field, text), rb.term_info(field, text)
            for attr in ("_weight", "_df", "_minlength", "_maxlength", "_maxweight",
                         "_minid", "_maxid"):
                assert getattr(ia, attr) == getattr(ib, attr), (field, text, attr)
            pa = _postings(ra, field, text)
            assert pa == _postings(rb, field, text), (field, text)
            postings += len(pa)
        assert list(ra.all_stored_fields()) == list(rb.all_stored_fields())
        for field in ra.schema.scorable_names():
            assert ra.field_length(field) == rb.field_length(field)
            assert [ra.doc_field_length(d, field) for d in range(ra.doc_count_all())] == \
                [rb.doc_field_length(d, field) for d in range(rb.doc_count_all())]
        return postings


def test_same_segment_as_whoosh(tmp_path: Path) -> None:
    docs = [to_document(a) for a in _articles(700)]
    a = _build(tmp_path / "whoosh", lambda ix: ix.writer(), docs)
    b = _build(tmp_path / "pool", TermPoolWriter, docs)
    assert assert_same_index(a, b) > 5000
    with b.reader() as r:  # a term long enough for several blocks of postings (en, ar, "")
        assert len(_postings(r, "body", b"item")) == 700 * 3 // 5


def test_same_segment_with_boosts_and_varied_fields(tmp_path: Path) -> None:
    """Per-document and per-field boosts, and documents with different sets of fields
    (what the writer looks up once per field and per set of names)."""
    docs = []
    for i, a in enumerate(_articles(120)):
        doc = to_document(a)
        if i % 3 == 0:
            doc["_boost"] = 1.5
        if i % 4 == 1:
            doc["_title_boost"] = 2.0
        if i % 5 == 2:
            del doc["summary"]
        docs.append(doc)
    a = _build(tmp_path / "whoosh", lambda ix: ix.writer(), docs)
    b = _build(tmp_path / "pool", TermPoolWriter, docs)
    assert assert_same_index(a, b) > 1000
    with b.reader() as r:
        weights = {w for _d, w, *_rest in _postings(r, "title", b"negoti")}
        assert len(weights) > 1  # the boosts reached the postings


def test_same_segment_on_real_articles(tmp_path: Path, shared_data: Path) -> None:
    schema = build_schema()
    docs = []
    for name in ("news9", "saudinewsnet", "reuters21578"):
        for line in collection_lines(shared_data, name, 120):
            record = json.loads(line)
            docs.append(to_document(Article(
                id=f"{name}-{len(docs)}", title=record.get("title") or "",
                body=record.get("body") or "", source=name,
                language="ar" if name == "saudinewsnet" else "en")))
    assert set(docs[0]) <= set(schema.names()) | {k for k in docs[0] if k.startswith("_")}
    a = _build(tmp_path / "whoosh", lambda ix: ix.writer(), docs)
    b = _build(tmp_path / "pool", TermPoolWriter, docs)
    assert assert_same_index(a, b) > 50_000


def test_merging_segments_in_gives_the_same_index(tmp_path: Path) -> None:
    """Postings merged from other segments (add_reader) take Whoosh's own loop."""
    articles = _articles(300)
    first = [to_document(a) for a in articles[:200]]
    second = [to_document(a) for a in articles[200:]]
    built = []
    for name, make in (("whoosh", lambda ix: ix.writer()), ("pool", TermPoolWriter)):
        ix = _build(tmp_path / name, make, first)
        writer = make(ix)
        for doc in second:
            writer.add_document(**doc)
        writer.delete_by_term("id", "a3")
        writer.commit(optimize=True)
        built.append(whoosh_index.open_dir(str(tmp_path / name)))
    assert len(built[1]._segments()) == 1
    assert assert_same_index(*built) > 1000


def test_pool_orders_postings_as_whoosh_does(tmp_path: Path) -> None:
    items = [("body", b"b", 5, 1.0, b"x"), ("body", b"a", 7, 2.0, b""),
             ("body", b"b", 2, 1.0, b"yy"), ("title", b"a", 1, 1.0, None),
             ("body", b"a", 3, 1.5, b"z"), ("body", b"b", 9, 3.0, b"")]
    pool = TermPool()
    reference = PostingPool(None, None)
    for item in items:
        pool.add(item)
        reference.add(item)
    assert pool.currentsize > 0
    got = [(f, t, d, w, v or None) for f, t, d, w, v in pool.iter_postings()]
    assert got == [(f, t, d, w, v or None) for f, t, d, w, v in reference.iter_postings()]
    assert pool.currentsize == 0 and not list(pool.iter_postings())  # taken out of the pool


def test_a_term_added_as_text_and_as_bytes_is_one_term() -> None:
    """The writer's text fast path numbers terms by their text, merges by their bytes:
    the same term arriving both ways must still be one term, its postings in order."""
    pool = TermPool()
    pool.add_text("body", 4, ["gaza", "talks", "é"], [2, 1, 1], [b"pp", b"", b"q"])
    pool.add(("body", b"gaza", 1, 1.5, b"r"))
    pool.add_text("title", 2, ["talks"], [1.0], None)
    pool.add(("body", "é".encode(), 9, 1.0, b"s"))
    got = [(f, t, d, w, v or None) for f, t, d, w, v in pool.iter_postings()]
    assert got == [
        ("body", b"gaza", 1, 1.5, b"r"), ("body", b"gaza", 4, 2.0, b"pp"),
        ("body", b"talks", 4, 1.0, None),
        ("body", "é".encode(), 4, 1.0, b"q"), ("body", "é".encode(), 9, 1.0, b"s"),
        ("title", b"talks", 2, 1.0, None),
    ]


def test_keys_read_as_the_list_of_pairs_they_stand_for() -> None:
    pairs = [("body", b"a"), ("body", b"b"), ("id", b"x"), ("title", b"a"), ("title", b"c")]
    keys = Keys()
    keys.extend("body", [b"a", b"b"])
    keys.extend("empty", [])
    keys.append("id", b"x")
    keys.extend("title", [b"a"])
    keys.append("title", b"c")
    assert list(keys) == pairs and len(keys) == 5 and bool(keys)
    assert [keys[t] for t in range(-5, 5)] == pairs + pairs
    assert keys[1:4] == pairs[1:4]
    assert list(keys.runs()) == [("body", 0, 2), ("id", 2, 3), ("title", 3, 5)]
    with pytest.raises(IndexError):
        keys[5]
    assert not Keys() and list(Keys().runs()) == []


def test_refuses_a_schema_it_does_not_write(tmp_path: Path) -> None:
    from whoosh.fields import TEXT, Schema

    ix = whoosh_index.create_in(str(tmp_path), Schema(t=TEXT(vector=True)))
    with pytest.raises(ValueError, match="vectors"):
        TermPoolWriter(ix)
    writer = ix.writer()  # the refusal left the index unlocked
    assert isinstance(writer, SegmentWriter)
    writer.cancel()


def test_positions_encode_as_whoosh_does() -> None:
    import random

    from whoosh.formats import Positions

    from search.schema import _encode_positions

    rng = random.Random(7)
    for n in (1, 1, 2, 3, 10, 300):
        where = sorted(rng.sample(range(100_000), n))
        assert _encode_positions(where) == Positions().encode(where)


def test_a_writer_past_its_memory_limit_spills_to_whooshs_pool(tmp_path: Path) -> None:
    """Past `limitmb` the postings move to Whoosh's pool (sorted runs on disk): the same
    segment, in bounded memory."""
    docs = [to_document(a) for a in _articles(700)]
    a = _build(tmp_path / "whoosh", lambda ix: ix.writer(limitmb=1), docs)
    spilled: list[Any] = []

    def make(ix: Any) -> TermPoolWriter:
        writer = TermPoolWriter(ix, limitmb=1)
        spilled.append(writer)
        return writer

    b = _build(tmp_path / "pool", make, docs)
    assert isinstance(spilled[0].pool, PostingPool)
    assert assert_same_index(a, b) > 5000



def _hash_file(keys: list[bytes], ours: bool) -> bytes:
    """A terms table of `keys` (values of 5 bytes) written by Whoosh's
    `OrderedHashWriter.add` or by `_add_rows` (its first half, then Whoosh's `add` for
    the rest: a segment's long terms go through Whoosh)."""
    from whoosh.filedb.filestore import RamStorage
    from whoosh.filedb.filetables import OrderedHashWriter

    from indexer.segwriter import _add_rows
    storage = RamStorage()
    table = OrderedHashWriter(storage.create_file("t"))
    values = [b"v%04d" % (i * 7 % 10_000) for i in range(len(keys))]  # all one size
    half = len(keys) // 2 if ours else 0
    _add_rows(table, keys[:half], np.frombuffer(b"".join(values[:half]), dtype=np.uint8))
    for key, value in zip(keys[half:], values[half:], strict=True):
        table.add(key, value)
    table.close()
    return bytes(storage.open_file("t").read())


def _slots(data: bytes) -> list[set[bytes]]:
    """Each of a table file's 256 hash tables as the set of its filled 12-byte slots."""
    from whoosh.filedb.filestore import RamStorage
    from whoosh.filedb.filetables import HashReader
    storage = RamStorage()
    with storage.create_file("t") as f:
        f.write(data)
    reader = HashReader(storage.open_file("t"), len(data))
    return [{data[at + 12 * i:at + 12 * (i + 1)] for i in range(n)} - {bytes(12)}
            for at, n in reader.tables]


def test_terms_table_holds_what_whooshs_holds_and_finds_every_key() -> None:
    import random

    from whoosh.filedb.filestore import RamStorage
    from whoosh.filedb.filetables import OrderedHashReader
    rng = random.Random(7)
    for n in (0, 1, 300, 20_000):
        keys = sorted({bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12)))
                       for _ in range(n)})
        whoosh, ours = _hash_file(keys, ours=False), _hash_file(keys, ours=True)
        # The same rows, tables of the same sizes holding the same slots, and the same
        # extras (the key positions for ordered lookups); only a cluster's order differs.
        assert len(ours) == len(whoosh)
        assert _slots(ours) == _slots(whoosh)
        storage = RamStorage()
        with storage.create_file("t") as f:
            f.write(ours)
        reader = OrderedHashReader(storage.open_file("t"), len(ours))
        assert list(reader.keys()) == keys
        for i, key in enumerate(keys):
            assert reader[key] == b"v%04d" % (i * 7 % 10_000)
            assert reader.closest_key(key) == key
        for _ in range(200):
            absent = bytes(rng.randrange(256) for _ in range(13))  # longer than any key
            assert absent not in reader


def test_hash_table_placement_reaches_every_entry_from_its_home_slot() -> None:
    from indexer.segwriter import _placed
    rng = np.random.default_rng(3)
    wrapped = 0
    for _ in range(2000):
        n = int(rng.integers(1, 40))
        slots = 2 * n
        homes = np.sort(rng.integers(max(0, slots - 6) if rng.random() < 0.3 else 0, slots, n))
        where = _placed(homes, slots)
        assert len(set(where.tolist())) == n and all(0 <= w < slots for w in where.tolist())
        filled = set(where.tolist())
        for home, at in zip(homes.tolist(), where.tolist(), strict=True):
            # Probing from its home slot finds the entry before any empty slot.
            walk = [(home + k) % slots for k in range((at - home) % slots + 1)]
            assert walk[-1] == at and all(w in filled for w in walk)
        wrapped += any(w < h for h, w in zip(homes.tolist(), where.tolist(), strict=True))
    assert wrapped > 50  # the wrap-round path ran


def test_blocks_are_pickled_at_the_block_protocol(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Short terms' blocks (laid out by indexer/blocks.py) and long terms' (through
    Whoosh's postings writer) hold their data pickled at BLOCK_PROTOCOL, in a new
    segment and in a merged one: every block the reader loads says so."""
    import pickle

    import whoosh.codec.whoosh3 as w3

    from indexer import segwriter
    seen: list[tuple[int, int]] = []  # (protocol, postings) of each block read

    def loads(data: bytes) -> Any:
        obj = pickle.loads(data)
        if isinstance(obj, tuple) and len(obj) == 3 and isinstance(obj[0], tuple):
            seen.append((data[1] if data[0] == 0x80 else 0, len(obj[0])))
        return obj

    def read_every_block(ix: Any) -> None:
        seen.clear()
        with ix.reader() as r:
            for field, term in r.all_terms():
                if r.schema[field].format is not None:
                    list(r.postings(field, term).all_ids())

    monkeypatch.setattr(w3, "loads", loads)
    ix = _build(tmp_path / "pool", TermPoolWriter, [to_document(a) for a in _articles(700)])
    read_every_block(ix)
    assert {p for p, _n in seen} == {segwriter.BLOCK_PROTOCOL}
    assert any(n == 128 for _p, n in seen) and any(n == 1 for _p, n in seen)  # long, single
    merging = TermPoolWriter(ix)  # one more document, and every segment merged into one
    merging.add_document(**to_document(_articles(701)[700]))  # English: "item" in body
    merging.commit(optimize=True)
    read_every_block(ix)
    assert seen and {p for p, _n in seen} == {segwriter.BLOCK_PROTOCOL}
    with ix.reader() as r:
        assert len(_postings(r, "body", b"item")) == 700 * 3 // 5 + 1
