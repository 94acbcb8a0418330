"""search/cursor.py: the total order of hits, cursors, and the per-reader tables it reads."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from whoosh import index as whoosh_index

from search import SearcherPool, SearchRequest, engine, search
from search.cursor import Cursor, date_keys, decode, doc_ids, fingerprint, relevance_page
from search.errors import QueryError
from search.index import IndexLocation
from search.models import Filters, SortPosition
from search.schema import to_document
from tests.api_corpus import corpus, extra
from tests.indexing import build_index


def test_cursor_round_trip_and_fingerprint() -> None:
    c = Cursor(SortPosition("relevance", (-3.25, "a001"), 40), "g1", "abc")
    assert decode(c.encode()) == c
    c = Cursor(SortPosition("newest", (-1486771200, "x-y_z"), 0), "g2", "def")
    assert decode(c.encode()) == c
    a = SearchRequest(q="oil", filters=Filters(sources=("BBC",)), sort="newest", page=1)
    assert fingerprint(a) == fingerprint(dataclasses.replace(a, page=3, page_size=50))
    assert fingerprint(a) != fingerprint(dataclasses.replace(a, q="gas"))
    assert fingerprint(a) != fingerprint(dataclasses.replace(a, filters=Filters()))


@pytest.mark.parametrize("text", ["", "!!!", "x" * 2000, "eyJ2IjoyfQ", "bnVsbA",
                                  Cursor(SortPosition("newest", (1.5, "a"), 0), "g", "f").encode(),
                                  Cursor(SortPosition("oldest", (1, "a"), -1), "g", "f").encode(),
                                  Cursor(SortPosition("random", (1, "a"), 0), "g", "f").encode()])
def test_bad_cursors_name_the_parameter(text: str) -> None:
    with pytest.raises(QueryError) as e:
        decode(text)
    assert e.value.parameter == "cursor"


def test_doc_ids_follow_segments_and_deletions(tmp_path: Path) -> None:
    """Ids come from the term index: right for every live document, after updates too."""
    articles = corpus(30)
    loc = build_index(tmp_path, articles)
    ix = whoosh_index.open_dir(str(loc.current().path))
    w = ix.writer()
    for a in articles[:5]:  # re-added in a new segment, the old copies deleted
        w.update_document(**to_document(dataclasses.replace(a, title=a.title + " (updated)")))
    w.delete_by_term("id", "a010")
    w.add_document(**to_document(extra(1, None)))
    w.commit(merge=False)
    with ix.searcher() as s:
        r = s.reader()
        assert len(r.leaf_readers()) == 2 and r.has_deletions()
        ids = doc_ids(r)
        live = {d: r.stored_fields(d)["id"] for d in r.all_doc_ids()}
        assert {d: ids[d] for d in live} == live
        assert sorted(i for i in ids if i) == sorted(live.values())
        keys = date_keys(r, "newest")
        assert len(keys) == r.doc_count_all()


def test_doc_ids_from_flat_postings_are_whooshs(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A segment with flat postings gives its ids from their arrays; the same ids as
    Whoosh's term table gives, deleted and re-added documents included."""
    from search import cursor, flatpostings
    articles = corpus(30)
    loc = build_index(tmp_path, articles, as_jobs=True)
    ix = whoosh_index.open_dir(str(loc.current().path))
    w = ix.writer()
    for a in articles[:5]:
        w.update_document(**to_document(dataclasses.replace(a, title=a.title + " (updated)")))
    w.delete_by_term("id", "a010")
    w.commit(merge=False)
    with ix.searcher() as s:
        r = s.reader()
        flat = flatpostings.for_segment(r.leaf_readers()[0][0])
        assert flat.complete  # the first segment (the job's writer) has the file
        terms, docs, counts = flat.field_terms("id")
        assert len(terms) == 30 and set(counts.tolist()) == {1}
        assert sorted(docs.tolist()) == list(range(30))  # each id's one document
        assert flat.field_terms("no_such_field")[0] == []
        ours = doc_ids(r)
        cursor._IDS.pop(r)
        monkeypatch.setattr(flatpostings, "for_segment", lambda leaf: flatpostings.ABSENT)
        assert doc_ids(r) == ours
        assert sum(1 for i in ours if i) == 29


def test_relevance_page_widens_until_ties_are_settled(tmp_path: Path) -> None:
    """Whoosh orders equal scores by document number; the page must order them by id."""
    articles = corpus(40)
    build_index(tmp_path, list(reversed(articles)))  # document numbers against id order
    with SearcherPool(IndexLocation(tmp_path)).searcher() as (s, _):
        full = search(s, SearchRequest(q="oil", page_size=100, facets=False))
        order = [h.id for h in full.hits]
        assert order == [h.id for h in sorted(full.hits, key=lambda h: (-(h.score or 0), h.id))]
        pq, matched = engine.matching(s, SearchRequest(q="oil"))
        calls: list[int] = []

        def run(limit: int) -> list[tuple[float, int]]:
            calls.append(limit)
            return list(engine._scored(s, pq.query, matched, limit))

        page = relevance_page(s, run, after=None, offset=3, size=2)
        assert [doc_ids(s.reader())[d] for d in page.docs] == order[3:5]
        assert len(calls) > 1  # a tie spans the first top list, so it was widened
        assert page.more is True


def test_search_pages_and_cursor_pages_agree_for_every_sort(tmp_path: Path) -> None:
    build_index(tmp_path, corpus(45))
    with SearcherPool(IndexLocation(tmp_path)).searcher() as (s, _):
        for sort, q in (("newest", ""), ("oldest", "budget"), ("relevance", "oil OR election")):
            req = SearchRequest(q=q, sort=sort, page_size=4, facets=False)
            by_page = []
            for page in range(1, 13):
                by_page += [h.id for h in search(s, dataclasses.replace(req, page=page)).hits]
            by_cursor, result = [], search(s, req)
            while True:
                by_cursor += [h.id for h in result.hits]
                if result.next_position is None:
                    break
                result = search(s, dataclasses.replace(req, after=result.next_position))
            assert by_page == by_cursor and len(by_cursor) == result.total
