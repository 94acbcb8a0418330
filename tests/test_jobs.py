"""Indexer jobs in-process: incremental update == rebuild, no-op, status, rollback, refusals, lock."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer import jobs
from indexer.__main__ import EXIT_BUSY, cli
from indexer.locking import LOCK_FILE, JobBusy, JobLock
from indexer.schedule import Cron, ScheduleError, next_interval_run, parse_interval
from indexer.verify import VerificationError
from search.index import IndexLocation
from tests.jobfixtures import SEED, edited, news_lines, stored_docs, write_lines


@pytest.fixture(scope="module")
def lines(shared_data: Path) -> list[str]:
    return news_lines(shared_data, 260)


def make_sources(root: Path, lines: list[str]) -> Path:
    """A folder like a real archive: two JSONL files, a duplicate-holding one, the seed page."""
    src = root / "src"
    (src / "2017").mkdir(parents=True)
    (src / "2018").mkdir()
    write_lines(src / "2017" / "a.jsonl", lines[:120])
    write_lines(src / "2017" / "b.jsonl", lines[120:200])
    # c.jsonl repeats two records of a.jsonl (duplicates: a comes first and wins).
    write_lines(src / "2018" / "c.jsonl", [lines[5], lines[6], *lines[200:220]])
    (src / "seed.txt").write_bytes(SEED.read_bytes())
    (src / "notes.bin").write_bytes(b"\x00\x01")  # unsupported: reported, never indexed
    an_hour_ago = time.time() - 3600  # older than the window in which mtimes are not trusted
    for p in src.rglob("*"):
        os.utime(p, (an_hour_ago, an_hour_ago))
    return src


def files_digest(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(path.iterdir())}


def test_update_equals_rebuild_after_add_change_delete(tmp_path: Path, lines: list[str]) -> None:
    src = make_sources(tmp_path, lines)
    ix = tmp_path / "ix"
    first = jobs.rebuild([src], ix)
    assert first.outcome == "published" and first.doc_count == 221 and first.duplicates == 2
    served = IndexLocation(ix).current()
    before = files_digest(served.path)

    a = lines[:120]
    a[3] = edited(a[3], title="An entirely new headline about reindexing")  # changed article
    a[5] = lines[250]  # a new one; the copy of the old one in c.jsonl must take over
    write_lines(src / "2017" / "a.jsonl", [*a, *lines[220:240]])  # + 20 new
    (src / "2017" / "b.jsonl").unlink()  # 80 gone
    write_lines(src / "2018" / "d.jsonl", [lines[130], *lines[240:250]])  # one of b's is back
    report = jobs.update([src], ix)

    assert report.outcome == "published" and report.previous == served.name
    assert (report.added, report.updated, report.deleted) == (1 + 20 + 10, 3, 79)
    assert report.doc_count == 173 and report.unchanged == 173 - 31 - 3
    assert report.removed_files == {str(src / "2017" / "b.jsonl"): 79}  # one moved to d
    assert files_digest(served.path) == before  # the served generation was never written
    incremental = stored_docs(ix)

    fresh = jobs.rebuild([src], tmp_path / "fresh")
    assert fresh.doc_count == report.doc_count == len(incremental)
    assert stored_docs(tmp_path / "fresh") == incremental


def test_noop_update_writes_nothing_and_touch_is_not_a_change(
    tmp_path: Path, lines: list[str]
) -> None:
    src = make_sources(tmp_path, lines[:60])
    ix = tmp_path / "ix"
    built = jobs.rebuild([src], ix)
    gens = IndexLocation(ix).list_generations()
    report = jobs.update(None, ix)  # SOURCES default to the ones recorded
    assert report.outcome == "no-op" and report.generation == built.generation
    assert report.unchanged == built.doc_count and report.duration_s < 2
    os.utime(src / "2017" / "a.jsonl", (time.time() + 5, time.time() + 5))
    touched = jobs.update([src], ix)
    assert touched.outcome == "no-op" and touched.files_touched == 1
    assert IndexLocation(ix).list_generations() == gens
    last = json.loads((ix / "last-job.json").read_text())
    assert last["outcome"] == "no-op" and last["last_success"]["job"] == "update"


def test_update_refuses_schema_change_and_other_sources(tmp_path: Path, lines: list[str]) -> None:
    src = make_sources(tmp_path, lines[:30])
    ix = tmp_path / "ix"
    jobs.rebuild([src], ix)
    runner = CliRunner()
    other = tmp_path / "other"
    other.mkdir()
    r = runner.invoke(cli, ["update", str(other), "--index", str(ix)])
    assert r.exit_code == 1 and "built from" in r.output and "rebuild" in r.output

    gen = IndexLocation(ix).current()
    manifest = json.loads((gen.path / "manifest.json").read_text())
    manifest["schema_version"] = "0.old"
    (gen.path / "manifest.json").write_text(json.dumps(manifest))
    r = runner.invoke(cli, ["update", str(src), "--index", str(ix)])
    assert r.exit_code == 1
    assert "schema 0.old" in r.output and "python -m indexer rebuild" in r.output
    last = IndexLocation(ix).last_job()
    assert last and last["outcome"] == "refused" and "schema" in last["error"]
    assert last["last_success"]["job"] == "rebuild"
    r = runner.invoke(cli, ["rebuild", str(src), "--index", str(ix)])
    assert r.exit_code == 0, r.output
    assert IndexLocation(ix).current().manifest["schema_version"] != "0.old"


def test_update_with_no_index_builds_but_never_replaces_an_unreadable_one(
    tmp_path: Path, lines: list[str]
) -> None:
    src = make_sources(tmp_path, lines[:30])
    ix = tmp_path / "ix"
    report = jobs.update([src], ix)
    assert report.outcome == "published" and "first generation" in report.message
    loc = IndexLocation(ix)
    name = loc.current_name()
    (loc.root / "CURRENT").write_text("g-missing\n")  # as if the served one could not be read
    with pytest.raises(jobs.JobRefused, match="never replaces an index it cannot read"):
        jobs.update([src], ix)
    assert loc.current_name() == "g-missing" and name in loc.list_generations()


def test_rollback_status_and_pruning(tmp_path: Path, lines: list[str]) -> None:
    src = make_sources(tmp_path, lines[:40])
    ix = tmp_path / "ix"
    loc = IndexLocation(ix)
    g1 = jobs.rebuild([src], ix).generation
    write_lines(src / "new.jsonl", lines[100:110])
    g2 = jobs.update([src], ix).generation
    (loc.generations_dir / "g-leftover-of-a-killed-job").mkdir()
    write_lines(src / "new2.jsonl", lines[110:115])
    g3 = jobs.update([src], ix).generation
    assert loc.list_generations() == sorted([g2, g3])  # g1 and the leftover pruned
    assert (loc.current_name(), loc.previous_name()) == (g3, g2)

    runner = CliRunner()
    r = runner.invoke(cli, ["rollback", "--index", str(ix)])
    assert r.exit_code == 0 and (loc.current_name(), loc.previous_name()) == (g2, g3)
    r = runner.invoke(cli, ["status", "--index", str(ix)])
    assert f"generation:  {g2}" in r.output and "last job:    rollback rolled-back" in r.output
    assert "lock:        free" in r.output
    st = json.loads(runner.invoke(cli, ["status", "--index", str(ix), "--json"]).output)
    assert st["generation"] == g2 and st["previous"] == g3 and st["doc_count"] == 51
    assert st["last_job"]["outcome"] == "rolled-back" and st["lock"]["state"] == "free"
    # Update after a rollback starts from what is served again.
    assert jobs.update([src], ix).added == 5
    assert g1 not in loc.list_generations()


def test_failed_job_is_recorded_and_leaves_nothing(
    tmp_path: Path, lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_sources(tmp_path, lines[:30])
    ix = tmp_path / "ix"
    jobs.rebuild([src], ix)
    loc = IndexLocation(ix)
    gens, served = loc.list_generations(), loc.current_name()

    def broken(path: Path, expected: set[str]) -> None:
        raise VerificationError("simulated: 1 document unreadable")

    monkeypatch.setattr(jobs, "verify_generation", broken)
    write_lines(src / "new.jsonl", lines[100:105])
    r = CliRunner().invoke(cli, ["update", str(src), "--index", str(ix)])
    assert r.exit_code == 1 and "served index was left as it was" in r.output
    assert loc.list_generations() == gens and loc.current_name() == served
    last = loc.last_job()
    assert last and last["outcome"] == "failed" and "simulated" in last["error"]


def test_a_large_generation_is_checked_in_a_process_of_its_own(
    tmp_path: Path, lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "VERIFY_ASIDE_DOCS", 1)  # every generation counts as large
    calls: list[Path] = []
    monkeypatch.setattr(jobs, "verify_generation", lambda path, ids: calls.append(path))
    src = make_sources(tmp_path, lines[:30])
    ix = tmp_path / "ix"
    report = jobs.rebuild([src], ix)
    assert report.outcome == "published" and report.doc_count == 31
    assert calls == []  # checked in the other process, by the real check
    served = IndexLocation(ix).current()
    ids = set(stored_docs(ix))
    with jobs._verifying(served.path, ids) as verified:
        verified()
    wrong = ids - {min(ids)} | {"not-there"}  # as many ids, one of them not in the index
    with jobs._verifying(served.path, wrong) as verified, \
            pytest.raises(VerificationError, match="misses 1 ids"):
        verified()


def test_second_job_refuses_or_waits(tmp_path: Path, lines: list[str]) -> None:
    src = make_sources(tmp_path, lines[:30])
    ix = tmp_path / "ix"
    jobs.rebuild([src], ix)
    runner = CliRunner()
    with JobLock(ix, "rebuild"):
        r = runner.invoke(cli, ["update", str(src), "--index", str(ix), "--wait", "0"])
        assert r.exit_code == EXIT_BUSY
        assert f"another indexer job is running (rebuild, pid {os.getpid()}" in r.output
        assert "running" in runner.invoke(cli, ["status", "--index", str(ix)]).output
        with pytest.raises(JobBusy, match="waited"):
            jobs.update([src], ix, wait=0.3)

    lock = JobLock(ix, "rebuild")
    lock.acquire()
    threading.Timer(0.5, lock.release).start()
    started = time.monotonic()
    assert jobs.update([src], ix, wait=10).outcome == "no-op"
    assert time.monotonic() - started >= 0.4


def test_lock_left_by_a_killed_job_is_recovered(tmp_path: Path, lines: list[str]) -> None:
    src = make_sources(tmp_path, lines[:20])
    ix = tmp_path / "ix"
    jobs.rebuild([src], ix)
    record = {
        "pid": 2**22 + 12345,
        "host": os.uname().nodename,
        "job": "update",
        "started_at": "2024-01-01T00:00:00+00:00",
    }
    (ix / LOCK_FILE).write_text(json.dumps(record))  # flock itself died with the process
    out = CliRunner().invoke(cli, ["status", "--index", str(ix)]).output
    assert "interrupted (process gone; the next job cleans up)" in out
    assert jobs.update([src], ix).outcome == "no-op"
    assert (ix / LOCK_FILE).read_text() == ""


def test_schedule_parsing() -> None:
    assert parse_interval("15m") == 900 and parse_interval("1h30m") == 5400
    assert parse_interval("45") == 45
    for bad in ("", "0s", "15 minutes", "m"):
        with pytest.raises(ScheduleError):
            parse_interval(bad)
    import datetime as dt

    c = Cron.parse("*/15 * * * *")
    assert c.next_after(dt.datetime(2024, 1, 1, 10, 7, 30)) == dt.datetime(2024, 1, 1, 10, 15)
    weekdays = Cron.parse("30 2 * * 1-5")  # 2024-01-05 is a Friday
    assert weekdays.next_after(dt.datetime(2024, 1, 5, 3)) == dt.datetime(2024, 1, 8, 2, 30)
    # Both day fields restricted: either matches, as in cron.
    assert Cron.parse("0 0 1 * 0").next_after(dt.datetime(2024, 1, 1)) == dt.datetime(2024, 1, 7)
    for bad in ("* * * *", "60 * * * *", "*/0 * * * *", "a * * * *"):
        with pytest.raises(ScheduleError):
            Cron.parse(bad)
    assert next_interval_run(0, 10, 5) == 10 and next_interval_run(0, 10, 35) == 40


def test_schedule_runs_update_on_a_timer(tmp_path: Path, lines: list[str]) -> None:
    src = make_sources(tmp_path, lines[:20])
    ix = tmp_path / "ix"
    r = CliRunner().invoke(
        cli, ["schedule", str(src), "--index", str(ix), "--every", "1s", "--runs", "2"]
    )
    assert r.exit_code == 0, r.output
    last = IndexLocation(ix).last_job()
    assert last and last["job"] == "update" and last["outcome"] == "no-op"
    assert IndexLocation(ix).current().doc_count == 21


def test_gzip_archive_grown_by_appending_a_member(tmp_path: Path, lines: list[str]) -> None:
    import gzip

    src = tmp_path / "src"
    src.mkdir()
    archive = src / "feed.jsonl.gz"
    archive.write_bytes(gzip.compress("".join(x + "\n" for x in lines[:10]).encode()))
    ix = tmp_path / "ix"
    jobs.rebuild([src], ix)
    with open(archive, "ab") as f:  # what `gzip -c new.jsonl >> feed.jsonl.gz` does
        f.write(gzip.compress("".join(x + "\n" for x in lines[10:15]).encode()))
    report = jobs.update([src], ix)
    assert (report.added, report.updated, report.doc_count) == (5, 0, 15)
    # A truncated archive (still being written) is skipped, and its articles are kept.
    archive.write_bytes(archive.read_bytes()[:-20])
    report = jobs.update([src], ix)
    assert report.outcome == "no-op" and report.doc_count == 15 and report.deleted == 0
    assert "broken gzip" in report.skipped[0].reason


def _hits(ix: Path, words: list[str]) -> dict[str, tuple[int, list[tuple[float, str]]]]:
    """Each word's (total, [(score, id)] of its top 50) from the served generation."""
    from search.engine import search
    from search.index import open_whoosh
    from search.models import SearchRequest

    out = {}
    with open_whoosh(IndexLocation(ix).current()).searcher() as s:
        for w in words:
            res = search(s, SearchRequest(q=w, page_size=50))
            out[w] = (res.total, [(float(h.score or 0), h.id) for h in res.hits])
    return out


