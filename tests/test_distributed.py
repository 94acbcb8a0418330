"""Distributed rebuild on a real Dask LocalCluster (2 worker processes on loopback).

The contract: a rebuild on the cluster publishes the generation a single-process
rebuild of the same files publishes, document for document (ids, stored
fields, order), with the same top-10, facets, highlights, stories, catalog and
report counts; a partition whose worker dies is run again; one that keeps
failing fails the job with nothing published.

Dask is an optional extra: without it these tests skip (with the reason),
except where CI is set, where a missing extra is a broken setup.
"""

from __future__ import annotations

import gzip
import itertools
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from indexer import jobs
from indexer.__main__ import cli
from indexer.catalog import Catalog
from indexer.partition import Piece, plan_partitions
from indexer.pipeline import WORKERS_ENV
from indexer.report import JobReport
from indexer.shard import TEST_FAULT_ENV
from search import SearchRequest, search, storymap
from search.index import IndexLocation, open_whoosh
from search.models import Article
from search.stories import StoryIndex

REPO = Path(__file__).resolve().parents[1]
CORPUS_JSONL = (
    REPO / "corpus" / "data" / "newsarticles.jsonl"
)  # fetched by `make test` (corpus/fetch_demo.py)
CORPUS_ARTICLES = REPO / "corpus" / "articles"
QUERIES = [
    "",
    "trump",
    "education secretary",
    '"tie-breaking vote"',
    "pence OR devos",
    "title:senate",
    "police -shooting",
    "syria",
    "anadolu",
]


def _dask_or_skip() -> Any:
    try:
        import distributed
    except ImportError as e:
        if os.environ.get("CI"):
            pytest.fail(f"dask.distributed is not installed ({e}); CI must run these tests")
        pytest.skip(f"dask.distributed not installed ({e}): `make cluster-deps` to run these")
    return distributed


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    """A 2-process LocalCluster; drop `kill-N` / `raise-N` in the yielded folder for faults.

    Started as `--workers 2 --shard-procs 2` starts it (non-daemonic workers), so
    shards may be written by several processes.
    """
    _dask_or_skip()
    from indexer.distributed import ClusterOptions, connect

    faults = tmp_path_factory.mktemp("faults")
    saved = os.environ.get(TEST_FAULT_ENV)
    os.environ[TEST_FAULT_ENV] = str(faults)  # inherited by the worker processes
    try:
        with connect(ClusterOptions(workers=2, shard_procs=2)) as client:
            yield client, faults
    finally:
        if saved is None:
            os.environ.pop(TEST_FAULT_ENV, None)
        else:
            os.environ[TEST_FAULT_ENV] = saved


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Real articles with the awkward cases: duplicate ids within and across files, bad lines."""
    root = tmp_path_factory.mktemp("sources")
    lines = CORPUS_JSONL.read_text(encoding="utf-8").splitlines()
    news = [*lines[:240], "", "{not json", lines[4]]  # a blank, a bad line, a repeat of line 5
    (root / "a_news.jsonl").write_text("\n".join(news) + "\n", encoding="utf-8")
    # Earlier copies of 10 ids (they win over a_news's) and 5 fresh ones, gzipped.
    with gzip.open(root / "0_dups.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(lines[100:110] + lines[240:245]) + "\n")
    (root / "b_broken.json").write_text("{broken", encoding="utf-8")
    (root / "c_notes.csv").write_text("not,an,article\n", encoding="utf-8")
    _backdate(root)
    return [str(CORPUS_ARTICLES), str(root)]


def _backdate(folder: Path) -> None:
    """Age new files past the catalog's racy window, so both builds record their mtimes."""
    for f in folder.iterdir():
        os.utime(f, (f.stat().st_atime - 3600, f.stat().st_mtime - 3600))


