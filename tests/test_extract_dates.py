"""Publication dates: the cascade's vote, the page's own day, and no dates from the future."""

from __future__ import annotations

import datetime as dt
import json

from indexer.extract import extract
from search.models import Article

UTC = dt.timezone.utc
CRAWLED = dt.datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PROSE = (
    "<p>The council approved the new budget on Tuesday after a debate that lasted most of "
    "the afternoon, with members arguing over how much to spend on roads and schools.</p>"
    "<p>Opponents said the plan relied on optimistic forecasts, while supporters argued that "
    "delaying repairs would only make them more expensive in the years to come.</p>"
)


def html_article(head: str = "", body: str = "", url: str | None = None) -> Article:
    canonical = f'<link rel="canonical" href="{url}">' if url else ""
    page = (
        f"<html><head><meta charset='utf-8'><title>Council passes the budget</title>"
        f"{canonical}{head}</head><body><article><h1>Council passes the budget</h1>"
        f"{body}{PROSE}</article></body></html>"
    )
    [article] = extract("page.html", page.encode(), "html", not_after=CRAWLED)
    assert isinstance(article, Article)
    return article


def jsonld(**fields: str) -> str:
    return f'<script type="application/ld+json">{json.dumps({"@type": "NewsArticle", **fields})}</script>'


def meta(name: str, content: str) -> str:
    return f'<meta property="{name}" content="{content}">'


def test_a_stale_jsonld_date_is_outvoted_by_the_page() -> None:
    head = (
        jsonld(datePublished="2022-01-04T07:29:00Z")
        + meta("article:published_time", "2022-01-06T08:29:34")
        + '<meta name="date" content="2022-01-06">'
    )
    article = html_article(head)
    assert article.published == dt.datetime(2022, 1, 6, 8, 29, 34, tzinfo=UTC)


def test_a_utc_stamp_takes_the_offset_the_page_reveals() -> None:
    same_instant = jsonld(datePublished="2019-10-18T22:04:00Z") + (
        '<meta name="date" content="Sat, 19 Oct 2019 00:04:00 +0200">'
    )
    published = html_article(same_instant).published
    assert published is not None and published.isoformat() == "2019-10-19T00:04:00+02:00"

    local_time = meta("article:published_time", "2023-11-09T01:09:55+00:00")
    body = '<time datetime="2023-11-08 18:09:55">November 8, 2023 at 6:09 p.m.</time>'
    published = html_article(local_time, body).published
    assert published is not None and published.isoformat() == "2023-11-08T18:09:55-07:00"


def test_a_url_one_day_off_moves_a_utc_stamp_to_that_day() -> None:
    head = meta("article:published_time", "2023-11-01T23:01:00Z")
    article = html_article(head, url="https://example.it/esteri/2023/11/02/story")
    assert article.published is not None
    assert article.published.date() == dt.date(2023, 11, 2)
    assert article.published == dt.datetime(2023, 11, 1, 23, 1, tzinfo=UTC)  # same instant


def test_dates_after_the_crawl_are_not_used() -> None:
    head = jsonld(datePublished="2031-05-05T10:00:00Z") + meta(
        "article:published_time", "2024-05-05T10:00:00Z"
    )
    assert html_article(head).published == dt.datetime(2024, 5, 5, 10, 0, tzinfo=UTC)
    only_future = jsonld(datePublished="2031-05-05T10:00:00Z")
    assert html_article(only_future).published is None

    record = json.dumps({"title": "t", "body": "b", "date": "2030-01-01"}).encode()
    [item] = extract("f.jsonl", record, "jsonl", not_after=CRAWLED)
    assert isinstance(item, Article) and item.published is None

    dump = (
        "Council passes the budget\n\nPublished March 3, 2031\n\n"
        + "The council approved the new budget on Tuesday after a long debate, members said. " * 3
    )
    [item] = extract("f.txt", dump.encode(), "text", not_after=CRAWLED)
    assert isinstance(item, Article) and item.published is None


def test_without_metadata_a_visible_published_line_dates_the_page() -> None:
    article = html_article(body="<p class='meta'>Published September 13,2024 at 10:02 am</p>")
    assert article.published is None  # after the crawl of 2024-06-01
    article = html_article(body="<p class='meta'>Published March 13,2024 at 10:02 am</p>")
    assert article.published == dt.datetime(2024, 3, 13, 10, 2, tzinfo=UTC)


def test_default_crawl_time_is_now() -> None:
    page = f"<html><head>{jsonld(datePublished='2999-01-01')}</head><body>{PROSE}</body></html>"
    [article] = extract("page.html", page.encode(), "html")
    assert isinstance(article, Article) and article.published is None