def _forms(ix: Path, term: str) -> set[str] | None:
    """The written forms of `term` (shared fields) in the served generation (None: some
    segment has no forms file, search/lexicon.py)."""
    from search import lexicon
    from search.index import open_whoosh
    from search.languages import GENERIC

    with open_whoosh(IndexLocation(ix).current()).reader() as reader:
        found = lexicon.forms(reader, {term}, GENERIC)
    return None if found is None else set(found)


def test_update_merge_makes_one_segment_and_finds_the_same(
    tmp_path: Path, lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from indexer.pipeline import WriterOptions

    src = make_sources(tmp_path, lines)
    ix = tmp_path / "ix"
    monkeypatch.setattr(jobs, "REBUILD_WRITER", WriterOptions(workers=2, min_bytes=0))
    jobs.rebuild([src], ix)
    served = IndexLocation(ix).current()
    assert jobs.segment_count(served.path) >= 2  # one per index worker at least
    before_files = files_digest(served.path)
    words = ["said", "oil", "government", "prices", "minister", '"prime minister"']
    before_docs, before_hits = stored_docs(ix), _hits(ix, words)
    assert sum(total for total, _ in before_hits.values()) > 100
    oil = _forms(ix, "oil")  # every worker's segment has its written forms
    assert oil is not None and {"oil", "Oil"} <= oil

    r = CliRunner().invoke(cli, ["update", "--merge", "--index", str(ix)])
    assert r.exit_code == 0, r.output
    merged = IndexLocation(ix).current()
    assert merged.name != served.name and jobs.segment_count(merged.path) == 1
    last = IndexLocation(ix).last_job()
    assert last and last["outcome"] == "published" and "merged" in last["message"]
    assert stored_docs(ix) == before_docs
    assert _hits(ix, words) == before_hits  # the same matches, scores and ranks
    assert files_digest(served.path) == before_files  # the old generation was never written
    assert _forms(ix, "oil") == oil  # the merged segment has the union of its segments'

    again = jobs.update(None, ix, merge=True)  # one segment and no change: nothing to do
    assert again.outcome == "no-op" and again.generation == merged.name
    os.utime(src / "2017" / "a.jsonl", (time.time() + 5, time.time() + 5))
    touched = jobs.update(None, ix, merge=True)  # read again, unchanged: still nothing
    assert touched.outcome == "no-op" and touched.generation == merged.name

    write_lines(src / "2018" / "e.jsonl", lines[220:240])  # a change and a merge at once
    report = jobs.update(None, ix, merge=True)
    assert report.outcome == "published" and report.added == 20
    assert jobs.segment_count(IndexLocation(ix).current().path) == 1
    assert len(stored_docs(ix)) == len(before_docs) + 20
    assert oil <= (_forms(ix, "oil") or set())
