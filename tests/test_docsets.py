"""Matching sets from posting lists (search/docsets.py) equal Whoosh's own, and filter caches."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from whoosh import query as wq

from search import docsets, flatpostings, limits
from search.index import SearcherPool
from search.models import Article
from search.query import parse_in
from search.schema import to_document
from tests.indexing import build_index

UTC = dt.timezone.utc
WORDS = ("budget talks oil price minister election vote court strike storm rain market bank "
         "trade deal summit border war peace report").split()


def _articles(n: int, seed: int) -> list[Article]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
        lang = rng.choice(["en", "en", "de", "ar"])
        if lang == "de":
            body += " Die Regierung verhandelt über den Haushalt."
        if lang == "ar":
            body += " وزير النفط في الرياض"
        if i % 53 == 0:  # a rare word beside common ones: phrases read by skipping
            body += " zebra crossing budget"
        out.append(Article(
            id=f"a{i}", title=title, body=body, source=rng.choice(["BBC", "CNN", "DW"]),
            section=rng.choice(["World", "Business", None]), language=lang,
            published=dt.datetime(2017, 1, 1, tzinfo=UTC) + dt.timedelta(days=rng.randint(0, 700)),
        ))
    return out


# Enough documents for posting lists of several 128-posting blocks.
DOCS = _articles(700, 1)


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> SearcherPool:
    root = tmp_path_factory.mktemp("docsets")
    loc = build_index(root, DOCS, as_jobs=True)
    # A second segment with deletions, so segment offsets and deleted postings are exercised.
    from whoosh import index as whoosh_index

    ix = whoosh_index.open_dir(str(loc.current().path))
    w = ix.writer()
    for a in _articles(150, 2):
        w.add_document(**to_document(Article(**{**a.__dict__, "id": "b" + a.id})))
    for i in range(0, 700, 7):
        w.delete_by_term("id", f"a{i}")
    w.commit(merge=False)
    return SearcherPool(loc)


QUERIES = [
    "budget", "budget talks", "budget OR storm", "oil -price", "oil NOT price",
    '"oil price"', '"peace report"', "mark*", "title:budget", "source:bbc budget",
    "(storm OR rain) market", "NOT budget", "haushalt", "النفط", "vote court strike",
    "zzzunknownword", "budget AND NOT (war OR peace)", "", "tal*",
    '"zebra crossing budget"', '"crossing budget"', '"budget zebra"', '"budget budget"',
    "zebra budget", "zebra (budget OR talks)", "zebra NOT budget",
]


@pytest.fixture(params=["default", "skip-often"])
def skipping(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run with the production threshold, and with one low enough that this small index
    reads its common words by skipping (`docsets.among`) wherever a query allows."""
    if request.param == "skip-often":
        monkeypatch.setattr(docsets, "SKIP_SHARE", 2)


@pytest.mark.parametrize("text", QUERIES)
@pytest.mark.usefixtures("skipping")
def test_query_docs_equal_whoosh(pool: SearcherPool, text: str) -> None:
    with pool.searcher() as (s, _):
        assert len(s.reader().leaf_readers()) == 2 and s.reader().has_deletions()
        # The job's segment has flat postings (search/flatpostings.py), Whoosh's has none.
        assert [len(flatpostings.for_segment(leaf)) > 0 for leaf, _ in
                s.reader().leaf_readers()] == [True, False]
        q = parse_in(s, text).query
        expected = set(s.docs_for_query(q)) if not isinstance(q, wq.Every) \
            else set(s.reader().all_doc_ids())
        assert set(docsets.query_docs(s, q)) == expected


def test_filter_sets_are_cached_per_reader(pool: SearcherPool) -> None:
    q = wq.Or([wq.Term("source", "BBC")])
    with pool.searcher() as (s, _):
        first = docsets.filter_docs(s, q)
        assert first == set(s.docs_for_query(q)) and first
        assert docsets.filter_docs(s, q) is first
        assert docsets.filter_docs(s, None) is None
    other = SearcherPool(pool.location)  # another searcher: another reader, its own sets
    with other.searcher() as (s2, _):
        again = docsets.filter_docs(s2, q)
        assert again == first and again is not first


