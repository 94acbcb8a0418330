"""Whole files extracted ahead of a job in worker processes (indexer/prefetch.py)."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from whoosh import index as whoosh_index

from indexer import jobs, prefetch
from indexer.pipeline import WriterOptions
from search.index import IndexLocation
from tests.jobfixtures import collection_lines, process_alive

ROOT = Path(__file__).resolve().parents[1]


def _folder(tmp_path: Path, shared_data: Path) -> tuple[Path, list[Path]]:
    """A folder of real pages (one twice), a broken gzip page, and a JSON Lines file
    between them in walk order."""
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "c").mkdir()
    pages = sorted((shared_data / "extraction" / "aeb" / "pages").glob("*.html.gz"))[:14]
    for i, page in enumerate(pages):
        shutil.copy(page, src / ("a" if i < 7 else "c") / page.name)
    shutil.copy(pages[0], src / "c" / "again-0.html.gz")  # a duplicate id, later in order
    (src / "a" / "broken.html.gz").write_bytes(gzip.compress(b"<html>" * 50)[:40])
    (src / "b.jsonl").write_text("".join(collection_lines(shared_data, "news9", 20)))
    return src, pages


def _stored(index_dir: Path) -> dict[str, dict[str, Any]]:
    gen = IndexLocation(index_dir).current()
    with whoosh_index.open_dir(str(gen.path)).reader() as r:
        return {f["id"]: f for _n, f in r.iter_docs()}


def test_prefetched_files_index_as_inline(tmp_path: Path, shared_data: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    src, _pages = _folder(tmp_path, shared_data)
    monkeypatch.setattr(jobs, "REBUILD_WRITER", WriterOptions(workers=0))
    inline = jobs.rebuild([src], tmp_path / "inline")

    served: list[str] = []
    real_take = prefetch.Prefetcher.take

    def take(self: prefetch.Prefetcher, path: Path) -> prefetch.Extracted | None:
        done = real_take(self, path)
        if done is not None:
            served.append(path.name)
        return done

    monkeypatch.setattr(prefetch.Prefetcher, "take", take)
    monkeypatch.setattr(jobs, "REBUILD_WRITER", WriterOptions(workers=2, min_bytes=0))
    ahead = jobs.rebuild([src], tmp_path / "ahead")

    assert len(served) == 16  # every page and the broken one; not the JSON Lines file
    assert (ahead.indexed, ahead.duplicates, ahead.doc_count) == \
        (inline.indexed, inline.duplicates, inline.doc_count)
    assert ahead.duplicates >= 1 and inline.indexed >= 30
    assert sorted(ahead.skipped) == sorted(inline.skipped)
    assert any("broken.html.gz" in s.path for s in ahead.skipped)
    assert _stored(tmp_path / "ahead") == _stored(tmp_path / "inline")


def test_a_dead_extraction_process_loses_nothing(shared_data: Path) -> None:
    pages = sorted((shared_data / "extraction" / "aeb" / "pages").glob("*.html.gz"))[:12]
    with prefetch.Prefetcher(pages, 2, ahead=4) as ahead:
        first = ahead.take(pages[0])
        assert first is not None and first == prefetch.extract_file(pages[0])
        assert ahead._pool is not None
        for pid in list(ahead._pool._processes):  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
        got = [ahead.take(p) for p in pages[1:]]  # must not hang
    assert got[-1] is None  # the pool broke: the caller reads the rest itself
    for page, done in zip(pages[1:], got, strict=True):
        assert done is None or done == prefetch.extract_file(page)


def test_extraction_processes_die_with_a_killed_job(tmp_path: Path, shared_data: Path) -> None:
    pages = sorted((shared_data / "extraction" / "aeb" / "pages").glob("*.html.gz"))[:8]
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from indexer.prefetch import Prefetcher\n"
        "p = Prefetcher([Path(a) for a in sys.argv[1:]], 2)\n"
        "p.take(Path(sys.argv[1]))\n"
        "print(' '.join(str(pid) for pid in p._pool._processes), flush=True)\n"
        "time.sleep(60)\n"
    )
    job = subprocess.Popen([sys.executable, "-c", script, *map(str, pages)], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert job.stdout is not None
    with job.stdout:
        pids = [int(p) for p in job.stdout.readline().split()]
    assert len(pids) == 2
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(process_alive(p) for p in pids):
        time.sleep(0.05)
    assert not any(process_alive(p) for p in pids)

