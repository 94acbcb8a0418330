"""/api/v1: envelopes, errors, cursors (also across a new generation), conditional GET, endpoints."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient

from search.cursor import Cursor, decode
from search.models import SortPosition
from tests.api_corpus import ISTANBUL, corpus, extra
from tests.indexing import build_index
from web import create_app
from web.openapi import document

ARTICLES = corpus()
DATED = [a for a in ARTICLES if a.published]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    root = tmp_path_factory.mktemp("apiv1")
    build_index(root, ARTICLES)
    return create_app({"INDEX_DIR": str(root), "TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def data_of(client: FlaskClient, url: str, **kw: Any) -> dict[str, Any]:
    r = client.get(url, **kw)
    assert r.status_code == 200, r.data[:500]
    body = r.get_json()
    assert body["ok"] is True and set(body) == {"ok", "data", "meta"}
    return body["data"]  # type: ignore[no-any-return]


def walk(client: FlaskClient, url: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Follow next_cursor from `url` to the end; return hit ids and every page's data."""
    ids, pages = [], []
    nxt: str | None = url
    while nxt:
        d = data_of(client, nxt)
        pages.append(d)
        ids += [h["id"] for h in d["hits"]]
        nxt = f"{url}&cursor={d['next_cursor']}" if d["next_cursor"] else None
        assert len(pages) < 100
    return ids, pages


def expected_order(sort: str) -> list[str]:
    def key(a: Any) -> tuple[Any, ...]:
        if a.published is None:
            return (1, 0, a.id)
        ts = a.published.timestamp()
        return (0, -ts if sort == "newest" else ts, a.id)

    return [a.id for a in sorted(ARTICLES, key=key)]


# --- Envelopes ----------------------------------------------------------------------------