def test_matching_stops_at_the_deadline(pool: SearcherPool) -> None:
    with pool.searcher() as (s, _):
        q = parse_in(s, "budget OR storm OR rain").query
        old = docsets.CHECK_EVERY
        docsets.CHECK_EVERY = 1  # check at every block
        try:
            with limits.budget(deadline_s=0.0), pytest.raises(limits.SearchTimeout):
                docsets.query_docs(s, q)
        finally:
            docsets.CHECK_EVERY = old


# --- Facet counts from column arrays (search/facets.py) ------------------------------------


@pytest.mark.parametrize("field", ["source", "section", "language", "year", "month"])
@pytest.mark.parametrize("text", ["budget", "oil -price", "", "zzzunknownword"])
def test_column_counts_equal_a_brute_force_count(pool: SearcherPool, field: str, text: str
                                                 ) -> None:
    from collections import Counter

    from search.facets import count_column

    with pool.searcher() as (s, _):
        docs = set(docsets.query_docs(s, parse_in(s, text).query))
        col = s.reader().column_reader(field)
        brute = Counter(col[d] for d in docs)
        brute.pop("", None)
        assert count_column(s.reader(), field, docs) == brute
        assert count_column(s.reader(), field, sorted(docs)) == brute  # any iterable


@pytest.mark.parametrize("seed", range(20))
def test_facet_top_values_equal_a_full_sort(seed: int) -> None:
    """`build_facet` sorts only the values that can be shown: the same top as sorting all,
    ties (many at the cut) ordered by name ignoring case, then as counted."""
    from collections import Counter

    from search.facets import build_facet

    rng = random.Random(seed)
    names = [rng.choice(["Al", "al", "Bo", "bo", "Cy", "Dee", "eve", "Eve"]) + str(i % 7)
             for i in range(rng.randrange(0, 60))]
    counts = Counter({n: rng.choice([1, 1, 1, 2, 3, 9]) for n in names})
    for limit in (0, 1, 3, 10, 100):
        shown = build_facet("author", counts, set(), limit=limit)
        full = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].lower()))[:limit]
        assert [(v.value, v.count) for v in shown.values] == full
        assert shown.value_count == len(counts)


@pytest.mark.parametrize("field", ["source", "section", "language", "author"])
@pytest.mark.parametrize("text", ["budget", "oil -price", ""])
def test_facets_from_top_counts_equal_facets_from_every_count(
        pool: SearcherPool, field: str, text: str) -> None:
    """A search counts each facet with `top_counts` (only the values that can be shown,
    plus the selected ones): the facet built is the one built from every count."""
    from search.facets import build_facet, count_column, count_terms, top_counts

    count = count_terms if field == "author" else count_column
    with pool.searcher() as (s, _):
        r = s.reader()
        docs = docsets.query_docs(s, parse_in(s, text).query)
        every = count(r, field, docs)
        for limit in (0, 1, 2, 3, 100):
            for selected in ((), tuple(sorted(every)[-1:]), ("not-a-value",)):
                counts, counted = top_counts(r, field, docs, limit=limit, selected=selected,
                                             terms=field == "author")
                assert counted == len(every)
                assert all(every[v] == n for v, n in counts.items())
                want = build_facet(field, every, set(selected), limit=limit)
                assert build_facet(field, counts, set(selected), limit=limit,
                                   value_count=counted) == want


@pytest.mark.parametrize("every", [1, 3, 25, 1000])  # many documents, then few, then none
def test_author_counts_equal_a_brute_force_count(tmp_path_factory: pytest.TempPathFactory,
                                                 every: int) -> None:
    from collections import Counter

    from search.facets import count_terms

    rng = random.Random(3)
    people = ["Ann Lee", "Bo Chen", "Cy Diaz", "Di Roy"]
    arts = [Article(id=f"p{i}", title="budget", body="budget talks",
                    authors=tuple(rng.sample(people, rng.randint(0, 3)))) for i in range(300)]
    pool = SearcherPool(build_index(tmp_path_factory.mktemp("authors"), arts))
    with pool.searcher() as (s, _):
        reader = s.reader()
        docs = {d for d in reader.all_doc_ids() if d % every == 0 and d > 0}
        brute: Counter[str] = Counter()
        for d in docs:
            brute.update(set(reader.stored_fields(d).get("authors") or ()))
        counted = count_terms(reader, "author", docs)
        assert counted == brute and (sum(brute.values()) > 0) == (every < 1000)


