"""The search library on a small index: analysis, query language, facets, highlights."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from bs4 import BeautifulSoup

from search import Filters, SearcherPool, SearchRequest, search
from search.analysis import terms
from search.errors import QueryError
from search.models import Article
from tests.indexing import build_index

UTC = dt.timezone.utc


def art(id: str, title: str, body: str, source: str, day: str, section: str | None = None,
        **kw: object) -> Article:
    return Article(id=id, title=title, body=body, source=source, section=section,
                   published=dt.datetime.fromisoformat(day).replace(tzinfo=UTC), **kw)  # type: ignore[arg-type]


# Short test documents, each written to exercise one behaviour (not demo content).
DOCS = [
    art("tr1", "İSTANBUL talks resume", "Officials met in İSTANBUL on Monday to resume talks.",
        "Anadolu Agency", "2024-09-10", "Politics"),
    art("tr2", "Kalın meets delegation", "İbrahim Kalın, head of Türkiye's intelligence, met the delegation.",
        "Anadolu Agency", "2024-09-13", "Middle East"),
    art("neg1", "Negotiating a cease-fire", "The parties were negotiating late into the night.",
        "BBC", "2017-03-02", "World"),
    art("neg2", "Budget vote", "Lawmakers voted on the budget after long negotiations.",
        "CNN", "2017-02-11", "Politics"),
    art("xss", "Script <b>tags</b> & \"quotes\"",
        "A page body with <script>alert('x')</script> and <img src=x onerror=alert(1)> inside the budget text.",
        "CNN", "2017-01-05", "Tech"),
    art("cafe", "Café culture", "The café in Zürich served crème brûlée.", "DW", "2016-12-20", "Culture"),
    art("nodate", "Undated budget memo", "A budget memo without a date.", "BBC", "2017-01-01", "World"),
]
DOCS[-1] = Article(id="nodate", title="Undated budget memo", body="A budget memo without a date.", source="BBC")


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> SearcherPool:
    loc = build_index(tmp_path_factory.mktemp("ix"), DOCS)
    return SearcherPool(loc)


def run(pool: SearcherPool, q: str = "", **kw: object):  # type: ignore[no-untyped-def]
    filters = kw.pop("filters", Filters())
    with pool.searcher() as (s, _gen):
        return search(s, SearchRequest(q=q, filters=filters, **kw))  # type: ignore[arg-type]


def ids(result) -> set[str]:  # type: ignore[no-untyped-def]
    return {h.id for h in result.hits}


@pytest.mark.parametrize(
    "query, expected",
    [("istanbul", "tr1"), ("İstanbul", "tr1"), ("kalin", "tr2"), ("KALIN", "tr2"),
     ("turkiye", "tr2"), ("ibrahim", "tr2"), ("cafe", "cafe"), ("zurich", "cafe"),
     ("creme brulee", "cafe")],
)
def test_turkish_and_accent_folding(pool: SearcherPool, query: str, expected: str) -> None:
    assert expected in ids(run(pool, query))


def test_stemming_matches_word_forms(pool: SearcherPool) -> None:
    assert terms("negotiations") == terms("negotiating")
    assert ids(run(pool, "negotiations")) >= {"neg1", "neg2"}
    assert terms("running") == ["run"]  # Whoosh's own Porter stemmer says "runn"


def test_all_words_must_match_by_default(pool: SearcherPool) -> None:
    assert ids(run(pool, "budget lawmakers")) == {"neg2"}


def test_phrase_or_not_field_and_groups(pool: SearcherPool) -> None:
    assert ids(run(pool, '"resume talks"')) == {"tr1"}
    assert ids(run(pool, '"talks resume"')) == {"tr1"}  # the title has this order
    assert ids(run(pool, '"met resume"')) == set()
    assert ids(run(pool, "zurich OR lawmakers")) == {"cafe", "neg2"}
    assert ids(run(pool, "budget -lawmakers")) == {"xss", "nodate"}
    assert ids(run(pool, "budget NOT lawmakers")) == {"xss", "nodate"}
    assert ids(run(pool, "title:budget")) == {"neg2", "nodate"}
    assert ids(run(pool, "source:anadolu")) == {"tr1", "tr2"}
    assert ids(run(pool, "(zurich OR istanbul) talks")) == {"tr1"}
    assert ids(run(pool, "negotiat*")) == {"neg1", "neg2"}


def test_hyphenated_word_is_not_negation(pool: SearcherPool) -> None:
    assert "neg1" in ids(run(pool, "cease-fire"))


@pytest.mark.parametrize(
    "q", ['"unclosed phrase', "budget AND", "OR", "((budget", "budget)", "foo:budget",
          "url:budget", 'title:"', "\x00budget\x07", "the of and", "-", "*", "AND OR NOT"],
)
def test_malformed_queries_never_raise_unexpectedly(pool: SearcherPool, q: str) -> None:
    result = run(pool, q)
    assert result.total >= 0
    if q.strip("\x00\x07").replace("(", "").replace(")", "") in ("budget AND", "budget"):
        assert result.total >= 1


@pytest.mark.parametrize("q", ["*ing", "a?b*", "x" * 1001])
def test_expensive_queries_get_a_clear_error(pool: SearcherPool, q: str) -> None:
    with pytest.raises(QueryError) as e:
        run(pool, q)
    assert e.value.status == 400 and e.value.parameter == "q"


def test_highlights_escape_everything_but_mark(pool: SearcherPool) -> None:
    result = run(pool, "budget script")
    (hit,) = [h for h in result.hits if h.id == "xss"]
    for html in (str(hit.snippet), str(hit.title_highlighted)):
        soup = BeautifulSoup(html, "html.parser")
        assert {t.name for t in soup.find_all(True)} <= {"mark"}
        assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in str(hit.snippet)
    assert "&lt;<mark>script</mark>&gt;" in str(hit.snippet)
    assert "&#34;quotes&#34;" in str(hit.title_highlighted)
    assert "<mark>Script</mark>" in str(hit.title_highlighted)


def test_snippet_shows_original_words_not_stems(pool: SearcherPool) -> None:
    (hit,) = run(pool, "negotiations lawmakers").hits
    assert "<mark>negotiations</mark>" in str(hit.snippet)
    assert "<mark>Lawmakers</mark>" in str(hit.snippet)


def test_negated_words_are_not_highlighted(pool: SearcherPool) -> None:
    result = run(pool, "budget -lawmakers")
    assert all("<mark>lawmakers" not in str(h.snippet).lower() for h in result.hits)


def facet(result, name: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {v.value: v.count for f in result.facets if f.name == name for v in f.values}


def test_facet_counts_cover_whole_result_set_not_page(pool: SearcherPool) -> None:
    result = run(pool, "", page_size=2)
    assert len(result.hits) == 2 and result.total == len(DOCS)
    assert facet(result, "source") == {"Anadolu Agency": 2, "BBC": 2, "CNN": 2, "DW": 1}
    assert facet(result, "year") == {"2016": 1, "2017": 3, "2024": 2}


def test_facet_counts_equal_filtered_totals(pool: SearcherPool) -> None:
    base = run(pool, "budget")
    for name, key in (("source", "sources"), ("section", "sections")):
        for value, count in facet(base, name).items():
            filtered = run(pool, "budget", filters=Filters(**{key: (value,)}))
            assert filtered.total == count, (name, value)


def test_several_values_of_one_facet_are_ored_and_counts_stay(pool: SearcherPool) -> None:
    one = run(pool, "", filters=Filters(sources=("CNN",)))
    two = run(pool, "", filters=Filters(sources=("CNN", "DW")))
    assert one.total == 2 and two.total == 3
    # The source facet ignores its own selection, so other sources stay addable.
    assert facet(two, "source") == facet(run(pool, ""), "source")
    # Other facets count within the selection.
    assert facet(two, "section") == {"Politics": 1, "Tech": 1, "Culture": 1}


def test_year_and_month_facets_and_date_range(pool: SearcherPool) -> None:
    y = run(pool, "", filters=Filters(year=2017))
    assert y.total == 3
    assert facet(y, "month") == {"2017-01": 1, "2017-02": 1, "2017-03": 1}
    m = run(pool, "", filters=Filters(year=2017, month=2))
    assert {h.id for h in m.hits} == {"neg2"}
    r = run(pool, "", filters=Filters(date_from=dt.date(2017, 1, 5), date_to=dt.date(2017, 2, 11)))
    assert {h.id for h in r.hits} == {"xss", "neg2"}


def test_sort_newest_oldest_with_undated_last(pool: SearcherPool) -> None:
    newest = [h.id for h in run(pool, "", sort="newest", page_size=10).hits]
    oldest = [h.id for h in run(pool, "", sort="oldest", page_size=10).hits]
    assert newest == ["tr2", "tr1", "neg1", "neg2", "xss", "cafe", "nodate"]
    assert oldest == ["cafe", "xss", "neg2", "neg1", "tr1", "tr2", "nodate"]


def test_relevance_ranks_title_matches_first(pool: SearcherPool) -> None:
    hits = run(pool, "budget").hits
    assert hits[0].id in {"neg2", "nodate"}  # "budget" in the title
    assert all(h.score is not None and h.score > 0 for h in hits)


def test_pagination(pool: SearcherPool) -> None:
    pages = [run(pool, "", sort="newest", page=p, page_size=3) for p in (1, 2, 3, 4)]
    seen = [h.id for p in pages for h in p.hits]
    assert len(seen) == len(set(seen)) == len(DOCS)
    assert pages[0].page_count == 3 and pages[3].hits == ()


@pytest.mark.parametrize(
    "kw, parameter",
    [({"sort": "random"}, "sort"), ({"page": 0}, "page"), ({"page_size": 0}, "page_size"),
     ({"page_size": 1000}, "page_size"), ({"page": 100000}, "page")],
)
def test_bad_parameters_name_the_parameter(pool: SearcherPool, kw: dict, parameter: str) -> None:
    with pytest.raises(QueryError) as e:
        run(pool, "budget", **kw)
    assert e.value.parameter == parameter


def test_result_json_shape(pool: SearcherPool) -> None:
    d = run(pool, "budget").to_dict()
    assert {"query", "total", "page", "page_size", "hits", "facets", "took_ms"} <= d.keys()
    hit = d["hits"][0]
    assert {"id", "url", "title", "title_highlighted", "snippet", "source", "section",
            "published", "author"} <= hit.keys()
    dated = [h for h in d["hits"] if h["published"]]
    assert all(re.match(r"\d{4}-\d\d-\d\dT", h["published"]) for h in dated)