ENDPOINTS = ["/api/v1/search?q=oil", "/api/v1/articles/a000", "/api/v1/facets?q=oil",
             "/api/v1/timeline?q=oil", "/api/v1/suggest?q=oil%20pri", "/api/v1/health",
             "/api/v1/stats"]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_every_endpoint_answers_in_the_success_envelope(client: FlaskClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 200 and r.is_json
    body = r.get_json()
    assert list(body) == ["ok", "data", "meta"] and body["ok"] is True
    assert set(body["meta"]) == {"api_version", "generation", "took_ms"}
    assert body["meta"]["api_version"] == "1" and body["meta"]["generation"].startswith("g")


@pytest.mark.parametrize(
    "url, status, code, parameter",
    [
        ("/api/v1/search?page=x", 400, "bad_query", "page"),
        ("/api/v1/search?sort=up", 400, "bad_query", "sort"),
        ("/api/v1/search?page_size=101", 400, "bad_query", "page_size"),
        ("/api/v1/search?q=*ing", 400, "bad_query", "q"),
        ("/api/v1/search?month=3", 400, "bad_query", "month"),
        ("/api/v1/search?facets=maybe", 400, "bad_query", "facets"),
        ("/api/v1/search?cursor=not-a-cursor", 400, "bad_query", "cursor"),
        ("/api/v1/facets?facet=colour", 400, "bad_query", "facet"),
        ("/api/v1/facets?limit=0", 400, "bad_query", "limit"),
        ("/api/v1/timeline?interval=decade", 400, "bad_query", "interval"),
        ("/api/v1/timeline?mode=percent", 400, "bad_query", "mode"),
        ("/api/v1/suggest?limit=99", 400, "bad_query", "limit"),
        ("/api/v1/export?format=xml", 400, "bad_query", "format"),
        ("/api/v1/export?fields=id,password", 400, "bad_query", "fields"),
        ("/api/v1/articles/nope", 404, "not_found", None),
        ("/api/v1/articles/..%2f..%2fetc%2fpasswd", 404, "not_found", None),
        ("/api/v1/nothing-here", 404, "not_found", None),
    ],
)
def test_every_error_has_one_envelope(client: FlaskClient, url: str, status: int, code: str,
                                      parameter: str | None) -> None:
    r = client.get(url)
    assert r.status_code == status and r.is_json
    body = r.get_json()
    assert body == {"ok": False, "error": {"code": code, "message": body["error"]["message"],
                                           "parameter": parameter}}
    assert body["error"]["message"]


def test_method_not_allowed_is_json_too(client: FlaskClient) -> None:
    r = client.post("/api/v1/search")
    assert r.status_code == 405 and r.get_json()["error"]["code"] == "method_not_allowed"


def test_dates_are_iso_8601_with_their_offsets(client: FlaskClient) -> None:
    d = data_of(client, "/api/v1/search?sort=oldest&page_size=100&facets=false")
    for hit in d["hits"]:
        if hit["published"] is not None:
            assert dt.datetime.fromisoformat(hit["published"]).utcoffset() is not None
    a = data_of(client, "/api/v1/articles/a007")
    assert a["published"] == dt.datetime(2017, 1, 2, 15, 30, tzinfo=ISTANBUL).isoformat()
    assert a["published"].endswith("+03:00")


def test_unversioned_aliases_keep_working(client: FlaskClient) -> None:
    d = client.get("/api/search?q=oil&page_size=2").get_json()
    assert d["total"] == 30 and len(d["hits"]) == 2 and "ok" not in d
    assert client.get("/api/articles/a001").get_json()["id"] == "a001"
    assert client.get("/api/health").get_json()["doc_count"] == len(ARTICLES)


# --- Cursors ------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_cursor_walk_returns_every_article_once_in_date_order(client: FlaskClient, sort: str) -> None:
    ids, pages = walk(client, f"/api/v1/search?sort={sort}&page_size=4&facets=false")
    assert ids == expected_order(sort)
    assert pages[0]["page"] == 1 and all(p["page"] is None for p in pages[1:])
    assert pages[-1]["next_cursor"] is None and not any(p["generation_changed"] for p in pages)


@pytest.mark.parametrize("q", ["oil", "budget negotiations", "oil OR election"])
def test_cursor_walk_in_relevance_order_breaks_score_ties_by_id(client: FlaskClient, q: str) -> None:
    everything = data_of(client, f"/api/v1/search?q={q}&page_size=100&facets=false")
    ranked = sorted(everything["hits"], key=lambda h: (-h["score"], h["id"]))
    assert [h["id"] for h in everything["hits"]] == [h["id"] for h in ranked]
    assert len({h["score"] for h in ranked}) < len(ranked)  # the corpus has ties
    ids, _ = walk(client, f"/api/v1/search?q={q}&page_size=3&facets=false")
    assert ids == [h["id"] for h in ranked] and len(ids) == everything["total"]


def test_page_numbers_and_cursors_agree(client: FlaskClient) -> None:
    by_page = []
    for page in range(1, 5):
        by_page += [h["id"] for h in data_of(client, f"/api/v1/search?q=oil&page_size=4&page={page}")["hits"]]
    first = data_of(client, "/api/v1/search?q=oil&page_size=4&page=1")
    second = data_of(client, f"/api/v1/search?q=oil&page_size=4&cursor={first['next_cursor']}")
    assert [h["id"] for h in second["hits"]] == by_page[4:8]
    assert len(by_page) == 16


def test_cursor_belongs_to_its_query_filters_and_sort(client: FlaskClient) -> None:
    d = data_of(client, "/api/v1/search?q=oil&sort=newest&page_size=2")
    cur = d["next_cursor"]
    for other in ("q=budget&sort=newest", "q=oil&sort=oldest", "q=oil&sort=newest&source=BBC"):
        r = client.get(f"/api/v1/search?{other}&page_size=2&cursor={cur}")
        assert r.status_code == 400 and r.get_json()["error"]["parameter"] == "cursor"
    r = client.get(f"/api/v1/search?q=oil&sort=newest&page_size=2&page=2&cursor={cur}")
    assert r.status_code == 400 and r.get_json()["error"]["parameter"] == "page"
    # A different page size is fine: the cursor is a position, not a page.
    assert data_of(client, f"/api/v1/search?q=oil&sort=newest&page_size=5&cursor={cur}")["hits"]


def test_forged_cursors_are_400_not_500(client: FlaskClient) -> None:
    good = decode(data_of(client, "/api/v1/search?sort=newest&page_size=2")["next_cursor"])
    forged = [
        Cursor(SortPosition("relevance", good.position.key, 2), good.generation, good.fingerprint),
        Cursor(SortPosition("newest", (2**70, "a"), 2), good.generation, good.fingerprint),
    ]
    for c in forged:
        r = client.get(f"/api/v1/search?sort=newest&page_size=2&cursor={c.encode()}")
        assert r.status_code == 400 and r.get_json()["error"]["parameter"] == "cursor"
    for raw in ("e30", "bm90IGpzb24", "W10", "eyJ2IjoxfQ"):  # {}, "not json", [], {"v":1}
        r = client.get(f"/api/v1/search?cursor={raw}")
        assert r.status_code == 400 and r.get_json()["error"]["parameter"] == "cursor"


def test_cursor_paging_survives_a_new_generation_mid_walk(tmp_path: Path) -> None:
    """Date sort: every article in both generations comes exactly once, whatever the docnums."""
    build_index(tmp_path, ARTICLES)
    client = create_app({"INDEX_DIR": str(tmp_path), "TESTING": True}).test_client()
    url = "/api/v1/search?sort=newest&page_size=7&facets=false"
    seen: list[str] = []
    d = data_of(client, url)
    for _ in range(3):
        seen += [h["id"] for h in d["hits"]]
        d = data_of(client, f"{url}&cursor={d['next_cursor']}")
    seen += [h["id"] for h in d["hits"]]  # 28 hits from the first generation
    last = dt.datetime.fromisoformat(d["hits"][-1]["published"])
    cursor = d["next_cursor"]

    # The second generation: same articles in reverse (other document numbers), one
    # removed after the cursor, one added before it (not returned) and one after it.
    removed = expected_order("newest")[40]
    before = extra(1, last + dt.timedelta(days=30))
    after = extra(2, last - dt.timedelta(days=30))
    build_index(tmp_path, [*reversed([a for a in ARTICLES if a.id != removed]), before, after])

    d = data_of(client, f"{url}&cursor={cursor}")
    assert d["generation_changed"] is True
    rest = [h["id"] for h in d["hits"]]
    while d["next_cursor"]:
        d = data_of(client, f"{url}&cursor={d['next_cursor']}")
        assert d["generation_changed"] is False  # the new cursors carry the new generation
        rest += [h["id"] for h in d["hits"]]
    everything = seen + rest
    assert len(everything) == len(set(everything))
    assert set(everything) == ({a.id for a in ARTICLES} - {removed}) | {after.id}
    assert before.id not in everything


def test_relevance_cursor_says_when_the_generation_changed(tmp_path: Path) -> None:
    build_index(tmp_path, ARTICLES)
    client = create_app({"INDEX_DIR": str(tmp_path), "TESTING": True}).test_client()
    d = data_of(client, "/api/v1/search?q=oil&page_size=5")
    build_index(tmp_path, [*ARTICLES, *(extra(i, None, "Oil oil oil") for i in range(5))])
    d2 = data_of(client, f"/api/v1/search?q=oil&page_size=5&cursor={d['next_cursor']}")
    assert d2["generation_changed"] is True and d2["total"] == 35 and d2["hits"]


# --- Conditional GET ----------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/search?q=oil", "/api/v1/articles/a001",
                                 "/api/v1/facets", "/api/v1/timeline", "/api/v1/suggest?q=oil",
                                 "/api/v1/stats"])
