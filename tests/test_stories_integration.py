"""Stories end to end: index jobs keep them, search collapses them, pages and API show them.

Sources are real news records (`shared_data`) plus reprints of some of them
made with the outlet edits of `indexer.wire_edits`, so which articles belong
together is known without inventing text.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask.testing import FlaskClient
from whoosh import index as whoosh_index

from indexer import jobs
from search import engine, storymap
from search.index import IndexLocation
from search.models import SearchRequest
from search.stories import STORIES_FILE, StoryIndex
from tests.jobfixtures import (
    ORIGINALS,
    REPRINTS,
    a_story,
    map_of,
    news_lines,
    reprints,
    stored_docs,
    story_index,
    write_lines,
)
from web import create_app


@pytest.fixture(scope="module")
def lines(shared_data: Path) -> list[str]:
    return news_lines(shared_data, 60)


def stories_of(index_dir: Path) -> dict[str, str]:
    """Return {article id: story id} from the served generation's saved story index."""
    gen = IndexLocation(index_dir).current()
    return StoryIndex.load(gen.path, jobs.STORY_PARAMS).assignments()


def test_update_joins_and_leaves_like_rebuild(tmp_path: Path, lines: list[str]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_lines(src / "a.jsonl", lines)
    ix = tmp_path / "ix"
    jobs.rebuild([src], ix)

    # Join: reprints arrive in a later file.
    copies = reprints(lines)
    write_lines(src / "b.jsonl", copies)
    report = jobs.update(None, ix)
    assert report.added == len(copies)
    joined = stories_of(ix)
    by_url = {d.get("url"): aid for aid, d in stored_docs(ix).items()}
    pairs = [(by_url[c["url"]], by_url[c["original_url"]]) for c in map(json.loads, copies)]
    together = sum(joined[copy] == original for copy, original in pairs)
    assert together >= 0.7 * len(copies), f"only {together} of {len(copies)} reprints joined"

    # Leave: three originals are withdrawn; their reprints form stories of their own.
    gone = [by_url[json.loads(x)["url"]] for x in lines[:3]]
    write_lines(src / "a.jsonl", lines[3:])
    jobs.update(None, ix)
    left = stories_of(ix)
    assert not set(gone) & set(left)
    assert not set(gone) & set(left.values())

    fresh = tmp_path / "fresh"
    jobs.rebuild([src], fresh)
    assert left == stories_of(fresh)
    assert map_of(ix) == map_of(fresh)
    manifest = IndexLocation(ix).current().manifest
    assert manifest["stories"]["articles"] == len(left)
    assert manifest["stories"]["multi_version_stories"] == len(map_of(ix))


def test_update_rebuilds_a_broken_story_file(
    tmp_path: Path, lines: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_lines(src / "a.jsonl", lines[:40])
    ix = tmp_path / "ix"
    jobs.rebuild([src], ix)
    base = IndexLocation(ix).current()
    (base.path / STORIES_FILE).write_bytes(b"garbage")
    write_lines(src / "b.jsonl", reprints(lines[:40]))
    jobs.update(None, ix)
    assert "rebuilding the story index" in caplog.text
    fresh = tmp_path / "fresh"
    jobs.rebuild([src], fresh)
    assert stories_of(ix) == stories_of(fresh)


# --- search, API and pages over one index --------------------------------------------------


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, lines: list[str]) -> Path:
    return story_index(tmp_path_factory.mktemp("stories"), lines)


def test_api_collapses_and_reports_stories(client: FlaskClient, index_dir: Path) -> None:
    body: dict[str, Any] = client.get("/api/search?page_size=100").get_json()
    total = len(json.loads(json.dumps(body))["hits"])
    assert body["total"] == 60 + ORIGINALS * REPRINTS  # articles, not stories
    assert body["total_stories"] == total < body["total"]
    story_ids = [h["story"]["id"] for h in body["hits"]]
    assert len(story_ids) == len(set(story_ids))
    story_id, members = a_story(index_dir)
    hit = next(h for h in body["hits"] if h["story"]["id"] == story_id)
    assert hit["id"] == story_id  # with nothing to narrow it, the first version is shown
    assert hit["story"]["versions"] == len(members)
    assert set(hit["story"]) == {"id", "versions", "first_published", "first_source"}

    everything = client.get("/api/search?page_size=100&collapse=false").get_json()
    assert everything["total_stories"] is None
    assert len(everything["hits"]) == everything["total"] == body["total"]
    assert client.get("/api/search?collapse=maybe").status_code == 400


def test_api_story_lists_versions_in_time_order(client: FlaskClient, index_dir: Path) -> None:
    story_id, members = a_story(index_dir)
    body = client.get(f"/api/stories/{story_id}").get_json()
    assert [v["id"] for v in body["versions"]] == members
    dates = [v["published"] for v in body["versions"]]
    assert dates == sorted(dates)
    assert client.get(f"/api/stories/{members[1]}").status_code == 404  # not a story id
    assert client.get("/api/stories/no-such-story").status_code == 404


def test_results_page_shows_one_hit_per_story(client: FlaskClient, index_dir: Path) -> None:
    story_id, members = a_story(index_dir)
    soup = BeautifulSoup(client.get("/search?page_size=100").data, "html.parser")
    links = soup.select("ol.results li.hit p.story a[data-story]")
    assert [a["data-story"] for a in links].count(story_id) == 1
    link = next(a for a in links if a["data-story"] == story_id)
    assert link["href"] == f"/story/{story_id}"
    assert link.get_text(strip=True) == f"{len(members) - 1} other versions"
    toggle = soup.select_one("a.collapse-toggle")
    assert toggle is not None and "collapse=false" in toggle["href"]

    soup = BeautifulSoup(client.get(toggle["href"]).data, "html.parser")
    assert len(soup.select("ol.results li.hit")) == 60 + ORIGINALS * REPRINTS
    back = soup.select_one("a.collapse-toggle")
    assert back is not None and "collapse" not in back["href"]


def test_story_page_diffs_each_version_against_the_first(
    client: FlaskClient, index_dir: Path
) -> None:
    story_id, members = a_story(index_dir)
    resp = client.get(f"/story/{story_id}")
    assert resp.status_code == 200
    soup = BeautifulSoup(resp.data, "html.parser")
    versions = soup.select("ol.versions li.version")
    assert [v["data-id"] for v in versions] == members
    first = json.loads(client.get(f"/api/articles/{story_id}").data)
    assert soup.select_one(".story-summary .first-source").get_text() == first["source"]
    for v in versions[1:]:
        assert v.select(".diff ins") or v.select(".diff del")
    assert client.get(f"/story/{members[1]}").status_code == 404


def test_story_page_escapes_text(tmp_path: Path, lines: list[str]) -> None:
    rec = json.loads(lines[0])
    hostile = dict(
        rec,
        id="xss-1",
        source="evil.example",
        url="https://evil.example/1",
        body=rec["body"] + "\n\n<script>alert(1)</script>",
        date=(rec.get("date") or "2017-01-01")[:10],
    )
    src = tmp_path / "src"
    src.mkdir()
    write_lines(src / "a.jsonl", [lines[0], json.dumps(hostile)])
    jobs.rebuild([src], tmp_path / "ix")
    by_url = {d.get("url"): aid for aid, d in stored_docs(tmp_path / "ix").items()}
    first, copy = by_url[rec["url"]], by_url[hostile["url"]]
    client = create_app({"INDEX_DIR": str(tmp_path / "ix"), "TESTING": True}).test_client()
    story = client.get(f"/api/stories/{first}").get_json()
    assert [v["id"] for v in story["versions"]] == [first, copy]
    html = client.get(f"/story/{first}").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert "<ins>&lt;script&gt;alert(1)&lt;/script&gt;</ins>" in html.replace("\n", "")


def test_generation_without_a_map_does_not_collapse(tmp_path: Path, index_dir: Path) -> None:
    copy = tmp_path / "ix"
    shutil.copytree(index_dir, copy)
    gen = IndexLocation(copy).current()
    (gen.path / storymap.STORY_MAP).unlink()
    body = (
        create_app({"INDEX_DIR": str(copy), "TESTING": True})
        .test_client()
        .get("/api/search")
        .get_json()
    )
    assert body["total_stories"] is None
    assert all(h["story"] is None for h in body["hits"])


def test_collapse_latency(index_dir: Path) -> None:
    """Measure search time with and without collapsing (reported, not asserted)."""
    gen = IndexLocation(index_dir).current()
    smap = storymap.load(gen.path)
    ix = whoosh_index.open_dir(str(gen.path))
    timings: dict[bool, list[float]] = {True: [], False: []}
    with ix.searcher() as s:
        for _ in range(20):
            for collapse in (True, False):
                t0 = time.perf_counter()
                for q in ("", "trump", "said"):
                    engine.search(s, SearchRequest(q=q, collapse=collapse), smap)
                timings[collapse].append(time.perf_counter() - t0)
    on, off = statistics.median(timings[True]), statistics.median(timings[False])
    print(f"collapse on {on * 1000:.2f} ms, off {off * 1000:.2f} ms, ratio {on / off:.2f}")