def _single(sources: list[str], index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> JobReport:
    """The reference: a rebuild with one in-process writer."""
    monkeypatch.setenv(WORKERS_ENV, "0")
    return jobs.rebuild(sources, index_dir)


def _distributed(
    sources: list[str],
    index_dir: Path,
    client: Any,
    on_partition: Callable[[Any], None] | None = None,
    **kw: Any,
) -> JobReport:
    from indexer.distributed import ClusterOptions, rebuild_distributed

    options = ClusterOptions(split_min_bytes=0, **kw)
    return rebuild_distributed(
        sources, index_dir, options, client=client, on_partition=on_partition
    )


def _build_and_compare(
    sources: list[str],
    index_dir: Path,
    client: Any,
    reference: tuple[JobReport, dict[str, Any]],
    *,
    ranking: bool = True,
    **kw: Any,
) -> tuple[JobReport, dict[str, Any]]:
    """Rebuild on the cluster; assert the same counts and generation as `reference`."""
    report = _distributed(sources, index_dir, client, **kw)
    assert _counts(report) == _counts(reference[0])
    snap = _snapshot(index_dir)
    _assert_same(reference[1], snap, ranking=ranking)
    return report, snap


def _snapshot(index_dir: Path) -> dict[str, Any]:
    """Everything a reader of the generation can see, in comparable form."""
    gen = IndexLocation(index_dir).current()
    smap = storymap.load(gen.path)
    ix = open_whoosh(gen)
    try:
        with ix.searcher() as s:
            docs = list(s.all_stored_fields())  # docnum order
            results = {}
            for q in QUERIES:
                r = search(s, SearchRequest(q=q), smap).to_dict()
                r.pop("took_ms")
                results[q] = r
            segments = len(s.reader().leaf_readers()) if not s.is_atomic() else 1
    finally:
        ix.close()
    return {
        "docs": docs,
        "results": results,
        "segments": segments,
        "catalog": Catalog.load(gen.path).to_json(),
        "stories": StoryIndex.load(gen.path, jobs.STORY_PARAMS).assignments(),
        "story_map": (gen.path / storymap.STORY_MAP).read_bytes(),
    }


def _counts(r: JobReport) -> tuple[Any, ...]:
    return (r.doc_count, r.added, r.duplicates, r.files, r.skipped, r.outcome)


def _without_ranking(result: dict[str, Any]) -> dict[str, Any]:
    """Totals, facets and timeline of a search, not which hits made the page."""
    return dict(result, hits=None)


def _assert_same(single: dict[str, Any], dist: dict[str, Any], *, ranking: bool = True) -> None:
    assert [d["id"] for d in dist["docs"]] == [d["id"] for d in single["docs"]]
    for a, b in zip(single["docs"], dist["docs"], strict=True):
        assert a == b, a["id"]
    for q in QUERIES:
        a, b = single["results"][q], dist["results"][q]
        if not ranking:
            a, b = _without_ranking(a), _without_ranking(b)
        assert b == a, q
    assert dist["catalog"] == single["catalog"]
    assert dist["stories"] == single["stories"]
    assert dist["story_map"] == single["story_map"]


@pytest.fixture(scope="module")
def reference(
    sources: list[str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[JobReport, dict[str, Any]]:
    index = tmp_path_factory.mktemp("single")
    with pytest.MonkeyPatch.context() as mp:
        report = _single(sources, index, mp)
    return report, _snapshot(index)


def test_distributed_rebuild_equals_single_process(
    cluster: tuple[Any, Path],
    sources: list[str],
    reference: tuple[JobReport, dict[str, Any]],
    tmp_path: Path,
) -> None:
    client, _ = cluster
    ref_report = reference[0]
    assert ref_report.duplicates >= 11 and ref_report.skipped  # the awkward cases are there
    report, snap = _build_and_compare(sources, tmp_path, client, reference, partitions=5)
    assert "distributed: 5 partitions" in report.message
    assert snap["segments"] > 1  # served through Whoosh's multi-reader
    assert sum(r["total"] for r in snap["results"].values()) > 0
    assert not (IndexLocation(tmp_path).current().path / "shards").exists()


def test_merged_shards_equal_single_process(
    cluster: tuple[Any, Path],
    sources: list[str],
    reference: tuple[JobReport, dict[str, Any]],
    tmp_path: Path,
) -> None:
    client, _ = cluster
    # A merge re-adds field lengths from their one-byte encodings: BM25's average
    # lengths shift, scores move by ~0.1% and close hits can swap places (5 of 24
    # top-10s at 56k articles). Documents, their order, totals and facets stay the
    # same; adopting the shards, the default, keeps the ranking too.
    _, snap = _build_and_compare(
        sources, tmp_path, client, reference, ranking=False, partitions=3, merge=True
    )
    assert snap["segments"] == 1


def test_shards_written_by_two_processes_equal_single_process(
    cluster: tuple[Any, Path],
    sources: list[str],
    reference: tuple[JobReport, dict[str, Any]],
    tmp_path: Path,
) -> None:
    """--shard-procs 2: each shard is two sub-shards of contiguous runs, adopted in order."""
    client, _ = cluster
    seen: list[Any] = []
    report, snap = _build_and_compare(
        sources, tmp_path, client, reference, partitions=2, shard_procs=2,
        on_partition=seen.append,
    )  # fmt: skip
    assert "2 processes per shard" in report.message
    assert snap["segments"] > 2  # more segments than partitions: the children wrote some
    # Progress: each phase from 0 to 2 of 2 partitions, documents growing, no failures.
    for phase in ("extract", "write"):
        steps = [p for p in seen if p.phase == phase]
        assert [(p.done, p.total) for p in steps] == [(0, 2), (1, 2), (2, 2)]
        assert [p.docs for p in steps] == sorted(p.docs for p in steps)
        assert all(p.failures == 0 for p in steps)
    assert [p for p in seen if p.phase == "write"][-1].docs == report.doc_count
    assert [p for p in seen if p.phase == "extract"][-1].docs >= report.doc_count


def test_worker_that_cannot_see_a_path_is_named(cluster: tuple[Any, Path], tmp_path: Path) -> None:
    """A path missing everywhere stands in for one a worker's machine does not mount."""
    from indexer.distributed import check_worker_paths

    client, _ = cluster
    staging, source = tmp_path / "staging", tmp_path / "articles"
    staging.mkdir()
    source.mkdir()
    check_worker_paths(client, staging, [str(source)])  # both visible: no error
    gone = tmp_path / "not-mounted"
    with pytest.raises(RuntimeError) as e:
        check_worker_paths(client, gone, [str(source), str(gone / "src")])
    message = str(e.value)
    for address in client.scheduler_info()["workers"]:
        assert f"worker {address}: cannot write the staging folder {gone}" in message
        assert f"worker {address}: cannot read source {gone / 'src'}" in message
    assert f"cannot read source {source} " not in message
    assert "mounts at the same path" in message


def test_rebuild_refuses_sources_its_workers_cannot_see(
    cluster: tuple[Any, Path],
    sources: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The client scans a folder, which is then removed before the workers are asked:
    what a worker without the client's mount sees. The job fails; nothing is published."""
    from indexer import distributed as dist

    client, _ = cluster
    folder = tmp_path / "only-on-the-client"
    shutil.copytree(sources[1], folder)
    real_scan = dist.full_scan

    def scan_then_unmount(srcs: list[str]) -> Any:
        plan = real_scan(srcs)
        shutil.rmtree(folder)
        return plan

    monkeypatch.setattr(dist, "full_scan", scan_then_unmount)
    index = tmp_path / "index"
    with pytest.raises(RuntimeError, match=rf"worker tcp://\S+: cannot read source {folder}"):
        _distributed([str(folder)], index, client, partitions=2)
    location = IndexLocation(index)
    assert location.current_name() is None and location.list_generations() == []
    assert (location.last_job() or {})["outcome"] == "failed"


def test_update_after_distributed_rebuild_uses_its_catalog(
    cluster: tuple[Any, Path], sources: list[str], tmp_path: Path
) -> None:
    client, _ = cluster
    index = tmp_path / "index"
    _distributed(sources, index, client, partitions=4)
    assert jobs.update(None, index).outcome == "no-op"


def test_shared_data_slice_equals_single_process(
    cluster: tuple[Any, Path],
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTML pages and plain-text dumps from ../shared/data: the extractors' other paths."""
    client, _ = cluster
    pages = tmp_path / "pages"
    pages.mkdir()
    for sub in ("extraction/fundus-dev/pages", "textdumps/aeb/pages"):
        for p in sorted((shared_data / sub).iterdir())[:12]:
            shutil.copy(p, pages / f"{sub.split('/')[1]}-{p.name}")
    _backdate(pages)
    srcs = [str(pages)]
    ref_report = _single(srcs, tmp_path / "single", monkeypatch)
    assert ref_report.doc_count > 12
    reference = (ref_report, _snapshot(tmp_path / "single"))
    _build_and_compare(srcs, tmp_path / "dist", client, reference, partitions=4)


def test_worker_killed_mid_job_is_retried(
    cluster: tuple[Any, Path],
    sources: list[str],
    reference: tuple[JobReport, dict[str, Any]],
    tmp_path: Path,
) -> None:
    client, faults = cluster
    # Partition 1's worker dies while extracting, partition 2's while writing: the
    # extractions it held are lost with it and Dask recomputes them elsewhere.
    (faults / "kill-extract-1").touch()
    (faults / "kill-write-2").touch()
    seen: list[Any] = []
    _build_and_compare(sources, tmp_path, client, reference, partitions=3, on_partition=seen.append)
    assert (faults / "kill-extract-1.done").exists() and (faults / "kill-write-2.done").exists()
    # Both deaths show in the progress as failed attempts (each was run again).
    assert seen[-1].phase == "write" and seen[-1].failures >= 2


def test_partition_that_keeps_failing_publishes_nothing(
    cluster: tuple[Any, Path], sources: list[str], tmp_path: Path
) -> None:
    client, faults = cluster
    first = _distributed(sources, tmp_path, client, partitions=3)
    location = IndexLocation(tmp_path)
    (faults / "raise-write-2").touch()
    try:
        with pytest.raises(RuntimeError, match="test fault in write-2"):
            _distributed(sources, tmp_path, client, partitions=3, retries=1)
    finally:
        (faults / "raise-write-2").unlink()
    assert location.current_name() == first.generation
    assert location.list_generations() == [first.generation]  # the failed one is gone
    job = location.last_job() or {}
    assert job["job"] == "rebuild" and job["outcome"] == "failed"
    assert "test fault" in job["error"]


def _gated(marks: Path) -> Callable[[], None]:
    """A task (a closure, so Dask ships it by value) that marks its start, runs until
    `marks/release` appears, then marks its end."""

    def task() -> None:
        (marks / "started").touch()
        deadline = time.monotonic() + 60
        while not (marks / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        (marks / "done").touch()

    return task


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_stop_tasks_returns_once_a_running_task_has_ended(
    cluster: tuple[Any, Path], tmp_path: Path
) -> None:
    """Cancel alone leaves a running task running: a failed job would discard its
    generation while a writer still adds files to it (and rmtree leave some)."""
    from indexer.distributed import _running_keys, stop_tasks

    client, _ = cluster
    future = client.submit(_gated(tmp_path), pure=False)
    _wait_for(tmp_path / "started")
    release = threading.Timer(0.5, (tmp_path / "release").touch)
    release.start()
    try:
        stop_tasks(client, [future])
    finally:
        release.join()
    assert (tmp_path / "done").exists()  # the task ended before stop_tasks returned
    assert not any(k for ks in client.run(_running_keys).values() for k in ks)


def test_stop_tasks_gives_up_waiting_after_its_timeout(
    cluster: tuple[Any, Path], tmp_path: Path
) -> None:
    from indexer.distributed import stop_tasks

    client, _ = cluster
    future = client.submit(_gated(tmp_path), pure=False)
    _wait_for(tmp_path / "started")
    try:
        stop_tasks(client, [future], timeout=0.3)  # returns though the task still runs
        assert not (tmp_path / "done").exists()
    finally:
        (tmp_path / "release").touch()
    _wait_for(tmp_path / "done")  # leave the worker idle for the next test


def test_cli_cluster_flag_builds_and_publishes(cluster: tuple[Any, Path], tmp_path: Path) -> None:
    client, _ = cluster
    address = client.scheduler.address
    args = ["build", str(CORPUS_ARTICLES), "--index", str(tmp_path), "--cluster", address]
    result = CliRunner().invoke(cli, [*args, "--shard-procs", "2", "--progress"])
    assert result.exit_code == 0, result.output
    assert "distributed: 1 partitions on 2 worker threads (1 processes)" in result.output
    assert "2 processes per shard" in result.output
    # The progress bars (stderr): partitions per phase, documents and failures.
    assert "extract: 100%" in result.output and "write: 100%" in result.output
    assert "1/1" in result.output and "docs=1, failures=0" in result.output
    assert " docs/s]" not in result.output  # not the single-process bar
    assert IndexLocation(tmp_path).current().doc_count == 1


def test_missing_dask_names_make_cluster_deps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    result = CliRunner().invoke(
        cli, ["rebuild", str(CORPUS_ARTICLES), "--index", str(tmp_path), "--workers", "2"]
    )
    assert result.exit_code == 1
    assert "make cluster-deps" in result.output
    assert not (tmp_path / "last-job.json").exists()  # refused before taking the job


def test_cli_refuses_shard_procs_without_a_cluster(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["rebuild", str(CORPUS_ARTICLES), "--index", str(tmp_path), "--shard-procs", "2"]
    )
    assert result.exit_code == 2 and "need --workers or --cluster" in result.output


def test_cli_refuses_workers_with_cluster(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["rebuild", str(CORPUS_ARTICLES), "--index", str(tmp_path), "--workers", "2",
         "--cluster", "tcp://127.0.0.1:1"],
    )  # fmt: skip
    assert result.exit_code == 2 and "not both" in result.output


# --- partition planning (pure) ---------------------------------------------------------


def _cover(plan: list[Any]) -> list[tuple[str, int, int, int]]:
    return [(p.path, p.start, p.stop, p.parts) for part in plan for p in part.pieces]


@pytest.mark.parametrize("target", [1, 2, 3, 4, 8, 40])
def test_plan_keeps_order_and_covers_every_line_once(target: int) -> None:
    mb = 1 << 20
    files = [("a.jsonl.gz", 7 * mb), ("b.html", 30_000), ("c.jsonl.gz", 28 * mb), ("d.txt", 10)]
    plan = plan_partitions(files, target)
    assert [p.number for p in plan] == list(range(len(plan)))
    pieces = _cover(plan)
    assert [p[0] for p in pieces] == sorted(p[0] for p in pieces)  # source order
    for path, _ in files:
        slices = [(s, e, n) for p, s, e, n in pieces if p == path]
        assert slices[0][0] == 0 and slices[-1][1] == slices[-1][2]
        assert all(a[1] == b[0] for a, b in itertools.pairwise(slices))
    if target >= 4:  # sliced finely enough to balance: no partition twice the mean
        weights = [p.weight for p in plan]
        assert max(weights) <= 2 * sum(weights) / len(weights)


@pytest.mark.parametrize("procs", [1, 2, 3, 5])
@pytest.mark.parametrize("sizes", [[], [10], [10, 10], [1, 1, 1, 500], [300] * 7, [5, 900, 5, 5]])
def test_split_runs_keeps_order_in_contiguous_runs(procs: int, sizes: list[int]) -> None:
    from indexer.shard import split_runs

    articles = [Article(id=str(i), title="t", body="x" * n) for i, n in enumerate(sizes)]
    runs = split_runs(articles, procs)
    assert [a for run in runs for a in run] == articles  # contiguous, in order, all of them
    assert 1 <= len(runs) <= max(1, min(procs, len(articles)))
    assert all(runs) or not articles
    if procs > 1 and sizes == [300] * 7:
        assert len(runs) == procs and max(map(len, runs)) - min(map(len, runs)) <= 2


def test_plan_never_slices_small_or_non_jsonl_files() -> None:
    plan = plan_partitions([("big.json", 100 << 20), ("small.jsonl", 1000)], 8)
    assert {p for part in plan for p in part.pieces} == {Piece("big.json"), Piece("small.jsonl")}