# --- Snippets scan the start of a body first (search/highlight.py) -------------------------


def test_snippet_finds_a_match_past_the_first_scan() -> None:
    from search.analysis import term_for
    from search.highlight import FIRST_SCAN_CHARS, Wanted, snippet

    filler = "The weather was mild and the streets were quiet. " * 200
    assert len(filler) > FIRST_SCAN_CHARS
    wanted = Wanted({term_for("budget")})
    late = snippet(filler + "Lawmakers passed the budget on Friday.", wanted)
    assert "<mark>budget</mark>" in str(late) and str(late).startswith("\u2026")
    early = snippet("The budget came first. " + filler + "Then the budget again.", wanted)
    assert str(early).startswith("The <mark>budget</mark>")


def test_snippet_scans_the_rest_in_growing_windows() -> None:
    from search import highlight
    from search.analysis import term_for
    from search.highlight import MAX_SCAN_CHARS, Wanted, snippet

    wanted = Wanted({term_for("budget")})
    filler = "The weather was mild and the streets were quiet. "  # 50 characters
    deep = filler * 600 + "The budget passed. " + filler * 200  # a match at 30,000 of 40,000
    assert "<mark>budget</mark>" in str(snippet(deep, wanted))
    scanned: list[int] = []
    real = highlight.match_spans

    def spy(text: str, *args: object) -> list[tuple[int, int, str]]:
        scanned.append(len(text))
        return real(text, *args)  # type: ignore[arg-type]

    highlight.match_spans = spy  # type: ignore[assignment]
    try:
        snippet(deep, wanted)
        assert len(scanned) == 3 and sum(scanned) < len(deep)  # 5k, 10k, 20k: stops there
        scanned.clear()
        assert "budget" not in str(snippet(filler * 2000 + "budget", wanted))
        assert sum(scanned) <= MAX_SCAN_CHARS + 30  # never past the scan's end
    finally:
        highlight.match_spans = real


# --- Scores as arrays (search/scores.py) equal Whoosh's --------------------------------------

SCORED = ["budget", "budget talks", "oil price minister", "budget OR storm", "oil -price",
          '"oil price"', "storm rain", "haushalt", "النفط", "title:budget",
          '"zebra crossing budget"', '"crossing budget"', "budget -\"crossing budget\"",
          "zebra budget", "zebra crossing budget talks"]


