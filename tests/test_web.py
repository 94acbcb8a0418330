"""The Flask app: pages read like a reader would (BeautifulSoup), JSON shapes, errors."""

from __future__ import annotations

from functools import partial

import pytest
from bs4 import BeautifulSoup
from flask.testing import FlaskClient

from tests import reading
from tests.reading import query_of
from tests.test_search import DOCS
from web import create_app

INDEX_ARTICLES = DOCS  # what `app` serves (tests/conftest.py)
soup_of = partial(reading.soup_of, mimetype="text/html")  # every page here must be HTML


def test_home_has_search_box(client: FlaskClient) -> None:
    soup = soup_of(client, "/")
    form = soup.select_one("form[role=search]")
    assert form is not None and form["action"] == "/search"
    assert soup.select_one("label[for=q-home]") and soup.select_one("input#q-home[name=q]")
    assert "7 articles indexed" in soup.get_text(" ", strip=True)


def test_results_page_has_results_marks_and_facets(client: FlaskClient) -> None:
    soup = soup_of(client, "/search?q=budget")
    hits = soup.select("ol.results li.hit")
    assert len(hits) == 3
    assert soup.select("ol.results mark")
    assert "3 articles" in soup.select_one("#result-count").get_text(" ", strip=True)
    sources = {a["data-value"]: int(a.select_one(".count").text) for a in soup.select("ul[data-facet=source] a")}
    assert sources == {"CNN": 2, "BBC": 1}
    assert soup.select("ul[data-facet=year] a")
    # Titles link to the article page and carry the query for highlighting.
    href = hits[0].select_one(".hit-title a")["href"]
    assert href.startswith("/article/") and query_of(href)["q"] == ["budget"]


def test_facet_links_keep_query_and_filters_and_toggle(client: FlaskClient) -> None:
    soup = soup_of(client, "/search?q=budget&section=Tech")
    link = soup.select_one('ul[data-facet=source] a[data-value="CNN"]')
    qs = query_of(link["href"])
    assert qs["q"] == ["budget"] and qs["section"] == ["Tech"] and qs["source"] == ["CNN"]
    # Following the link filters; the count shown equals the new total.
    count = int(link.select_one(".count").text)
    soup2 = soup_of(client, link["href"])
    assert len(soup2.select("ol.results li.hit")) == count
    # The selected value's link removes it again, and a chip does the same.
    sel = soup2.select_one('ul[data-facet=source] li.selected a')
    assert "source" not in query_of(sel["href"])
    chips = {a.get_text(" ", strip=True): a["href"] for a in soup2.select("ul.chips a.chip")}
    chip = next(h for t, h in chips.items() if t.startswith("Source: CNN"))
    assert "source" not in query_of(chip) and query_of(chip)["section"] == ["Tech"]


def test_year_then_month_facets(client: FlaskClient) -> None:
    soup = soup_of(client, "/search?year=2017")
    months = soup.select("ul[data-facet=month] a")
    assert [a["data-value"] for a in months] == ["2017-01", "2017-02", "2017-03"]
    assert "February 2017" in months[1].get_text()


def test_pagination_links_keep_state(client: FlaskClient) -> None:
    soup = soup_of(client, "/search?q=&sort=oldest&page_size=2")
    nxt = soup.select_one("nav.pages a[rel=next]")
    qs = query_of(nxt["href"])
    assert qs["page"] == ["2"] and qs["sort"] == ["oldest"] and qs["page_size"] == ["2"]


def test_article_page_shows_clean_article_with_highlights(client: FlaskClient) -> None:
    soup = soup_of(client, "/article/tr2?q=kalin")
    assert "Kalın" in soup.select_one("h1").get_text()
    assert soup.select(".body mark")
    assert "Anadolu Agency" in soup.select_one("dl.article-meta").get_text()


def test_xss_never_reaches_the_page(client: FlaskClient) -> None:
    r = client.get('/search?q="><script>alert(1)</script> budget')
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html
    soup = BeautifulSoup(html, "html.parser")
    # The only scripts are our static files; nothing the user typed becomes a tag.
    assert all(s.get("src", "").startswith("/static/") and not s.string for s in soup.select("script"))
    assert not soup.select("ol.results img")
    r = client.get("/article/xss")
    assert b"<script>alert" not in r.data and b"&lt;script&gt;" in r.data


@pytest.mark.parametrize("path", ["/article/..%2f..%2fetc%2fpasswd", "/article/nope", "/article/a%00b",
                                  "/nothing-here"])
def test_unknown_pages_are_404(client: FlaskClient, path: str) -> None:
    soup = soup_of(client, path, status=404)
    assert soup.select_one("section.error")


@pytest.mark.parametrize("url", ["/search?q=*ing", "/search?page=0", "/search?year=x",
                                 "/search?from=yesterday", "/search?sort=up"])
def test_bad_input_gets_a_friendly_400_page(client: FlaskClient, url: str) -> None:
    soup = soup_of(client, url, status=400)
    assert soup.select_one("section.error .message").get_text(strip=True)


def test_api_search_shape(client: FlaskClient) -> None:
    r = client.get("/api/search?q=budget&source=CNN&page_size=1")
    assert r.status_code == 200 and r.is_json
    d = r.get_json()
    assert {"query", "total", "page", "page_size", "hits", "facets", "took_ms"} <= d.keys()
    assert d["total"] == 2 and d["page_size"] == 1 and len(d["hits"]) == 1
    hit = d["hits"][0]
    assert {"id", "url", "title", "title_highlighted", "snippet", "source", "section", "published",
            "author"} <= hit.keys()
    assert hit["source"] == "CNN"
    assert {"source", "section", "year"} <= d["facets"].keys()
    assert {"value", "count", "selected"} <= d["facets"]["source"][0].keys()


@pytest.mark.parametrize(
    "query, parameter",
    [("page=abc", "page"), ("page_size=500", "page_size"), ("sort=x", "sort"), ("q=*ing", "q"),
     ("from=2017-13-01", "from"), ("month=3", "month")],
)
def test_api_bad_parameters_are_400_json_naming_the_parameter(client: FlaskClient, query: str,
                                                               parameter: str) -> None:
    r = client.get(f"/api/search?{query}")
    assert r.status_code == 400 and r.is_json
    d = r.get_json()
    assert d["ok"] is False and d["error"]["parameter"] == parameter and d["error"]["message"]


def test_api_article_and_health(client: FlaskClient) -> None:
    r = client.get("/api/articles/tr2")
    assert r.status_code == 200 and r.get_json()["title"] == "Kalın meets delegation"
    r = client.get("/api/articles/missing")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    h = client.get("/api/health").get_json()
    assert h["doc_count"] == 7 and h["status"] == "ok" and h["generation"]


def test_health_is_503_without_an_index(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app({"INDEX_DIR": str(tmp_path / "none"), "TESTING": True})
    c = app.test_client()
    r = c.get("/api/health")
    assert r.status_code == 503 and r.get_json()["status"] == "degraded"
    assert c.get("/").status_code == 200  # the home page still renders
    r = c.get("/search?q=x")
    assert r.status_code == 503 and b"temporarily unavailable" in r.data
