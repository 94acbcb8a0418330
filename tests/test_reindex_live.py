"""Search keeps answering, correctly, while jobs publish new generations under it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from indexer import jobs
from search import SearcherPool, SearchRequest, search
from search.index import IndexLocation
from tests.jobfixtures import news_lines
from tests.test_jobs_kill import write_state
from web import create_app

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ("", "trump", "president said", "title:election")

SEARCH_PROCESS = """
import json, pathlib, sys
from search import SearcherPool, SearchRequest, search
from search.index import IndexLocation
pool = SearcherPool(IndexLocation(sys.argv[1]))
queries, stop_file = json.loads(sys.argv[2]), pathlib.Path(sys.argv[3])
seen, errors = [], []
while not stop_file.exists():
    for q in queries:
        try:
            with pool.searcher() as (s, gen):
                seen.append([gen.doc_count, q, search(s, SearchRequest(q=q)).total])
        except Exception as e:
            errors.append(repr(e))
print(json.dumps({"seen": seen, "errors": errors}))
"""


@pytest.fixture(scope="module")
def lines(shared_data: Path) -> list[str]:
    return news_lines(shared_data, 76)


def totals(index_dir: Path) -> dict[str, int]:
    pool = SearcherPool(IndexLocation(index_dir))
    with pool.searcher() as (s, _):
        return {q: search(s, SearchRequest(q=q)).total for q in QUERIES}


@pytest.mark.slow
def test_threads_processes_and_web_see_old_or_new_never_errors(
    tmp_path: Path, lines: list[str]
) -> None:
    src, ix = tmp_path / "src", tmp_path / "ix"
    expected: dict[int, dict[str, int]] = {}  # doc count of a state -> totals per query
    for state in ("B", "A"):
        write_state(src, lines, state)
        jobs.update([src], ix)
        expected[IndexLocation(ix).current().doc_count] = totals(ix)
    assert len(expected) == 2

    pool = SearcherPool(IndexLocation(ix))
    app = create_app({"INDEX_DIR": str(ix), "TESTING": True})
    stop = threading.Event()
    errors: list[str] = []
    checked: Counter[str] = Counter()
    generations: set[str] = set()

    def pool_searches() -> None:
        while not stop.is_set():
            for q in QUERIES:
                try:
                    with pool.searcher() as (s, gen):
                        total = search(s, SearchRequest(q=q)).total
                        generations.add(gen.name)
                        if total != expected[gen.doc_count][q]:
                            errors.append(f"{gen.name} {q!r}: {total}")
                        checked["pool"] += 1
                    time.sleep(0.002)  # leave the jobs some CPU on a 2-core machine
                except Exception as e:  # noqa: BLE001 - any error is a test failure, collected
                    errors.append(repr(e))

    def web_searches() -> None:
        client = app.test_client()
        valid = {q: {t[q] for t in expected.values()} for q in QUERIES}
        while not stop.is_set():
            for q in QUERIES:
                r = client.get("/api/search", query_string={"q": q})
                if r.status_code != 200 or r.get_json()["total"] not in valid[q]:
                    errors.append(f"web {q!r}: {r.status_code} {r.data[:200]!r}")
                checked["web"] += 1
                time.sleep(0.002)
            if client.get("/api/health").status_code != 200:
                errors.append("health not ok")

    threads = [threading.Thread(target=pool_searches) for _ in range(2)]
    threads += [threading.Thread(target=web_searches) for _ in range(2)]
    for t in threads:
        t.start()
    stop_file = tmp_path / "stop"
    proc = subprocess.Popen(
        [sys.executable, "-c", SEARCH_PROCESS, str(ix), json.dumps(QUERIES), str(stop_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    try:
        for kind, state in (("update", "B"), ("rebuild", "A")):
            write_state(src, lines, state)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "indexer",
                    kind,
                    str(src),
                    "--index",
                    str(ix),
                    "--no-progress",
                ],
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
    finally:
        stop.set()
        stop_file.touch()
        for t in threads:
            t.join()
        out, _ = proc.communicate(timeout=60)
    other = json.loads(out)
    for doc_count, q, total in other["seen"]:
        if total != expected[doc_count][q]:
            errors.append(f"process {q!r}: {total}")
    assert not errors and not other["errors"], (errors[:5], other["errors"][:5])
    assert len(generations) >= 3 and checked["pool"] > 50 and checked["web"] > 20
    assert len({c for c, _, _ in other["seen"]}) == 2 and len(other["seen"]) > 50
    assert pool.open_searchers() <= 2


def test_searcher_survives_its_generation_being_deleted(tmp_path: Path, lines: list[str]) -> None:
    src, ix = tmp_path / "src", tmp_path / "ix"
    write_state(src, lines, "A")
    jobs.update([src], ix)
    pool = SearcherPool(IndexLocation(ix))
    with pool.searcher() as (s, gen):
        before = {q: search(s, SearchRequest(q=q)).total for q in QUERIES}
        for state in ("B", "A", "B"):  # three publishes: the held generation is pruned
            write_state(src, lines, state)
            jobs.update([src], ix)
        assert not gen.path.exists()
        # The request in flight goes on reading the deleted generation (Linux keeps the files).
        assert {q: search(s, SearchRequest(q=q)).total for q in QUERIES} == before
        assert len(list(s.all_stored_fields())) == gen.doc_count
        # A request on another thread meanwhile gets the new generation.
        got: list[str] = []
        t = threading.Thread(target=lambda: got.append(pool.generation().name))
        t.start()
        t.join()
        assert got == [IndexLocation(ix).current_name()]
        assert not s.is_closed  # borrowed: a publish must not close it
    assert s.is_closed  # retired when returned


def test_idle_searchers_of_other_threads_are_closed_on_publish(
    tmp_path: Path, lines: list[str]
) -> None:
    src, ix = tmp_path / "src", tmp_path / "ix"
    write_state(src, lines, "A")
    jobs.update([src], ix)
    pool = SearcherPool(IndexLocation(ix))
    parked = threading.Event()
    release = threading.Event()
    held: list[object] = []

    def one_request_then_idle() -> None:  # a worker thread that never serves again
        with pool.searcher() as (s, _):
            held.append(s)
        parked.set()
        release.wait(10)

    t = threading.Thread(target=one_request_then_idle)
    t.start()
    parked.wait(10)
    assert pool.open_searchers() == 1
    write_state(src, lines, "B")
    jobs.update([src], ix)
    with pool.searcher() as (_, gen):
        assert gen.doc_count == 56
    assert held[0].is_closed  # type: ignore[attr-defined]
    assert pool.open_searchers() == 1
    release.set()
    t.join()
    # A finished thread's searcher is closed once another thread opens one (unless the
    # new thread got the dead one's ident, and with it its searcher).
    opened: list[object] = []

    def request() -> None:
        with pool.searcher() as (s, _):
            opened.append(s)

    for _ in range(2):
        worker = threading.Thread(target=request)
        worker.start()
        worker.join()
    assert opened[0] is opened[1] or opened[0].is_closed  # type: ignore[attr-defined]


def test_health_shows_generation_and_last_job_and_degrades(
    tmp_path: Path, lines: list[str]
) -> None:
    src, ix = tmp_path / "src", tmp_path / "ix"
    write_state(src, lines, "A")
    report = jobs.rebuild([src], ix)
    client = create_app({"INDEX_DIR": str(ix), "TESTING": True}).test_client()
    h = client.get("/api/health").get_json()
    assert h["status"] == "ok" and h["generation"] == report.generation and h["doc_count"] == 60
    assert h["last_job"]["job"] == "rebuild" and h["last_job"]["outcome"] == "published"
    assert 0 <= h["last_success_age_s"] < 60

    # The served generation becomes unreadable: a running app keeps serving what it has
    # open, with a warning; a fresh one has nothing to serve and reports 503.
    (ix / "CURRENT").write_text("g-broken\n")
    time.sleep(0.01)
    h = client.get("/api/health")
    assert h.status_code == 200 and "g-broken" in h.get_json()["warning"]
    fresh = create_app({"INDEX_DIR": str(ix), "TESTING": True}).test_client()
    r = fresh.get("/api/health")
    assert r.status_code == 503 and r.get_json()["status"] == "degraded"
    assert r.get_json()["last_job"]["outcome"] == "published"
