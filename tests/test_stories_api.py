"""Stories and the "recent" sort beyond the page: /api/v1, facet story counts, export, feeds.

One index of real news records (`shared_data`) plus edited reprints of some of
them (tests/jobfixtures.py `story_index`), so stories are known.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient

from search.wordiff import DELETE, INSERT
from tests.jobfixtures import ORIGINALS, REPRINTS, a_story, news_lines, story_index
from tests.test_api_v1_schema import conforms
from web import create_app

ARTICLES = 60 + ORIGINALS * REPRINTS
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    return story_index(tmp_path_factory.mktemp("stories_api"), news_lines(shared_data, 60))


def v1(client: FlaskClient, url: str) -> dict[str, Any]:
    r = client.get(url)
    assert r.status_code == 200, r.data[:300]
    conforms(url.split("?")[0] if "/stories/" not in url else "/api/v1/stories/{id}", r)
    return r.get_json()["data"]  # type: ignore[no-any-return]


def every_copy(client: FlaskClient, q: str = "") -> list[dict[str, Any]]:
    """Return every matching article (collapse=false), with its story."""
    data = v1(client, f"/api/v1/search?q={q}&collapse=false&page_size=100")
    assert data["total"] == len(data["hits"]) and data["total_stories"] is None
    return data["hits"]  # type: ignore[no-any-return]


# --- /api/v1/search and /api/v1/stories ---------------------------------------------------


def test_v1_search_collapses_by_story_like_api_search(client: FlaskClient, index_dir: Path) -> None:
    data = v1(client, "/api/v1/search?page_size=100")
    old = client.get("/api/search?page_size=100").get_json()
    assert data["total"] == old["total"] == ARTICLES
    assert data["total_stories"] == old["total_stories"] == len(data["hits"]) < ARTICLES
    assert [h["id"] for h in data["hits"]] == [h["id"] for h in old["hits"]]
    assert [h["story"] for h in data["hits"]] == [h["story"] for h in old["hits"]]
    story_id, members = a_story(index_dir)
    hit = next(h for h in data["hits"] if h["story"]["id"] == story_id)
    assert hit["id"] == story_id and hit["story"]["versions"] == len(members)
    first = client.get(f"/api/articles/{story_id}").get_json()
    assert hit["story"]["first_source"] == first["source"]
    assert hit["story"]["first_published"] == first["published"]

    copies = v1(client, "/api/v1/search?page_size=100&collapse=false")
    assert copies["total_stories"] is None and len(copies["hits"]) == ARTICLES
    assert client.get("/api/v1/search?collapse=maybe").status_code == 400


def test_v1_cursor_walk_is_collapsed_and_tied_to_collapse(client: FlaskClient) -> None:
    whole = v1(client, "/api/v1/search?q=trump&sort=newest&page_size=100")
    ids: list[str] = []
    url = "/api/v1/search?q=trump&sort=newest&page_size=4"
    cursor = None
    while True:
        data = v1(client, url + (f"&cursor={cursor}" if cursor else ""))
        ids += [h["id"] for h in data["hits"]]
        cursor = data["next_cursor"]
        if cursor is None:
            break
    assert ids == [h["id"] for h in whole["hits"]] and len(ids) == whole["total_stories"]
    first = v1(client, url)["next_cursor"]
    r = client.get(url + f"&collapse=false&cursor={first}")
    assert r.status_code == 400 and r.get_json()["error"]["parameter"] == "cursor"


def test_v1_story_lists_versions_with_diffs(client: FlaskClient, index_dir: Path) -> None:
    story_id, members = a_story(index_dir)
    data = v1(client, f"/api/v1/stories/{story_id}")
    assert data["id"] == story_id and data["version_count"] == len(members)
    assert [v["id"] for v in data["versions"]] == members
    old = client.get(f"/api/stories/{story_id}").get_json()  # the same versions as /api/stories
    assert [{k: v[k] for k in a} for v, a in zip(data["versions"], old["versions"], strict=True)] \
        == old["versions"]
    first = data["versions"][0]
    assert data["first_source"] == first["source"] and data["first_published"] == first["published"]
    assert first["diff"] is None and first["changed_share"] is None
    for version in data["versions"][1:]:
        runs = version["diff"]
        assert any(r["op"] in (INSERT, DELETE) for r in runs)
        assert "".join(r["text"] for r in runs if r["op"] != DELETE) == version["body"]
        assert 0 < version["changed_share"] < 1
    assert client.get(f"/api/v1/stories/{members[1]}").status_code == 404  # a later version
    assert client.get("/api/v1/stories/..%2f..%2fetc").status_code == 404


# --- Facet counts: articles and stories ---------------------------------------------------


def expected_story_counts(hits: list[dict[str, Any]], key: str) -> dict[str, int]:
    """Count distinct stories per facet value by brute force over every copy."""
    stories: dict[str, set[str]] = defaultdict(set)
    for h in hits:
        if key == "year":  # publication year in UTC, as indexed
            when = h["published"] and dt.datetime.fromisoformat(h["published"])
            values = [f"{when.astimezone(dt.timezone.utc).year:04d}"] if when else []
        else:
            values = h["authors"] if key == "author" else [h[key]]
        for v in values:
            if v:
                stories[v].add(h["story"]["id"])
    return {v: len(s) for v, s in stories.items()}


@pytest.mark.parametrize("q", ["", "trump"])
def test_facet_values_count_stories_and_articles(client: FlaskClient, q: str) -> None:
    hits = every_copy(client, q)
    data = v1(client, f"/api/v1/search?q={q}&page_size=1")
    old = client.get(f"/api/search?q={q}&page_size=1").get_json()
    facets = v1(client, f"/api/v1/facets?q={q}&limit=1000")
    assert facets["total_stories"] == data["total_stories"]
    fewer = 0
    for name, key in (("source", "source"), ("language", "language"), ("author", "author"),
                      ("year", "year")):
        want = expected_story_counts(hits, key)
        got = {v["value"]: v["stories"] for v in data["facets"][name]}
        assert got == {v: want[v] for v in got}, name
        assert {v["value"]: v["stories"] for v in old["facets"][name]} == got
        assert all(v["stories"] == want[v["value"]] for v in facets["facets"][name]["values"])
        fewer += sum(v["stories"] < v["count"] for v in data["facets"][name])
    assert fewer  # reprints share a year and a language with their original
    uncollapsed = v1(client, f"/api/v1/search?q={q}&page_size=1&collapse=false")
    assert all(v["stories"] is None for f in uncollapsed["facets"].values() for v in f)


def test_page_shows_stories_and_articles_per_facet_value(client: FlaskClient) -> None:
    soup = BeautifulSoup(client.get("/search").data, "html.parser")
    data = client.get("/api/search?page_size=1").get_json()
    year = max(data["facets"]["year"], key=lambda v: v["count"])
    assert year["stories"] < year["count"]
    link = soup.select_one(f'ul[data-facet=year] a[data-value="{year["value"]}"]')
    assert link is not None
    assert link.select_one(".story-n").get_text() == f"{year['stories']:,}"
    assert link.select_one(".count").get_text() == f"{year['count']:,}"
    assert f"{year['stories']:,} stories, {year['count']:,} articles" in link["aria-label"]
    assert soup.select_one("#facet-year .facet-units") is not None
    # Every copy shown: one count per value again.
    soup = BeautifulSoup(client.get("/search?collapse=false").data, "html.parser")
    assert not soup.select(".facets .story-n") and not soup.select(".facet-units")
    assert soup.select("ul[data-facet=year] .count")


# --- Export and feeds ---------------------------------------------------------------------


def test_export_has_one_row_per_story_unless_collapse_false(client: FlaskClient) -> None:
    stories = v1(client, "/api/v1/search?page_size=1")["total_stories"]
    r = client.get("/api/v1/export?format=jsonl&fields=id")
    rows = [json.loads(line)["id"] for line in r.get_data(as_text=True).splitlines()]
    assert len(rows) == len(set(rows)) == stories == int(r.headers["X-Result-Total"])
    story_of = {h["id"]: h["story"]["id"] for h in every_copy(client)}
    assert len({story_of[i] for i in rows}) == stories
    r = client.get("/api/v1/export?format=jsonl&fields=id&collapse=false")
    assert len(r.get_data(as_text=True).splitlines()) == ARTICLES == int(r.headers["X-Result-Total"])
    soup = BeautifulSoup(client.get("/search?collapse=false").data, "html.parser")
    links = [a["href"] for a in soup.select("p.downloads a")]
    assert links and all("collapse=false" in href for href in links)


def test_feed_has_one_entry_per_story_unless_collapse_false(client: FlaskClient) -> None:
    story_of = {h["id"]: h["story"]["id"] for h in every_copy(client)}

    def entries(url: str) -> list[str]:
        feed = ET.fromstring(client.get(url).data)
        return [e.findtext(f"{ATOM}id").rsplit(":", 1)[1] for e in feed.iter(f"{ATOM}entry")]

    collapsed = entries("/feeds/search.atom?limit=100")
    every = entries("/feeds/search.atom?limit=100&collapse=false")
    assert len({story_of[i] for i in collapsed}) == len(collapsed) < len(every)
    assert {story_of[i] for i in every} == {story_of[i] for i in collapsed}


# --- sort=recent --------------------------------------------------------------------------


def test_recent_is_relevance_times_a_recency_decay(client: FlaskClient, app: Flask) -> None:
    q = "trump"
    plain = v1(client, f"/api/v1/search?q={q}&collapse=false&page_size=100")
    recent = v1(client, f"/api/v1/search?q={q}&collapse=false&page_size=100&sort=recent")
    assert recent["sort"] == "recent" and recent["total"] == plain["total"] > 10
    newest = max(dt.datetime.fromisoformat(h["published"]) for h in every_copy(client) if h["published"])
    half_life = app.config["RECENT_HALF_LIFE_DAYS"]
    score = {h["id"]: h["score"] for h in plain["hits"]}
    for h in recent["hits"]:
        if h["published"] is None:
            factor = 0.5
        else:
            age = (newest - dt.datetime.fromisoformat(h["published"])).total_seconds() / 86400
            factor = 0.5 + 0.5 * math.pow(0.5, max(0.0, age) / half_life)
        assert h["score"] == pytest.approx(score[h["id"]] * factor, rel=1e-3, abs=1e-3), h["id"]
    order = [h["id"] for h in recent["hits"]]
    assert order == [h["id"] for h in sorted(recent["hits"], key=lambda h: (-h["score"], h["id"]))]
    assert order != [h["id"] for h in plain["hits"]]  # the boost reorders real results
    assert set(order) == set(score)


def test_recent_half_life_is_configurable(index_dir: Path, client: FlaskClient) -> None:
    url = "/api/v1/search?q=trump&collapse=false&page_size=100&sort=recent"
    fast = create_app({"INDEX_DIR": str(index_dir), "TESTING": True, "RECENT_HALF_LIFE_DAYS": 1})
    slow = client.get(url).get_json()["data"]["hits"]
    quick = fast.test_client().get(url).get_json()["data"]["hits"]
    assert [h["id"] for h in quick] != [h["id"] for h in slow]
    assert all(q["score"] <= s["score"] + 1e-6 for q, s in
               zip(sorted(quick, key=lambda h: h["id"]), sorted(slow, key=lambda h: h["id"]),
                   strict=True))


@pytest.mark.parametrize("collapse", ["true", "false"])
def test_recent_pages_by_cursor_as_by_number(client: FlaskClient, collapse: str) -> None:
    base = f"/api/v1/search?q=trump&sort=recent&collapse={collapse}"
    whole = v1(client, base + "&page_size=100")
    by_number: list[str] = []
    for page in range(1, 100):
        hits = v1(client, base + f"&page_size=6&page={page}")["hits"]
        if not hits:
            break
        by_number += [h["id"] for h in hits]
    by_cursor: list[str] = []
    cursor = None
    while True:
        data = v1(client, base + "&page_size=6" + (f"&cursor={cursor}" if cursor else ""))
        by_cursor += [h["id"] for h in data["hits"]]
        cursor = data["next_cursor"]
        if cursor is None:
            break
    assert by_cursor == by_number == [h["id"] for h in whole["hits"]]
    assert len(set(by_cursor)) == len(by_cursor)
    first = v1(client, base + "&page_size=6")["next_cursor"]
    r = client.get(base.replace("recent", "relevance") + f"&page_size=6&cursor={first}")
    assert r.status_code == 400 and r.get_json()["error"]["parameter"] == "cursor"


def test_recent_in_the_page_and_the_unversioned_api(client: FlaskClient) -> None:
    soup = BeautifulSoup(client.get("/search?q=trump&sort=recent").data, "html.parser")
    sort = soup.select_one("nav.sort")
    assert sort.select_one("[aria-current]").get_text() == "Newest relevant"
    assert [a.get_text() for a in sort.select("a")] == ["Relevance", "Newest", "Oldest"]
    api = client.get("/api/search?q=trump&sort=recent&page_size=100").get_json()
    v1_ids = [h["id"] for h in v1(client, "/api/v1/search?q=trump&sort=recent&page_size=100")["hits"]]
    assert api["sort"] == "recent" and [h["id"] for h in api["hits"]] == v1_ids
    browse = client.get("/api/search?sort=recent&page_size=5").get_json()  # nothing to rank
    newest = client.get("/api/search?sort=newest&page_size=5").get_json()
    assert [h["id"] for h in browse["hits"]] == [h["id"] for h in newest["hits"]]


# --- Pure parts: story counts per value, cursor fingerprints ------------------------------


def test_count_stories_subtracts_extra_versions_per_value() -> None:
    from search.models import Facet, FacetValue
    from search.storymap import StoryMap, _Story

    # Story s1 = docs 0, 1, 2; story s2 = docs 3, 4; docs 5 and 6 stand alone.
    smap = StoryMap([_Story("s1", (0, 1, 2), None, "A"), _Story("s2", (3, 4), None, "B")])
    values = {0: ["en", "x"], 1: ["en", "x"], 2: ["fr"], 3: ["en"], 4: ["en", "x"],
              5: ["en"], 6: ["fr"]}
    docs = {0, 1, 2, 3, 4, 5, 6}
    counts = {v: sum(v in vs for d, vs in values.items() if d in docs) for v in ("en", "fr", "x")}
    facet = Facet("language", tuple(FacetValue(v, v, n, False) for v, n in counts.items()))
    smap._field_values["language"] = {d: tuple(values[d]) for d in range(5)}  # as if read
    got = smap.count_stories(facet, docs, None)  # type: ignore[arg-type]
    # en: s1 (0, 1), s2 (3, 4), 5 -> 3 stories of 5 articles; fr: s1 (2), 6; x: s1, s2.
    assert {v.value: (v.stories, v.count) for v in got.values} == {
        "en": (3, 5), "fr": (2, 2), "x": (2, 3)}
    assert got.stories_differ and not facet.stories_differ
    part = smap.count_stories(facet, {1, 4}, None)  # type: ignore[arg-type]
    assert {v.value: v.stories for v in part.values} == {"en": 5, "fr": 2, "x": 3}


def test_cursor_fingerprint_covers_collapse_and_recent_half_life() -> None:
    import dataclasses

    from search.cursor import Cursor, decode, fingerprint
    from search.models import SearchRequest, SortPosition

    a = SearchRequest(q="oil", sort="recent")
    assert fingerprint(a) != fingerprint(dataclasses.replace(a, collapse=False))
    assert fingerprint(a) != fingerprint(dataclasses.replace(a, half_life_days=7))
    assert fingerprint(a) != fingerprint(dataclasses.replace(a, sort="relevance"))
    rel = dataclasses.replace(a, sort="relevance")  # the half-life only matters to "recent"
    assert fingerprint(rel) == fingerprint(dataclasses.replace(rel, half_life_days=7))
    c = Cursor(SortPosition("recent", (-2.5, "a001"), 10), "g1", fingerprint(a))
    assert decode(c.encode()) == c


def test_story_counts_read_columns_per_segment(tmp_path: Path) -> None:
    """A segment without a column (no article in it has a section) does not shift the others."""
    import dataclasses

    from whoosh import index as whoosh_index

    from search.schema import to_document
    from search.storymap import _column_values
    from tests.api_corpus import corpus
    from tests.indexing import build_index

    articles = corpus(14)
    unsectioned = {*range(5), *range(10, 14)}
    loc = build_index(tmp_path, [dataclasses.replace(a, section=None) for a in articles[:5]])
    ix = whoosh_index.open_dir(str(loc.current().path))
    for part in (articles[5:10], articles[10:]):
        w = ix.writer()
        for a in part:
            w.add_document(**to_document(
                dataclasses.replace(a, section=None) if int(a.id[1:]) in unsectioned else a))
        w.commit(merge=False)
    with ix.searcher() as s:
        r = s.reader()
        assert [leaf.has_column("section") for leaf, _ in r.leaf_readers()] == [False, True, False]
        want = {d: tuple(filter(None, [s.stored_fields(d).get("section")])) for d in range(14)}
        assert _column_values(r, "section", range(14)) == want
        assert sum(map(bool, want.values())) == 5


def test_collapse_keeps_each_storys_earliest_matching_version() -> None:
    from search.storymap import StoryMap, _Story

    # Story s1 = docs 5, 1, 9 in time order; s2 = 3, 2; the others stand alone.
    smap = StoryMap([_Story("s1", (5, 1, 9), None, "A"), _Story("s2", (3, 2), None, "B")])
    assert smap.collapse({0, 1, 2, 3, 4, 5, 9, 12}) == {0, 5, 3, 4, 12}
    assert smap.collapse({1, 9, 2}) == {1, 2}
    assert smap.collapse({9, 40}) == {9, 40}
    assert smap.collapse(set()) == set()
    assert StoryMap([]).collapse({7, 8}) == {7, 8}


@pytest.mark.parametrize("multi", [False, True])
@pytest.mark.parametrize("share", [0.05, 0.9])
def test_count_stories_matches_a_count_of_distinct_stories(multi: bool, share: float) -> None:
    """Against the definition: a value's stories are the distinct stories (a lone article is
    its own) among `docs` having it; one value per version (a column) or several."""
    import random

    from search.models import Facet, FacetValue
    from search.storymap import StoryMap, _Story

    rng = random.Random(7 if multi else 3)
    docs_all = list(range(400))
    rng.shuffle(docs_all)
    stories, at = [], 0
    while at < 300:  # docs_all[:300] in stories of 2-6 versions; the rest alone
        n = rng.randint(2, 6)
        stories.append(_Story(f"s{len(stories)}", tuple(docs_all[at:at + n]), None, None))
        at += n
    smap = StoryMap(stories)
    names = ["a", "b", "c", "d", "e"]
    values = {d: tuple(rng.sample(names, rng.randint(0, 2))) if multi
              else ((rng.choice(names),) if rng.random() < 0.9 else ())
              for d in range(400)}
    smap._field_values["f"] = {d: values[d] for d in range(400) if smap.in_story(d)}
    story_of = {d: s.id for s in stories for d in s.docs}
    for _ in range(5):
        docs = {d for d in range(400) if rng.random() < share}
        shown = names[:4]  # "e" is counted but not shown
        facet = Facet("f", tuple(FacetValue(v, v, sum(v in values[d] for d in docs), False)
                                 for v in shown))
        got = smap.count_stories(facet, docs, None)  # type: ignore[arg-type]
        want = {v: len({story_of.get(d, d) for d in docs if v in values[d]}) for v in shown}
        assert {v.value: v.stories for v in got.values} == want
        assert [v.count for v in got.values] == [v.count for v in facet.values]


def test_collapsed_set_reads_as_a_set_and_hands_its_array_on() -> None:
    from search import docsets
    from search.storymap import StoryMap, _Story

    smap = StoryMap([_Story("s1", (5, 1, 9), None, "A")])
    got = smap.collapse({0, 1, 9, 12})
    assert isinstance(got, docsets.ArrayDocs)
    assert got == {0, 1, 12} and len(got) == 3 and 12 in got and 9 not in got
    assert sorted(got) == [0, 1, 12] and got & {1, 2} == {1} and got - {0} == {1, 12}
    assert docsets.doc_array(got) is got.array