def test_etag_and_last_modified_answer_304(client: FlaskClient, url: str) -> None:
    r = client.get(url)
    etag, modified = r.headers["ETag"], r.headers["Last-Modified"]
    assert etag.startswith('W/"') and "no-cache" in r.headers["Cache-Control"]
    r2 = client.get(url, headers={"If-None-Match": etag})
    assert r2.status_code == 304 and r2.data == b"" and r2.headers["ETag"] == etag
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(url, headers={"If-None-Match": 'W/"other"'}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110).
    assert client.get(url, headers={"If-None-Match": 'W/"other"',
                                    "If-Modified-Since": modified}).status_code == 200


def test_validators_follow_the_request_and_the_generation(tmp_path: Path) -> None:
    build_index(tmp_path, ARTICLES)
    client = create_app({"INDEX_DIR": str(tmp_path), "TESTING": True}).test_client()
    tag = client.get("/api/v1/search?q=oil&source=BBC").headers["ETag"]
    assert client.get("/api/v1/search?source=BBC&q=oil").headers["ETag"] == tag  # order
    assert client.get("/api/v1/search?q=oil&source=BBC&api_key=k").headers["ETag"] == tag
    assert client.get("/api/v1/search?q=oil&source=CNN").headers["ETag"] != tag
    build_index(tmp_path, ARTICLES[:10])
    r = client.get("/api/v1/search?q=oil&source=BBC", headers={"If-None-Match": tag})
    assert r.status_code == 200 and r.headers["ETag"] != tag


