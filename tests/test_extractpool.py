"""Page files extracted ahead in other processes give the job exactly what it extracts itself."""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from whoosh import index as whoosh_index

from indexer import changes, extractpool, jobs
from indexer.extractpool import ExtractAhead, Extracted, extract_file
from search.index import IndexLocation
from tests.extractfaults import crash_on_marker, die_on_marker
from tests.jobfixtures import children_die_with_killed_job, collection_lines

ROOT = Path(__file__).resolve().parents[1]


def _pages(shared_data: Path, dest: Path, n: int) -> list[Path]:
    """Copy `n` real pages of the shared extraction sets (HTML, gzipped) under `dest`."""
    found = sorted((shared_data / "extraction").glob("*/pages/*.html.gz"))[::7][:n]
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for p in found:
        q = dest / f"{p.parent.parent.name}-{p.name}"
        shutil.copyfile(p, q)
        out.append(q)
    return out


def _stored(index_dir: Path) -> dict[str, dict[str, Any]]:
    ix = whoosh_index.open_dir(str(IndexLocation(index_dir).current().path))
    with ix.searcher() as s:
        return {d["id"]: d for d in s.all_stored_fields()}


def _report(r: Any) -> tuple[Any, ...]:
    return (r.doc_count, r.added, r.duplicates, r.files, list(r.skipped))


def test_a_build_with_the_pool_equals_one_without(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    _pages(shared_data, src / "pages", 40)
    (src / "pages" / "empty.html").write_bytes(b"")  # skipped: empty file
    (src / "pages" / "binary.html").write_bytes(b"<html>\x00\x00</html>")  # skipped: binary
    (src / "pages" / "broken.html.gz").write_bytes(b"\x1f\x8b not gzip")  # cannot be opened
    (src / "records.jsonl").write_text("".join(collection_lines(shared_data, "news9", 30)))
    monkeypatch.setattr(extractpool, "MIN_FILES", 4)
    monkeypatch.setenv(extractpool.PROCESSES_ENV, "0")
    alone = jobs.rebuild([src], tmp_path / "alone")
    monkeypatch.setenv(extractpool.PROCESSES_ENV, "2")
    pooled = jobs.rebuild([src], tmp_path / "pooled")
    assert _report(pooled) == _report(alone)
    assert alone.doc_count > 50 and len(alone.skipped) >= 3
    assert _stored(tmp_path / "pooled") == _stored(tmp_path / "alone")
    # An update that changes some pages takes the same path (enough of them changed).
    for p in sorted((src / "pages").glob("*.html.gz"))[:6]:
        os.utime(p, (1, 1))
        p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes()) + b"\n<!-- edited -->"))
    monkeypatch.setattr(extractpool, "MIN_FILES", 2)
    assert jobs.update([src], tmp_path / "pooled").doc_count == alone.doc_count


def test_results_come_in_order_and_equal_extracting_in_process(
    tmp_path: Path, shared_data: Path
) -> None:
    paths = [str(p) for p in _pages(shared_data, tmp_path, 12)]
    with ExtractAhead(paths, 2) as ahead:
        got = [ahead.take(p) for p in paths]
    assert got == [extract_file(p) for p in paths]
    assert all(g is not None and g.sha1 and g.seconds > 0 for g in got)


def test_files_the_job_walks_past_are_dropped(tmp_path: Path, shared_data: Path) -> None:
    paths = [str(p) for p in _pages(shared_data, tmp_path, 10)]
    with ExtractAhead(paths, 2) as ahead:
        assert ahead.take(paths[6]) == extract_file(paths[6])
        assert ahead.take(paths[2]) is None  # behind the job now: the job extracts it
        assert ahead.take(paths[9]) == extract_file(paths[9])
        assert ahead.take("/not/planned.html") is None
        assert ahead._held == 0


def test_finished_results_stay_within_the_budget(tmp_path: Path, shared_data: Path) -> None:
    paths = [str(p) for p in _pages(shared_data, tmp_path, 16)]
    sizes = {p: extract_file(p).size for p in paths}
    budget = max(sizes.values())
    with ExtractAhead(paths, 1, budget=budget) as ahead:
        time.sleep(3)  # a slow job: the pool must stop, not run ahead
        assert ahead._submitted < len(paths)
        for p in paths:
            assert ahead.take(p) is not None
    # Submitted only while under budget; at most 2 per process were running then.
    assert ahead.peak_held < budget + 2 * budget


