"""The web baseline (bench/fts5_web.py): the FTS5 search the benchmark serves beside Dateline's."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask.testing import FlaskClient

from bench import fts5, fts5_web
from bench import web as bench_web
from bench.queries import draw, pool_from_articles
from bench.web import paths_for
from search.models import Article
from tests.indexing import build_index

UTC = dt.timezone.utc


def _articles(data: Path, name: str, n: int) -> list[Article]:
    with gzip.open(data / "collections" / f"{name}.jsonl.gz", "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in itertools.islice(f, n)]
    return [Article(id=f"{name[:2]}{i}", title=r["title"] or "", body=r["body"] or "",
                    language=r["language"], source=r["source"], section=r.get("section"),
                    published=dt.datetime.fromisoformat(r["date"][:10]).replace(tzinfo=UTC))
            for i, r in enumerate(records) if r.get("body")]


@pytest.fixture(scope="module")
def corpus(shared_data: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[Path, list[Article]]:
    articles = _articles(shared_data, "news9", 250) + _articles(shared_data, "saudinewsnet", 250)
    db = tmp_path_factory.mktemp("fts5web") / "fts5.sqlite"
    fts5.build(db, articles, time.perf_counter)
    return db, articles


@pytest.fixture(scope="module")
def client(corpus: tuple[Path, list[Article]]) -> FlaskClient:
    return fts5_web.create_app(corpus[0]).test_client()


def test_answers_every_benchmark_url_as_the_baseline_searcher_does(
    corpus: tuple[Path, list[Article]], client: FlaskClient
) -> None:
    """Each URL the benchmark sends to Dateline reads back as its query: the same total
    and hits as `bench.fts5.Searcher` gives for that query, snippets and facets on."""
    db, articles = corpus
    queries = draw(pool_from_articles(articles), 60, seed=5)
    searcher = fts5.Searcher(db)
    kinds = set()
    for bq, path in zip(queries, paths_for(queries, "/api/search"), strict=True):
        assert fts5_web.query_from_args(dict(parse_qsl(urlsplit(path).query))) == \
            fts5_web.BenchQuery("web", bq.words, bq.phrase, bq.source, bq.sort)
        r = client.get(path)
        assert r.status_code == 200, (path, r.get_json())
        body = r.get_json()
        want = searcher.search(bq)
        assert body["total"] == want["total"]
        assert [h["id"] for h in body["hits"]] == [row[0] for row in want["hits"]]
        assert set(body["facets"]) == set(fts5.FACETS)
        kinds.add(bq.kind)
    searcher.close()
    assert {"phrase", "facet", "newest"} <= kinds  # sources, phrases and sorts were read back
    assert any(
        "<mark>" in h["snippet"] for p in paths_for(queries[:10], "/api/search")
        for h in client.get(p).get_json()["hits"]
    )


@pytest.mark.parametrize("query", ["", "q=", 'q="', "q=oil&sort=oldest", "q=%20%20"])
def test_a_request_it_cannot_answer_is_a_400_with_a_reason(client: FlaskClient,
                                                           query: str) -> None:
    r = client.get(f"/api/search?{query}")
    assert r.status_code == 400
    assert r.get_json()["error"]


def test_a_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="FTS5 database not found"):
        fts5_web.create_app(tmp_path / "none.sqlite")


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_the_web_part_serves_both_apps_under_the_same_load(
    corpus: tuple[Path, list[Article]], tmp_path: Path
) -> None:
    """`bench.web.run` serves Dateline and then the baseline with gunicorn, loads both with
    wrk, and reports Dateline's figures over the baseline's."""
    db, articles = corpus
    if not Path(sys.executable).with_name("gunicorn").exists():
        pytest.skip("gunicorn is not installed beside this Python")
    index = build_index(tmp_path / "ix", articles).root
    queries = draw(pool_from_articles(articles), 20, seed=2)
    got = bench_web.run(index, queries, repo=Path(__file__).resolve().parent.parent,
                        work=tmp_path, seconds=1, warmup_s=0, workers=1, threads=1,
                        connections=2, endpoints=["/api/search"], log=tmp_path / "log",
                        baseline_db=db)
    ours = got["endpoints"]["/api/search"]
    base = got["baseline"]["endpoints"]["/api/search"]
    assert ours["requests"] > 0 and base["requests"] > 0
    assert ours["non2xx"] == 0 and base["non2xx"] == 0
    assert got["baseline"]["server"]["argv"].endswith("bench.fts5_web:create_app()")
    assert got["baseline"]["ratios"]["/api/search"]["rps"] == pytest.approx(ours["rps"] / base["rps"])


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_a_baseline_that_fails_to_serve_keeps_the_dateline_figures(
    corpus: tuple[Path, list[Article]], tmp_path: Path
) -> None:
    articles = corpus[1]
    if not Path(sys.executable).with_name("gunicorn").exists():
        pytest.skip("gunicorn is not installed beside this Python")
    index = build_index(tmp_path / "ix", articles[:50]).root
    queries = draw(pool_from_articles(articles[:50]), 5, seed=2)
    got = bench_web.run(index, queries, repo=Path(__file__).resolve().parent.parent,
                        work=tmp_path, seconds=1, warmup_s=0, workers=1, threads=1,
                        connections=2, endpoints=["/api/search"], log=tmp_path / "log",
                        baseline_db=tmp_path / "missing.sqlite")
    assert got["endpoints"]["/api/search"]["requests"] > 0
    assert "gunicorn exited" in got["baseline"]["error"]
