"""The search-backend contract (search/backend.py), run against every backend.

Whoosh always; OpenSearch only where DATELINE_OPENSEARCH_URL names a cluster
(the backend itself is not written yet: README, "Scaling out"). Each document
below is written to exercise one behaviour, as in test_search.py; the
assertions are what the web layer relies on, whatever engine answers.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from search import ArticleNotFound, Filters, IndexLocation, QueryError, SearchRequest
from search.backend import SearchBackend, WhooshBackend
from search.models import Article

OPENSEARCH_ENV = "DATELINE_OPENSEARCH_URL"
UTC = dt.timezone.utc


def art(aid: str, title: str, body: str, source: str, day: str | None, **kw: object) -> Article:
    published = dt.datetime.fromisoformat(day).replace(tzinfo=UTC) if day else None
    return Article(id=aid, title=title, body=body, source=source, published=published, **kw)  # type: ignore[arg-type]


DOCS = [
    art("budget-title", "Budget vote delayed", "Lawmakers postponed the vote to next week.",
        "CNN", "2017-02-11", section="Politics"),
    art("budget-body", "Late session", "The session ran late as the budget talks stalled.",
        "BBC", "2017-02-12", section="World"),
    art("stem", "Negotiating a cease-fire", "The parties were negotiating into the night.",
        "BBC", "2017-03-02", section="World"),
    art("fold", "Café culture", "The café in Zürich served crème brûlée.", "DW", "2016-12-20"),
    art("turkish", "İSTANBUL talks resume", "Officials met in İSTANBUL on Monday.",
        "Anadolu Agency", "2024-09-10", section="Politics", language="tr"),
    art("arabic", "استئناف المفاوضات", "أقرت الحكومة استئناف المفاوضات.", "Al Jazeera",
        "2016-11-01", language="ar"),
    art("xss", "Script <b>tags</b>", "A budget page with <script>alert('x')</script> in it.",
        "CNN", "2017-01-05"),
    art("undated", "Undated memo", "A memo on the budget without a date.", "BBC", None),
]  # fmt: skip


def _whoosh(tmp: Path) -> SearchBackend:
    return WhooshBackend(IndexLocation(tmp))


def _opensearch(tmp: Path) -> SearchBackend:
    url = os.environ.get(OPENSEARCH_ENV)
    if not url:
        pytest.skip(f"set {OPENSEARCH_ENV} to run the contract against OpenSearch")
    pytest.skip(f"{OPENSEARCH_ENV} is set, but the OpenSearch backend is not written yet")


@pytest.fixture(scope="module", params=["whoosh", "opensearch"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SearchBackend]:
    make = {"whoosh": _whoosh, "opensearch": _opensearch}[request.param]
    b = make(tmp_path_factory.mktemp(request.param))
    assert isinstance(b, SearchBackend)
    b.index([*DOCS, art("budget-title", "A later copy", "Never indexed.", "CNN", "2017-02-13")])
    yield b


def ids(b: SearchBackend, q: str, **kw: object) -> list[str]:
    return [h.id for h in b.search(SearchRequest(q=q, **kw)).hits]  # type: ignore[arg-type]


def test_get_returns_the_stored_article(backend: SearchBackend) -> None:
    a = backend.get("fold")
    assert (a.title, a.body, a.source) == ("Café culture", DOCS[3].body, "DW")
    assert a.published == DOCS[3].published


def test_first_copy_of_an_id_wins(backend: SearchBackend) -> None:
    assert backend.get("budget-title").title == "Budget vote delayed"


def test_get_unknown_id_is_a_404(backend: SearchBackend) -> None:
    with pytest.raises(ArticleNotFound) as e:
        backend.get("no-such-id")
    assert e.value.status == 404


def test_title_match_ranks_above_body_match(backend: SearchBackend) -> None:
    found = ids(backend, "budget")
    assert found[0] == "budget-title"
    assert set(found) == {"budget-title", "budget-body", "xss", "undated"}


def test_english_stemming(backend: SearchBackend) -> None:
    assert ids(backend, "negotiations") == ["stem"]


def test_accents_fold(backend: SearchBackend) -> None:
    assert ids(backend, "cafe creme") == ["fold"]


def test_turkish_dotted_capital_i(backend: SearchBackend) -> None:
    assert ids(backend, "istanbul", lang="tr") == ["turkish"]
    assert ids(backend, "İstanbul") == ["turkish"]


def test_arabic_normalisation(backend: SearchBackend) -> None:
    assert ids(backend, "مفاوضات") == ["arabic"]  # without the article ال
    assert ids(backend, "اقرت") == ["arabic"]  # bare alef for alef with hamza


def test_filters_restrict_and_facets_count_the_rest(backend: SearchBackend) -> None:
    req = SearchRequest(q="budget", filters=Filters(sources=("BBC",)))
    assert {h.id for h in backend.search(req).hits} == {"budget-body", "undated"}
    facets = {f.name: {v.value: v.count for v in f.values} for f in backend.facets(req)}
    # A facet is counted as if its own selection were not applied.
    assert facets["source"] == {"BBC": 2, "CNN": 2}


def test_highlights_mark_matches_and_escape_html(backend: SearchBackend) -> None:
    hits = {h.id: h for h in backend.search(SearchRequest(q="budget")).hits}
    assert "<mark>budget</mark>" in str(hits["budget-body"].snippet).lower()
    assert "&lt;script&gt;" in str(hits["xss"].snippet)
    assert "<script>" not in str(hits["xss"].snippet)


def test_newest_sort_puts_undated_last(backend: SearchBackend) -> None:
    found = ids(backend, "budget", sort="newest")
    assert found[-1] == "undated" and found[0] == "budget-body"


def test_invalid_query_is_a_400(backend: SearchBackend) -> None:
    with pytest.raises(QueryError) as e:
        backend.search(SearchRequest(q="budget", page=0))
    assert e.value.status == 400


def test_generation_names_what_is_served(backend: SearchBackend) -> None:
    name = backend.generation()
    assert name and backend.generation() == name
