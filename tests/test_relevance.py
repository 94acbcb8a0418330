"""The known-item evaluation: its metrics and query generator, and a small quality gate.

The gate indexes a few hundred real English and Arabic articles and asks for each the
queries `quality.knownitem` draws; Dateline must find them about as well as SQLite FTS5
(the full comparison, with Tantivy, is `make relevance`).
"""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
from pathlib import Path

import pytest

from quality.baselines import FTS5
from quality.evaluate import Scores, dateline, evaluate
from quality.knownitem import Doc, Generator, KnownItem, words
from search import SearcherPool
from search.models import Article
from tests.indexing import build_index

UTC = dt.timezone.utc


def test_scores() -> None:
    s = Scores()
    for rank in (1, 2, None, 10):
        s.add(rank)
    assert s.mrr() == pytest.approx((1 + 0.5 + 0 + 0.1) / 4)
    assert s.success(1) == 0.25 and s.success(10) == 0.75


def test_typed_words_drop_arabic_vowel_marks_but_keep_the_word_whole() -> None:
    assert words("ألقَى مُحاضرة Zürich") == ["ألقى", "محاضرة", "zürich"]


def test_queries_are_reproducible_and_typed_from_the_article() -> None:
    docs = [Doc(f"d{i}", f"Central bank raises interest rates again {i}", "",
                f"The Central Bank of Ruritania raised rates on Monday. Inflation {i} "
                f"worries traders in Strelsau. Rates rates rates.", "en", "x") for i in range(60)]
    gen = Generator(docs)
    first = gen.queries(docs[:5], seed=7)
    assert first == gen.queries(docs[:5], seed=7)
    assert {q.kind for q in first} <= {"words", "title", "entity"}
    for q in first:
        target = next(d for d in docs if d.id == q.target)
        assert set(q.text.split()) <= set(words(f"{target.title} {target.body}"))
        assert q.target in q.relevant