@pytest.fixture(params=["dense", "compact"])
def arrays(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Score over arrays as long as the index, and over arrays of the matches only
    (`scores.COMPACT_SHARE`), whatever this small index's match counts would choose."""
    from search import scores

    monkeypatch.setattr(scores, "COMPACT_SHARE", 10**9 if request.param == "dense" else 1)


@pytest.mark.parametrize("text", SCORED)
@pytest.mark.parametrize("half_life", [None, 30.0])
@pytest.mark.usefixtures("skipping", "arrays")
def test_array_scores_equal_whoosh(pool: SearcherPool, text: str, half_life: float | None
                                   ) -> None:
    import dataclasses

    from search import ranking, scores

    rank = dataclasses.replace(ranking.DEFAULT, half_life_days=half_life)
    with pool.searcher() as (s, _):
        q = parse_in(s, text).query
        matched = docsets.query_docs(s, q)
        fast = scores.top(s, q, rank, matched, None)
        assert fast is not None, "this shape should be scored as arrays"
        slow = ranking.search(s, q, rank, limit=None, filter=set(matched)).top_n
        assert {d for _, d in fast} == {d for _, d in slow} == set(matched)
        by_doc = {d: sc for sc, d in slow}
        for sc, d in fast:
            assert sc == pytest.approx(by_doc[d], rel=1e-9)
        top3 = scores.top(s, q, rank, matched, 3)
        assert top3 == sorted(fast, key=lambda p: (-p[0], p[1]))[:3]


def test_unsupported_shapes_fall_back_to_whoosh(pool: SearcherPool) -> None:
    from search import ranking, scores

    with pool.searcher() as (s, _):
        q = parse_in(s, "mark*").query
        assert scores.top(s, q, ranking.DEFAULT, docsets.query_docs(s, q), 10) is None


# --- Result caches are per reader: a new generation is never answered from an old one ------


def test_result_cache_is_not_served_across_generations(tmp_path: object) -> None:
    from pathlib import Path

    from search import SearchRequest, search

    root = Path(str(tmp_path))
    first = [Article(id=f"x{i}", title="budget", body="budget talks", source="BBC")
             for i in range(5)]
    loc = build_index(root, first)
    pool = SearcherPool(loc)
    req = SearchRequest(q="budget")
    with pool.searcher() as (s, _):
        before = search(s, req)
        assert search(s, req).facets[0] is before.facets[0]  # the repeat: from the cache
        assert docsets.RESULTS.get(s.reader(), ("base", "budget", None)) is not None
    assert before.total == 5 and before.facets[0].values[0].value == "BBC"
    second = [Article(id=f"y{i}", title="budget", body="budget", source="CNN") for i in range(3)]
    from tests.indexing import build_index as publish

    publish(root, second)  # a new generation, published atomically
    with pool.searcher() as (s, _):
        after = search(s, req)
    assert after.total == 3
    assert [v.value for v in after.facets[0].values] == ["CNN"]


def test_result_cache_is_bounded() -> None:
    cache = docsets.ReaderCache(2)

    class Reader:  # any weak-referenceable object stands for a reader
        pass

    r = Reader()
    for i in range(5):
        cache.put(r, i, {i})  # type: ignore[arg-type]
    assert len(cache) == 2 and cache.get(r, 4) == {4} and cache.get(r, 0) is None  # type: ignore[arg-type]


def test_scoring_stops_at_the_deadline(pool: SearcherPool) -> None:
    # Both scoring paths check the deadline inside their loops, not only between stages.
    from search import ranking, scores

    with pool.searcher() as (s, _):
        for text in ("budget OR storm", "mark*"):
            q = parse_in(s, text).query
            matched = docsets.query_docs(s, q)
            with limits.budget(deadline_s=0.0), pytest.raises(limits.SearchTimeout):
                ranking.search(s, q, limit=10, filter=set(matched))
        q = parse_in(s, "budget OR storm").query
        with limits.budget(deadline_s=0.0), pytest.raises(limits.SearchTimeout):
            scores.top(s, q, ranking.DEFAULT, docsets.query_docs(s, q), 10)


def test_author_counts_of_single_documents(tmp_path_factory: pytest.TempPathFactory) -> None:
    from collections import Counter

    from search.facets import count_terms

    arts = [Article(id=f"s{i}", title="t", body="b", authors=("Ann Lee", "Bo Chen")[: i % 3])
            for i in range(9)]
    pool = SearcherPool(build_index(tmp_path_factory.mktemp("one-author"), arts))
    with pool.searcher() as (s, _):
        reader = s.reader()
        for d in reader.all_doc_ids():
            expected = Counter(reader.stored_fields(d).get("authors") or ())
            assert count_terms(reader, "author", (d,)) == expected
            assert count_terms(reader, "author", {d}) == expected  # the array path


@pytest.mark.parametrize("seed", range(6))
def test_array_docs_set_algebra_equals_python_sets(seed: int) -> None:
    """Matching sets are arrays (docsets.ArrayDocs); with each other and with plain sets,
    `&`, `|`, `-` and `union` give what Python's sets give, and stay sorted arrays."""
    import numpy as np

    rng = random.Random(seed)

    def some() -> set[int]:
        size = rng.choice((0, 1, 5, 200))
        return set(rng.sample(range(400), size))

    for _ in range(30):
        a, b, c = some(), some(), some()
        x, y = (docsets.ArrayDocs(np.array(sorted(s), dtype=np.int64)) for s in (a, b))
        for got, want in ((x & y, a & b), (x | y, a | b), (x - y, a - b),
                          (x & b, a & b), (a & y, a & b), (x | b, a | b), (a | y, a | b),
                          (x - b, a - b), (a - y, a - b), (frozenset(a) - y, a - b),
                          (docsets.union([x, y]), a | b), (docsets.union([x, c]), a | c)):
            assert set(got) == want and len(got) == len(want)
            if isinstance(got, docsets.ArrayDocs):
                assert got.array.tolist() == sorted(want)
        assert (min(a, default=-1) in x) == bool(a) and 400 not in x
        assert x == a and (x == b) == (a == b)
    assert docsets.union([]) == set()
