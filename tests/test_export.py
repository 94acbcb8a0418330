"""/api/v1/export: every match streamed as CSV or JSON Lines, in order, capped, on one generation."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from search.models import Article
from tests.api_corpus import corpus
from tests.indexing import build_index
from web import create_app

ARTICLES = corpus()
INDEX_ARTICLES = ARTICLES  # what `app` serves (tests/conftest.py)


def rows(client: FlaskClient, url: str) -> list[dict[str, str]]:
    r = client.get(url)
    assert r.status_code == 200, r.data[:300]
    assert r.mimetype == "text/csv" and r.headers["Content-Disposition"].startswith("attachment;")
    return list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))


def all_ids(client: FlaskClient, query: str) -> list[str]:
    """Every hit id of a search, in order, by cursor."""
    ids, url = [], f"/api/v1/search?{query}&page_size=100&facets=false"
    d = client.get(url).get_json()["data"]
    ids += [h["id"] for h in d["hits"]]
    while d["next_cursor"]:
        d = client.get(f"{url}&cursor={d['next_cursor']}").get_json()["data"]
        ids += [h["id"] for h in d["hits"]]
    return ids


@pytest.mark.parametrize("query", ["q=", "q=oil", "q=oil&sort=newest", "source=BBC&source=CNN",
                                   "q=budget&from=2017-01-03&to=2017-01-06&sort=oldest",
                                   "q=nothingmatches", "author=Ann%20Lee&language=en"])
def test_csv_rows_equal_the_search_total_and_order(client: FlaskClient, query: str) -> None:
    total = client.get(f"/api/v1/search?{query}").get_json()["data"]["total"]
    r = client.get(f"/api/v1/export?{query}")
    got = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert len(got) == total == int(r.headers["X-Result-Total"])
    assert r.headers["X-Result-Truncated"] == "false"
    assert [row["id"] for row in got] == all_ids(client, query)


def test_jsonl_has_the_chosen_fields_in_order(client: FlaskClient) -> None:
    r = client.get("/api/v1/export?format=jsonl&q=oil&fields=title,id,authors,published")
    assert r.status_code == 200 and r.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in r.get_data(as_text=True).splitlines()]
    assert len(lines) == 30 and list(lines[0]) == ["title", "id", "authors", "published"]
    by_id = {line["id"]: line for line in lines}
    assert by_id["a015"]["authors"] == ["Jane Roe", "John Doe"]
    assert by_id["a007"]["published"].endswith("+03:00") and by_id["a005"]["published"] is None


def test_csv_columns_and_values(client: FlaskClient) -> None:
    got = rows(client, "/api/v1/export?q=oil&fields=id,authors,published,url,body&sort=oldest")
    assert list(got[0]) == ["id", "authors", "published", "url", "body"]
    by_id = {row["id"]: row for row in got}
    assert by_id["a015"]["authors"] == "Jane Roe; John Doe" and by_id["a015"]["url"] == ""
    assert by_id["a007"]["published"] == "2017-01-02T15:30:00+03:00"
    default = rows(client, "/api/v1/export?q=oil")
    assert list(default[0]) == ["id", "published", "source", "section", "title", "url"]


def test_cap_and_limit_truncate_and_say_so(tmp_path: Path) -> None:
    build_index(tmp_path, ARTICLES)
    client = create_app({"INDEX_DIR": str(tmp_path), "TESTING": True,
                         "EXPORT_MAX_ROWS": 10}).test_client()  # fmt: skip
    r = client.get("/api/v1/export?sort=oldest")
    got = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert len(got) == 10 and r.headers["X-Result-Total"] == "60"
    assert r.headers["X-Result-Truncated"] == "true"
    assert [row["id"] for row in got] == all_ids(client, "sort=oldest")[:10]
    r = client.get("/api/v1/export?sort=oldest&limit=3&format=jsonl")
    assert len(r.get_data(as_text=True).splitlines()) == 3
    assert client.get("/api/v1/export?limit=11").status_code == 400


def test_csv_cells_never_run_as_formulas(tmp_path: Path) -> None:
    evil = Article(id="evil", title='=HYPERLINK("http://x.example","click")', body="+1 -2 @sum",
                   source="@Source", published=None)
    build_index(tmp_path, [*ARTICLES[:3], evil])
    client = create_app({"INDEX_DIR": str(tmp_path), "TESTING": True}).test_client()
    got = {r["id"]: r for r in rows(client, "/api/v1/export?fields=id,title,body,source")}
    assert got["evil"]["title"].startswith("'=HYPERLINK") and got["evil"]["body"] == "'+1 -2 @sum"
    assert got["evil"]["source"] == "'@Source"
    line = client.get("/api/v1/export?format=jsonl&q=hyperlink&fields=title").get_data(as_text=True)
    assert json.loads(line)["title"].startswith("=HYPERLINK")  # JSON is left as it is


def test_stream_keeps_reading_its_generation_while_a_new_one_is_published(tmp_path: Path) -> None:
    build_index(tmp_path, ARTICLES)
    app = create_app({"INDEX_DIR": str(tmp_path), "TESTING": True, "EXPORT_CHUNK_ROWS": 5})
    client = app.test_client()
    pool = app.extensions["dateline_pool"]
    r = client.get("/api/v1/export?sort=oldest&format=jsonl", buffered=False)
    chunks = iter(r.response)
    first = next(chunks)
    # A publish, and a request that opens the new generation and retires the old searcher.
    build_index(tmp_path, ARTICLES[:7])
    assert client.get("/api/v1/stats").get_json()["data"]["documents"] == 7
    rest = b"".join(chunks)
    r.close()
    ids = [json.loads(line)["id"] for line in (first + rest).decode().splitlines()]
    assert len(ids) == 60 == len(set(ids))
    assert pool.open_searchers() == 1  # the export's lease on the old generation was returned


def test_export_validators_and_head(client: FlaskClient) -> None:
    r = client.get("/api/v1/export?q=oil&format=jsonl")
    etag = r.headers["ETag"]
    assert client.get("/api/v1/export?q=oil&format=jsonl",
                      headers={"If-None-Match": etag}).status_code == 304  # fmt: skip
    assert client.get("/api/v1/export?q=oil&format=csv").headers["ETag"] != etag
    h = client.head("/api/v1/export?q=oil")
    assert h.status_code == 200 and h.data == b"" and h.headers["X-Result-Total"] == "30"


def test_export_dates_carry_their_offsets(client: FlaskClient) -> None:
    for row in rows(client, "/api/v1/export?fields=id,published"):
        if row["published"]:
            assert row["published"][-6] in "+-"