def _articles(data: Path, name: str, n: int) -> list[Article]:
    with gzip.open(data / "collections" / f"{name}.jsonl.gz", "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in itertools.islice(f, n)]
    return [Article(id=f"{name[:2]}{i}", title=r["title"] or "", body=r["body"] or "",
                    language=r["language"], source=r["source"],
                    published=dt.datetime.fromisoformat(r["date"][:10]).replace(tzinfo=UTC))
            for i, r in enumerate(records) if r.get("body")]


@pytest.mark.slow
def test_dateline_finds_known_items_at_least_as_well_as_fts5(
    shared_data: Path, tmp_path: Path
) -> None:
    articles = _articles(shared_data, "news9", 300) + _articles(shared_data, "saudinewsnet", 300)
    pool = SearcherPool(build_index(tmp_path / "ix", articles))
    docs = [Doc(a.id, a.title, a.summary, a.body, a.language or "und", "x") for a in articles]
    queries: list[KnownItem] = Generator(docs).queries(docs[::4], seed=3)
    table = evaluate({"dateline": dateline(pool), "fts5": FTS5(docs, tmp_path).search},
                     queries)
    for lang in ("en", "ar", "all"):
        ours, fts5 = table[("dateline", "all", lang)], table[("fts5", "all", lang)]
        assert ours.n >= 50
        assert ours.mrr() >= 0.85, (lang, ours.mrr())
        assert ours.mrr() >= fts5.mrr() - 0.01, (lang, ours.mrr(), fts5.mrr())


def test_recency_boost_puts_the_newer_of_equal_matches_first(tmp_path: Path) -> None:
    from search import ranking
    from search.query import parse_in

    day = dt.datetime(2017, 3, 1, tzinfo=UTC)
    articles = [
        Article(id="old", title="Harbour strike", body="Dock workers strike.", published=day),
        Article(id="new", title="Harbour strike", body="Dock workers strike.",
                published=day + dt.timedelta(days=90)),
        Article(id="undated", title="Harbour strike", body="Dock workers strike."),
    ]
    pool = SearcherPool(build_index(tmp_path / "ix", articles))
    recent = ranking.Ranking(half_life_days=30)
    with pool.searcher() as (s, _gen):
        q = parse_in(s, "harbour strike").query
        plain = ranking.search(s, q, limit=3).top_n
        boosted = ranking.search(s, q, recent, limit=3).top_n
        order = [s.stored_fields(d)["id"] for _score, d in boosted]
    assert len({round(score, 6) for score, _ in plain}) == 1  # same text, same score
    assert order == ["new", "old", "undated"]
    assert boosted[0][0] == pytest.approx(plain[0][0])  # the newest keeps its full score


def _exact_pool(tmp_path: Path) -> SearcherPool:
    # Pairs of articles alike but for the form of one word (same length, same stem).
    articles = [
        Article(id="en-ing", title="Port report", body="Officials were negotiating a deal today."),
        Article(id="en-ions", title="Port report", body="Officials were in negotiations a deal today."),
        Article(id="ar-def", title="تقرير", body="استمرت المفاوضات في الرياض اليوم"),
        Article(id="ar-bare", title="تقرير", body="استمرت مفاوضات في الرياض اليوم"),
        Article(id="tr-pl", title="Rapor", body="Ankara'da müzakereler sürüyor.", language="tr"),
        Article(id="tr-loc", title="Rapor", body="Ankara'da müzakerede sürüyor.", language="tr"),
        Article(id="other", title="Port report", body="Nothing to see."),
    ]
    return SearcherPool(build_index(tmp_path / "ix", articles))


@pytest.mark.parametrize(("text", "first", "second"), [
    ("negotiations", "en-ions", "en-ing"),
    ("Negotiating", "en-ing", "en-ions"),
    ("المفاوضات", "ar-def", "ar-bare"),
    ("مفاوضات", "ar-bare", "ar-def"),
    ("müzakereler", "tr-pl", "tr-loc"),
    ("muzakerede", "tr-loc", "tr-pl"),
])
def test_the_exact_form_ranks_first_and_the_stem_still_matches(
    tmp_path: Path, text: str, first: str, second: str
) -> None:
    import dataclasses

    from search import SearchRequest, docsets, ranking, scores, search
    from search.query import parse_in

    pool = _exact_pool(tmp_path)
    with pool.searcher() as (s, _gen):
        result = search(s, SearchRequest(q=text))
        assert [h.id for h in result.hits] == [first, second] and result.total == 2
        # The exact form is a ranking signal only: without it the same documents match,
        # tied (their stemmed fields are identical), and both scoring paths agree.
        q = parse_in(s, text).query
        matched = docsets.query_docs(s, q)
        off = dataclasses.replace(ranking.DEFAULT, exact=0.0)
        plain = scores.top(s, q, off, matched, None)
        boosted = scores.top(s, q, ranking.DEFAULT, matched, None)
        slow = ranking.search(s, q, ranking.DEFAULT, limit=None).top_n
        assert plain is not None and boosted is not None
        assert {d for _, d in plain} == {d for _, d in boosted} == {d for _, d in slow}
        assert len({round(sc, 9) for sc, _ in plain}) == 1
        assert [d for _, d in boosted] == [d for _, d in slow]
        for (fast_score, _), (slow_score, _) in zip(boosted, slow, strict=True):
            assert fast_score == pytest.approx(slow_score, rel=1e-9)
        assert boosted[0][0] > plain[0][0] == pytest.approx(boosted[1][0])


def test_exact_forms_never_add_a_match(tmp_path: Path) -> None:
    # The exact-form fields are shared by every language, but a word's exact form only
    # counts where its stem matched in the reading's own fields: read as English,
    # "negotiations" does not find a German article that has the word.
    from search import SearchRequest, search

    articles = [
        Article(id="de", title="Gespräche", body="Die negotiations laufen.", language="de"),
        Article(id="en", title="Talks", body="The negotiations went on."),
    ]
    pool = SearcherPool(build_index(tmp_path / "ix", articles))
    with pool.searcher() as (s, _gen):
        assert [h.id for h in search(s, SearchRequest(q="negotiations", lang="en")).hits] \
            == ["en"]
        assert search(s, SearchRequest(q="talks negotiations", lang="de")).total == 0
        assert {h.id for h in search(s, SearchRequest(q="negotiations")).hits} == {"de", "en"}
