"""Saved searches as Atom feeds: valid Atom (feedparser), stable ids, correct times, 304."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import feedparser
import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient

from search.models import Article
from tests.api_corpus import UTC, corpus
from tests.indexing import build_index
from web import create_app

ARTICLES = corpus()
BY_ID = {a.id: a for a in ARTICLES}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    root = tmp_path_factory.mktemp("feeds")
    build_index(root, ARTICLES)
    return create_app({"INDEX_DIR": str(root), "TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def parse(client: FlaskClient, url: str) -> feedparser.FeedParserDict:
    r = client.get(url)
    assert r.status_code == 200 and r.mimetype == "application/atom+xml"
    feed = feedparser.parse(r.data)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def utc(struct: time.struct_time) -> dt.datetime:
    return dt.datetime(*struct[:6], tzinfo=UTC)


def test_feed_is_valid_atom_with_the_newest_dated_matches(client: FlaskClient) -> None:
    feed = parse(client, "/feeds/search.atom?q=oil&limit=10")
    assert len(feed.entries) == 10
    assert feed.feed.title == "Dateline: “oil”" and feed.feed.id.startswith("tag:localhost,2024:")
    times = [utc(e.updated_parsed) for e in feed.entries]
    assert times == sorted(times, reverse=True)
    for e in feed.entries:
        a = BY_ID[e.id.rsplit(":", 1)[1]]
        assert a.published is not None and "oil" in (a.title + a.body).lower()
        assert utc(e.published_parsed) == utc(e.updated_parsed) == a.published
        assert e.title == a.title and e.summary
        assert e.link == (a.url or f"http://localhost/article/{a.id}")
    assert utc(feed.feed.updated_parsed) == times[0]
    self_link = next(link.href for link in feed.feed.links if link.rel == "self")
    assert parse_qs(urlsplit(self_link).query) == {"q": ["oil"], "limit": ["10"]}


def test_entries_carry_offsets_authors_and_categories(client: FlaskClient) -> None:
    feed = parse(client, "/feeds/search.atom?source=CNN&limit=100")
    by_id = {e.id.rsplit(":", 1)[1]: e for e in feed.entries}
    assert set(by_id) == {a.id for a in ARTICLES if a.source == "CNN" and a.published}
    e = by_id["a007"]  # published 15:30 in Istanbul
    assert e.published.endswith("+03:00") and utc(e.published_parsed) == BY_ID["a007"].published
    assert [t.term for t in e.tags] == ["CNN", "Business"]
    reuters = parse(client, "/feeds/search.atom?source=Reuters&limit=100")
    e = next(e for e in reuters.entries if e.id.endswith(":a010"))
    assert [a.name for a in e.authors] == ["Jane Roe", "John Doe"]


def test_undated_articles_never_appear(client: FlaskClient) -> None:
    feed = parse(client, "/feeds/search.atom?limit=100")
    ids = {e.id.rsplit(":", 1)[1] for e in feed.entries}
    assert ids == {a.id for a in ARTICLES if a.published}


def test_ids_are_stable_across_reindexing_and_hosts(tmp_path: Path) -> None:
    build_index(tmp_path, ARTICLES)
    app = create_app({"INDEX_DIR": str(tmp_path), "TESTING": True,
                      "FEED_TAG_AUTHORITY": "news.example.org"})  # fmt: skip
    client = app.test_client()
    first = parse(client, "/feeds/search.atom?q=budget&source=BBC&source=CNN")
    build_index(tmp_path, list(reversed(ARTICLES)))  # other document numbers
    # Other parameter order, other document numbers, another host name: the same ids.
    r = client.get("/feeds/search.atom?source=BBC&q=budget&source=CNN",
                   base_url="https://mirror.example")  # fmt: skip
    again = feedparser.parse(r.data)
    assert [e.id for e in again.entries] == [e.id for e in first.entries]
    assert again.feed.id == first.feed.id
    assert first.entries[0].id.startswith("tag:news.example.org,2024:article:")


def test_empty_feed_is_still_valid(client: FlaskClient) -> None:
    feed = parse(client, "/feeds/search.atom?q=nothingmatches")
    assert feed.entries == [] and feed.feed.updated


def test_control_characters_from_old_pages_do_not_break_the_xml(tmp_path: Path) -> None:
    odd = Article(id="odd", title="Bad\x0bbyte\x00 title", body="Body\x1bwith escape",
                  source="X\x01", published=dt.datetime(2020, 1, 1, tzinfo=UTC))
    build_index(tmp_path, [odd])
    client = create_app({"INDEX_DIR": str(tmp_path), "TESTING": True}).test_client()
    feed = parse(client, "/feeds/search.atom")
    assert feed.entries[0].title == "Badbyte title"


def test_feed_validators_answer_304(client: FlaskClient) -> None:
    r = client.get("/feeds/search.atom?q=oil")
    etag, modified = r.headers["ETag"], r.headers["Last-Modified"]
    assert client.get("/feeds/search.atom?q=oil", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/feeds/search.atom?q=oil",
                      headers={"If-Modified-Since": modified}).status_code == 304  # fmt: skip
    assert client.get("/feeds/search.atom?q=budget", headers={"If-None-Match": etag}).status_code == 200
    assert client.get("/feeds/search.atom?limit=500").status_code == 400


def test_search_page_offers_downloads_and_the_feed(client: FlaskClient) -> None:
    r = client.get("/search?q=oil&source=BBC&sort=oldest&page=2&page_size=5")
    soup = BeautifulSoup(r.data, "html.parser")
    links = {a.get_text(" ", strip=True): a["href"] for a in soup.select(".downloads a")}
    csv_href, jsonl_href, feed_href = links["CSV"], links["JSONL"], links["Atom feed"]
    for href, fmt in ((csv_href, "csv"), (jsonl_href, "jsonl")):
        qs = parse_qs(urlsplit(href).query)
        assert urlsplit(href).path == "/api/v1/export" and qs["format"] == [fmt]
        assert qs["q"] == ["oil"] and qs["source"] == ["BBC"] and qs["sort"] == ["oldest"]
        assert "page" not in qs and "page_size" not in qs
    qs = parse_qs(urlsplit(feed_href).query)
    assert urlsplit(feed_href).path == "/feeds/search.atom" and qs == {"q": ["oil"], "source": ["BBC"]}
    # The links work and export what the page counts.
    total = int(client.get(csv_href).headers["X-Result-Total"])
    assert f"{total} article" in soup.select_one("#result-count").get_text(" ", strip=True)