def test_health_is_never_cached(client: FlaskClient) -> None:
    r = client.get("/api/v1/health")
    assert "ETag" not in r.headers and r.get_json()["data"]["status"] == "ok"


# --- Endpoints ----------------------------------------------------------------------------


def test_search_shape_is_the_unversioned_one_plus_paging(client: FlaskClient) -> None:
    v1 = data_of(client, "/api/v1/search?q=oil&page_size=3")
    old = client.get("/api/search?q=oil&page_size=3").get_json()
    assert set(v1) == set(old) | {"next_cursor", "generation_changed"}
    assert v1["hits"] == old["hits"] and v1["facets"] == old["facets"]
    assert data_of(client, "/api/v1/search?q=oil&facets=false")["facets"] == {}


def test_facets_with_prefix_and_limit(client: FlaskClient) -> None:
    d = data_of(client, "/api/v1/facets?facet=source&limit=2")
    src = d["facets"]["source"]
    assert list(d["facets"]) == ["source"] and d["total"] == len(ARTICLES)
    assert len(src["values"]) == 2 and src["value_count"] == 5 and src["truncated"] is True
    d = data_of(client, "/api/v1/facets?facet=source,author&prefix=an")
    assert [v["value"] for v in d["facets"]["source"]["values"]] == ["Anadolu Agency"]
    assert [v["value"] for v in d["facets"]["author"]["values"]] == ["Ann Lee"]
    d = data_of(client, "/api/v1/facets?facet=source&facet=section&source_prefix=le&source=BBC")
    assert [v["value"] for v in d["facets"]["source"]["values"]] == ["Le Monde", "BBC"]
    assert d["facets"]["source"]["prefix"] == "le" and d["facets"]["section"]["prefix"] is None
    d = data_of(client, "/api/v1/facets?year=2017")
    assert {"source", "section", "language", "author", "year", "month"} == set(d["facets"])


@pytest.mark.parametrize("interval, buckets", [("day", 10), ("week", 3), ("month", 1), ("year", 1)])
def test_timeline_counts_per_interval(client: FlaskClient, interval: str, buckets: int) -> None:
    d = data_of(client, f"/api/v1/timeline?interval={interval}")
    assert d["granularity"] == interval and len(d["buckets"]) == buckets
    assert sum(b["count"] for b in d["buckets"]) + d["undated"] == d["total"] == len(ARTICLES)
    assert d["undated"] == 3


def test_timeline_share_and_empty_and_wide_ranges(client: FlaskClient) -> None:
    d = data_of(client, "/api/v1/timeline?q=oil&mode=share&interval=day")
    assert all(b["total"] >= b["count"] for b in d["buckets"]) and d["mode"] == "share"
    d = data_of(client, "/api/v1/timeline?q=nothingmatches")
    assert d == {"query": "nothingmatches", "total": 0, "granularity": None, "mode": "count",
                 "undated": 0, "buckets": []}
    d = data_of(client, "/api/v1/timeline?interval=day&from=0001-01-01&to=9999-12-31")
    assert len(d["buckets"]) == 10  # clipped to the matches instead of 3.6 million days