def test_an_extractor_bug_is_logged_and_the_file_skipped(
    tmp_path: Path, shared_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pages = _pages(shared_data, tmp_path, 3)
    crash = tmp_path / "crash.html.gz"
    shutil.copyfile(pages[0], crash)
    paths = [str(pages[1]), str(crash), str(pages[2])]
    with ExtractAhead(paths, 1, work=crash_on_marker) as ahead:
        got = [ahead.take(p) for p in paths]
    assert got[0] == extract_file(paths[0]) and got[2] == extract_file(paths[2])
    bad = got[1]
    assert isinstance(bad, Extracted) and bad.sha1
    assert [(s.path, s.reason) for s in bad.items] == [
        (str(crash), "extractor error: ZeroDivisionError: a bug in an extractor")
    ]
    assert "ZeroDivisionError" in bad.crashes[0]
    # The job reports it as it reports a bug met in its own process.
    tally = changes.Tally()
    applier = changes.Applier(
        changes.Catalog([]), _NullWriter(), tally, changes.Progress(), lambda: None, scan_ns=0
    )
    with caplog.at_level(logging.ERROR, logger="indexer.changes"):
        assert list(applier._extract(bad)) == []
    assert [s.reason for s in tally.skipped] == [bad.items[0].reason]  # type: ignore[union-attr]
    assert "extractor failed on" in caplog.text and "ZeroDivisionError" in caplog.text


class _NullWriter:
    def add_document(self, **fields: Any) -> None:
        pass


def test_a_dead_process_leaves_the_rest_to_the_job(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    pages = _pages(shared_data, src, 12)
    shutil.copyfile(pages[0], src / "zz-die.html.gz")  # last in source order
    monkeypatch.setattr(extractpool, "MIN_FILES", 4)
    monkeypatch.setenv(extractpool.PROCESSES_ENV, "0")
    alone = jobs.rebuild([src], tmp_path / "alone")
    monkeypatch.setenv(extractpool.PROCESSES_ENV, "2")
    monkeypatch.setattr(changes, "ExtractAhead", partial(ExtractAhead, work=die_on_marker))
    pooled = jobs.rebuild([src], tmp_path / "pooled")
    assert _report(pooled) == _report(alone)
    assert _stored(tmp_path / "pooled") == _stored(tmp_path / "alone")


def test_extraction_processes_die_with_a_killed_job(tmp_path: Path, shared_data: Path) -> None:
    pages = _pages(shared_data, tmp_path / "p", 20)
    script = (
        "import sys, time\n"
        "from indexer.extractpool import ExtractAhead\n"
        "a = ExtractAhead(sys.argv[1:], 2)\n"
        "while len(a._pool._processes) < 2: time.sleep(0.05)\n"
        "print(' '.join(str(p) for p in a._pool._processes), flush=True)\n"
        "time.sleep(60)\n"
    )
    children_die_with_killed_job(script, *map(str, pages), cwd=ROOT, expect=2)


def test_how_many_processes_extract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(extractpool.PROCESSES_ENV, raising=False)
    few = extractpool.MIN_FILES - 1
    assert extractpool.processes(few, with_records=False) == 0
    assert extractpool.processes(500, with_records=True) == 1
    assert extractpool.processes(500, with_records=False) == len(os.sched_getaffinity(0))
    monkeypatch.setenv(extractpool.PROCESSES_ENV, "3")
    assert extractpool.processes(500, with_records=True) == 3
    assert extractpool.processes(few, with_records=True) == 0
    monkeypatch.setenv(extractpool.PROCESSES_ENV, "0")
    assert extractpool.processes(500, with_records=False) == 0
    monkeypatch.setenv(extractpool.PROCESSES_ENV, "many")
    with pytest.raises(ValueError, match="whole number"):
        extractpool.processes(500, with_records=False)