def test_suggest_did_you_mean_and_completions(client: FlaskClient) -> None:
    d = data_of(client, "/api/v1/suggest?q=budgte")
    assert d["did_you_mean"]["q"] == "budget" and d["did_you_mean"]["total"] == 30
    d = data_of(client, "/api/v1/suggest?q=oil%20pri")
    assert [c["title"] for c in d["completions"]] == ["Oil prices rise"]  # each title once
    d = data_of(client, "/api/v1/suggest?q=negotiat")
    assert [c["title"] for c in d["completions"]] == ["Negotiations resume"]
    assert d["completions"][0]["id"] == "a055"  # the newest
    d = data_of(client, "/api/v1/suggest?q=negotiat&source=BBC")
    assert [c["id"] for c in d["completions"]] == ["a051"]
    assert data_of(client, "/api/v1/suggest?q=oil%20")["completions"][0]["title"] == "Oil prices rise"
    assert data_of(client, "/api/v1/suggest?q=o")["completions"] == []
    assert data_of(client, "/api/v1/suggest")["completions"] == []


def test_stats(client: FlaskClient) -> None:
    r = client.get("/api/v1/stats")
    d, meta = r.get_json()["data"], r.get_json()["meta"]
    assert d["documents"] == len(ARTICLES) and d["source_count"] == 5
    assert sum(s["count"] for s in d["sources"]) == len(ARTICLES)
    assert {v["value"] for v in d["languages"]} == {"en", "fr"}
    span = d["date_span"]
    assert span["dated"] == len(DATED) and span["undated"] == 3
    assert dt.datetime.fromisoformat(span["earliest"]) == min(a.published for a in DATED if a.published)
    assert dt.datetime.fromisoformat(span["latest"]) == max(a.published for a in DATED if a.published)
    assert span["latest"].endswith("+00:00")
    assert d["generation"]["name"] == meta["generation"] and d["generation"]["doc_count"] == 60


def test_health_v1_reuses_the_health_report(client: FlaskClient, tmp_path: Path) -> None:
    v1 = client.get("/api/v1/health").get_json()
    old = client.get("/api/health").get_json()
    assert {k: v for k, v in old.items() if k not in ("ok", "last_success_age_s")} == \
        {k: v for k, v in v1["data"].items() if k != "last_success_age_s"}
    c = create_app({"INDEX_DIR": str(tmp_path / "none"), "TESTING": True}).test_client()
    r = c.get("/api/v1/health")
    body = r.get_json()
    assert r.status_code == 503 and body["ok"] is False
    assert body["error"]["code"] == "index_unavailable" and body["data"]["status"] == "degraded"
    r = c.get("/api/v1/search")
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "index_unavailable"


def test_openapi_document_is_served_and_names_every_route(app: Flask, client: FlaskClient) -> None:
    served = client.get("/api/v1/openapi.json").get_json()
    assert served == document() and served["openapi"].startswith("3.1")
    routes = {
        r.rule.replace("<article_id>", "{id}")
        for r in app.url_map.iter_rules()
        if r.rule.startswith(("/api/v1/", "/feeds/")) and r.rule != "/api/v1/docs"
    }
    assert routes == set(served["paths"])


def test_docs_page_is_rendered_from_the_document(client: FlaskClient) -> None:
    r = client.get("/api/v1/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    soup = BeautifulSoup(r.data, "html.parser")
    ops = [(m, p) for p, item in document()["paths"].items() for m in item]
    assert len(soup.select("section.api-op")) == len(ops)
    assert soup.select_one("#op-search table") and soup.select_one("#schema-Hit")
    assert soup.select_one('#op-search a[href="#schema-SearchEnvelope"]')
    # Ready for a strict CSP: no inline script or style, nothing from elsewhere.
    assert all(s.get("src", "").startswith("/static/") and not s.string for s in soup.select("script"))
    assert not soup.select("[style]") and not soup.select("style")
    assert not [t for t in soup.select("[src],[href]")
                if (t.get("src") or t.get("href")).startswith(("http:", "https:", "//"))]


def test_cursor_is_opaque_base64url_without_padding(client: FlaskClient) -> None:
    cur = data_of(client, "/api/v1/search?q=oil&page_size=2")["next_cursor"]
    assert "=" not in cur and "+" not in cur and "/" not in cur
    assert json.loads(__import__("base64").urlsafe_b64decode(cur + "=" * (-len(cur) % 4)))["v"] == 1
