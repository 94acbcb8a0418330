"""Index jobs: rebuild, update and roll back generations while search keeps serving.

- A job never touches the served generation. `rebuild` writes a fresh index in a
  new generation directory. `update` is copy-on-write: it hard-links the served
  generation's files into a new directory (Whoosh never modifies a file once
  written: a commit adds segment files and a new TOC, deletions live in the
  TOC), applies only what changed there, and publishes that; the generation it
  started from stays intact and becomes the rollback target.
- Before publishing, the new generation is reopened and checked (`verify.py`);
  publishing fsyncs it and replaces CURRENT atomically (`search.index`).
- One job at a time (`locking.py`). A job starts by removing every generation
  other than CURRENT and PREVIOUS: leftovers of killed jobs. That is safe only
  because generations are created by lock holders alone.
- Every job records itself in INDEX_DIR/last-job.json: "running" at start,
  then its report with the outcome, also when it fails.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from indexer import verify
from indexer.catalog import CATALOG, Catalog
from indexer.changes import Applier, Progress, Scan, Tally, full_scan, scan
from indexer.locking import JobLock
from indexer.pipeline import WriterOptions, _start_child, input_size, open_writer
from indexer.report import JobReport, now_iso, record_last_job
from indexer.segwriter import TermPoolWriter
from indexer.sources import fingerprint, iter_paths
from indexer.verify import verify_generation
from search import storymap
from search.errors import IndexUnavailable
from search.fingerprint import fingerprint as story_fingerprint
from search.index import MANIFEST, IndexLocation
from search.schema import SCHEMA_VERSION, from_stored
from search.stories import DEFAULT_PARAMS, STORIES_FILE, StoryFileError, StoryIndex, StoryParams

__all__ = [
    "JobRefused",
    "JobReport",
    "Progress",
    "build",
    "is_stale",
    "rebuild",
    "rollback",
    "update",
]

log = logging.getLogger(__name__)

WRITER_LIMIT_MB = 256
# A rebuild indexes in worker processes (see indexer/pipeline.py); an update, usually
# a few files, in-process. DATELINE_INDEX_WORKERS overrides the number (0: in-process).
# Segment size trades build memory against query cost (each segment is one more lookup
# per term for every search). With Whoosh's own pool, 128 MB gave 22 segments at the
# full benchmark corpus (57k articles) and workers of ~490 MB; the compact pool of
# indexer/segwriter.py holds ~3.5x more postings in that budget: 6 segments, workers of
# ~560 MB, query p50 8.6 -> 6.5 ms (bench/HISTORY.md, "Indexing results").
REBUILD_WRITER = WriterOptions(workers=2, segment_mb=128, limitmb=WRITER_LIMIT_MB)
OPTIMIZE_DELETED_RATIO = 0.25  # merge segments once a quarter of the documents are deleted
TEST_SLOW_ENV = "DATELINE_TEST_SLOW"  # seconds to sleep per document and step (tests only)
STORY_PARAMS: StoryParams = DEFAULT_PARAMS


class JobRefused(Exception):
    """The job cannot run as asked; the message says what to do instead."""


def _absolute(sources: Sequence[str | Path]) -> list[str]:
    # Absolute, not resolved: the stored `path` and the catalog keys must not
    # depend on the working directory, but a symlinked archive keeps its name.
    return [os.path.abspath(s) for s in sources]


def _pauser(weight: float = 1.0) -> Callable[[], None]:
    """Return the test hook that slows a job down so a test can kill it mid-way."""
    delay = float(os.environ.get(TEST_SLOW_ENV) or 0) * weight
    return (lambda: time.sleep(delay)) if delay > 0 else (lambda: None)


# --- the job frame: lock, leftovers, last-job.json --------------------------------------


@dataclass(frozen=True)
class _Job:
    location: IndexLocation
    name: str
    started_at: str
    started: float
    progress: Progress
    pause: Callable[[], None]  # after each document written
    step: Callable[[], None]  # between steps: copy, commit, verify, manifest, publish

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def _run(
    index_dir: str | Path,
    job: str,
    wait: float,
    progress: Progress | None,
    body: Callable[[_Job], JobReport],
) -> JobReport:
    location = IndexLocation(index_dir)
    with JobLock(location.root, job, wait=wait) as lock:
        ctx = _Job(
            location,
            job,
            now_iso(),
            time.perf_counter(),
            progress or Progress(),
            _pauser(),
            _pauser(weight=25),
        )
        if lock.interrupted:
            log.warning(
                "the previous job (%s) was interrupted; cleaning up after it",
                lock.interrupted.describe(),
            )
        record_last_job(
            location, JobReport(job, "running", location.current_name(), started_at=ctx.started_at)
        )
        try:
            for name in prune(location):
                log.info("removed generation %s (old, or left by an interrupted job)", name)
            report = body(ctx)
        except BaseException as e:  # record every way a job can end, then re-raise
            outcome = (
                "refused"
                if isinstance(e, JobRefused)
                else "interrupted"
                if isinstance(e, KeyboardInterrupt | SystemExit)
                else "failed"
            )
            record_last_job(
                location,
                JobReport(
                    job,
                    outcome,
                    location.current_name(),
                    started_at=ctx.started_at,
                    duration_s=ctx.elapsed(),
                    error=f"{type(e).__name__}: {e}",
                ),
            )
            raise
        report = replace(report, duration_s=ctx.elapsed())
        record_last_job(location, report)
        return report


def prune(location: IndexLocation) -> list[str]:
    """Remove every generation but the served one and the previous one; call under the lock.

    When CURRENT is missing or names a generation that is not there (nothing
    published yet, or a damaged index), only generations without a manifest,
    which were never finished, are removed: nothing that might be wanted back.
    """
    current = location.current_name()
    keep = {n for n in (current, location.previous_name()) if n}
    trusted = current is not None and (location.generations_dir / current / MANIFEST).exists()
    removed = []
    for name in location.list_generations():
        path = location.generations_dir / name
        if name in keep or (not trusted and (path / MANIFEST).exists()):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(name)
    return removed


# --- rebuild ---------------------------------------------------------------------------


def rebuild(
    sources: Sequence[str | Path],
    index_dir: str | Path,
    *,
    wait: float = 0.0,
    progress: Progress | None = None,
    job: str = "rebuild",
) -> JobReport:
    """Build a complete new generation from `sources`, check it and publish it."""
    srcs = _absolute(sources)
    return _run(index_dir, job, wait, progress, lambda ctx: _rebuild(ctx, srcs))


def build(
    sources: Sequence[str | Path], index_dir: str | Path, *, progress: Progress | None = None
) -> JobReport:
    """Same as `rebuild` (the original name, kept for scripts and the Makefile)."""
    return rebuild(sources, index_dir, progress=progress, job="build")


def _rebuild(ctx: _Job, sources: list[str], message: str = "") -> JobReport:
    scan_ns = time.time_ns()
    name, path, ix = ctx.location.new_generation()
    tally = Tally()
    plan = full_scan(sources)
    try:
        options = replace(WriterOptions.from_env(REBUILD_WRITER), fingerprints=STORY_PARAMS.scheme)
        writer = open_writer(ix, options, input_size(plan.order))
        applier = Applier(
            Catalog(sources), writer, tally, ctx.progress, ctx.pause, scan_ns=scan_ns,
            stories=StoryIndex(STORY_PARAMS), extract_ahead=True,
        )
        try:
            catalog = applier.run(plan, sources)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        with _verifying(path, set(applier.claimed)) as verified:
            applier.add_fingerprints(getattr(writer, "fingerprints", {}))
            return _finish(ctx, name, path, catalog, applier, tally, plan, message,
                           verified=verified)
    except BaseException:
        _discard(ctx.location, name)
        raise


# Below this many documents a generation is checked in the job (well under a second);
# above, in a process of its own beside the job's last steps (`_verifying`).
VERIFY_ASIDE_DOCS = 10_000


@contextmanager
def _verifying(path: Path, expected_ids: set[str]) -> Iterator[Callable[[], None]]:
    """Start checking the committed generation at `path`; yield a call that waits for
    the check (raising `VerificationError` as `verify_generation` does).

    A large generation is checked in a spawned process while the job adds its story
    index, rather than after: at 56k articles reading every stored document back takes
    ~3 s, which was one core's work alone at the end of the build. A process that
    cannot start or dies costs the check made here instead, never the check.
    """
    if len(expected_ids) < VERIFY_ASIDE_DOCS:
        yield lambda: verify_generation(path, expected_ids)
        return
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_child, initargs=(os.getpid(),))
    future = pool.submit(verify.verify_generation, path, expected_ids)  # not a stand-in

    def wait() -> None:
        try:
            future.result()
        except BrokenProcessPool:
            log.warning("the process checking generation %s died; checking it here", path.name)
            verify_generation(path, expected_ids)

    try:
        yield wait
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # the job failed: not worth waiting
        raise
    pool.shutdown(wait=True)


def _discard(location: IndexLocation, name: str) -> None:
    if location.current_name() != name:  # never the served one, whatever failed
        shutil.rmtree(location.generations_dir / name, ignore_errors=True)


def _finish(
    ctx: _Job,
    name: str,
    path: Path,
    catalog: Catalog,
    applier: Applier,
    tally: Tally,
    plan: Scan,
    message: str,
    base: str | None = None,
    verified: Callable[[], None] | None = None,
) -> JobReport:
    """Verify (or wait for `verified`, a check started earlier), describe and publish a
    written generation, then prune."""
    ctx.step()
    if verified is None:
        verify_generation(path, set(applier.claimed))
    else:
        verified()
    stories = _save_stories(path, applier)
    ctx.step()
    previous = ctx.location.current_name()
    report = JobReport(
        job=ctx.name,
        outcome="published",
        generation=name,
        doc_count=len(applier.claimed),
        previous=previous,
        added=tally.added,
        updated=tally.updated,
        deleted=tally.deleted,
        unchanged=applier.unchanged(),
        duplicates=tally.duplicates,
        files=tally.files,
        files_changed=len(plan.changed),
        files_touched=plan.touched,
        removed_files=dict(tally.removed_files),
        skipped=tuple(tally.skipped),
        started_at=ctx.started_at,
        duration_s=ctx.elapsed(),
        message=message,
    )
    catalog.save(path)
    ctx.location.write_manifest(
        path,
        {
            "generation": name,
            "built_at": now_iso(),
            "doc_count": report.doc_count,
            "sources": catalog.sources,
            "fingerprint": fingerprint(iter_paths(catalog.sources)),
            "base": base,
            "report": report.to_dict(),
            "stories": stories,
        },
    )
    ctx.step()
    ctx.location.publish(name)
    ctx.step()
    prune(ctx.location)
    return report


def _save_stories(path: Path, applier: Applier) -> dict[str, object] | None:
    """Save the story index and the story map beside a committed generation."""
    stories = applier.stories
    if stories is None:
        return None
    if len(stories) != len(applier.claimed) or set(stories.assignments()) != set(applier.claimed):
        raise RuntimeError("the story index is out of step with the documents; run rebuild")
    stories.save(path)  # a new file replaces the name: the base generation's stays intact
    multi = storymap.write(path, stories)
    return {
        "params": stories.params.to_json(),
        "articles": len(stories),
        "stories": stories.story_count(),
        "multi_version_stories": multi,
    }


def _load_stories(base_path: Path) -> StoryIndex:
    """Load the base generation's story index; rebuild it from its stored bodies if unusable."""
    try:
        return StoryIndex.load(base_path, STORY_PARAMS)
    except StoryFileError as e:
        log.warning("%s; rebuilding the story index from generation %s", e, base_path.name)
    ix = whoosh_index.open_dir(str(base_path))
    with ix.searcher() as s:
        items = [
            (a.id, a.published, story_fingerprint(a.body, STORY_PARAMS.scheme))
            for a in (from_stored(fields) for fields in s.all_stored_fields())
        ]
    return StoryIndex.build(items, STORY_PARAMS)


# --- update ----------------------------------------------------------------------------


def update(
    sources: Sequence[str | Path] | None,
    index_dir: str | Path,
    *,
    wait: float = 0.0,
    progress: Progress | None = None,
    merge: bool = False,
) -> JobReport:
    """Bring the served generation in step with `sources` (default: the ones it was built from).

    With no index at all yet, this builds a complete first generation; an index
    that exists but cannot be read is never replaced: the job is refused.

    With `merge`, the new generation is also merged into one segment, even when no
    file changed (then it is a no-op only for an index already in one segment). A
    build leaves several segments (each index worker writes its own); every query
    looks each of its words up in each, so one segment answers faster (at 57k articles,
    6 -> 1 segment: p95 7.8 -> 7.2 ms, p99 11.8 -> 10.1 ms in the benchmark), but
    merging rewrites every posting and holds them all in memory (~2.4 min and a 1.19 GB
    peak there), so it is asked for, off-peak, not done by every update.
    """
    srcs = _absolute(sources) if sources else None
    return _run(index_dir, "update", wait, progress,
                lambda ctx: _update(ctx, srcs, merge=merge))


def _load_served(location: IndexLocation) -> tuple[str, Path, Catalog, int]:
    try:
        gen = location.current()
    except IndexUnavailable as e:
        raise JobRefused(
            f"{e.message} `update` never replaces an index it cannot read; "
            "repair it, `rollback`, or run `rebuild`."
        ) from e
    if gen.manifest.get("schema_version") != SCHEMA_VERSION:
        raise JobRefused(
            f"the index was built with schema {gen.manifest.get('schema_version')} and this "
            f"version uses {SCHEMA_VERSION} (fields or text analysis changed), so old and new "
            "documents would not match the same queries. Run `python -m indexer rebuild`."
        )
    try:
        catalog = Catalog.load(gen.path)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise JobRefused(
            f"generation {gen.name} has no readable source catalog ({CATALOG}: "
            f"{e}); run `python -m indexer rebuild` once."
        ) from e
    return gen.name, gen.path, catalog, gen.doc_count


def _check_sources(sources: list[str], catalog: Catalog) -> None:
    if sorted(sources) != sorted(catalog.sources):
        raise JobRefused(
            "the index was built from " + ", ".join(catalog.sources) + "; `update` keeps it in "
            "step with those same sources (omit SOURCES to use them). To index a different "
            "set, run `python -m indexer rebuild` with it."
        )
    missing = [s for s in sources if not os.path.exists(s)]
    if missing:
        raise JobRefused(
            f"source {missing[0]} is missing (unmounted?); refusing to delete its articles. "
            "Restore it, or run `rebuild` without it."
        )


def _update(ctx: _Job, sources: list[str] | None, *, merge: bool = False) -> JobReport:
    location = ctx.location
    if location.current_name() is None:
        if not sources:
            raise JobRefused(f"no index in {location.root} yet and no SOURCES given.")
        return _rebuild(ctx, sources, "no index yet: built a complete first generation")
    base, base_path, old, doc_count = _load_served(location)
    sources = sources or old.sources
    _check_sources(sources, old)
    scan_ns = time.time_ns()
    plan = scan(old, sources, scan_ns=scan_ns)
    # Merging an index that is one segment already only helps when this update adds one.
    remerge = merge and segment_count(base_path) > 1
    if plan.is_noop and not remerge:
        return _noop(ctx, base, doc_count, old, plan, "nothing changed")
    name, path = location.new_generation_dir()
    tally = Tally()
    try:
        _link_index_files(base_path, path)
        ctx.step()
        ix = whoosh_index.open_dir(str(path))
        stories = _load_stories(base_path)
        writer = TermPoolWriter(ix, limitmb=WRITER_LIMIT_MB)
        applier = Applier(
            old, writer, tally, ctx.progress, ctx.pause, scan_ns=scan_ns, stories=stories,
            extract_ahead=True,
        )
        try:
            catalog = applier.run(plan, sources)
        except BaseException:
            writer.cancel()
            raise
        changed = tally.added or tally.updated or tally.deleted or catalog.files != old.files
        if not changed and not remerge:
            # E.g. a gzip archive still being written: skipped, its old articles kept.
            writer.cancel()
            _discard(location, name)
            return replace(
                _noop(ctx, base, doc_count, old, plan, "no article changed"),
                skipped=tuple(tally.skipped),
            )
        writer.commit(optimize=merge or _mostly_deleted(writer))
        message = "merged into one segment" if merge else ""
        return _finish(ctx, name, path, catalog, applier, tally, plan, message, base=base)
    except BaseException:
        _discard(location, name)
        raise


def _noop(ctx: _Job, base: str, doc_count: int, old: Catalog, plan: Scan, why: str) -> JobReport:
    return JobReport(
        job="update",
        outcome="no-op",
        generation=base,
        doc_count=doc_count,
        unchanged=len(old.owners()),
        files=len(plan.order),
        files_changed=len(plan.changed),
        files_touched=plan.touched,
        started_at=ctx.started_at,
        message=why,
    )


def segment_count(path: Path) -> int:
    """Return how many segments the Whoosh index in `path` has."""
    with whoosh_index.open_dir(str(path)).reader() as reader:
        return sum(1 for _ in reader.leaf_readers())


def _mostly_deleted(writer: SegmentWriter) -> bool:
    """True when deleted documents make up enough of the old segments to merge them away.

    Merging rewrites every posting (minutes at 56k articles), so it is worth it
    only once deletions would otherwise slow every query down noticeably.
    """
    stored = sum(seg.doc_count_all() for seg in writer.segments)
    return writer.deleted_count() > OPTIMIZE_DELETED_RATIO * max(stored, 1)


def _link_index_files(src: Path, dst: Path) -> None:
    """Give `dst` the Whoosh files of `src`: hard links (copies where links fail)."""
    for p in src.iterdir():
        if (
            not p.is_file()
            or p.name in (MANIFEST, CATALOG, STORIES_FILE, storymap.STORY_MAP)
            or p.name.endswith(("WRITELOCK", ".tmp"))
        ):
            continue
        try:
            os.link(p, dst / p.name)
        except OSError:
            shutil.copy2(p, dst / p.name)


# --- rollback and staleness ------------------------------------------------------------


def rollback(index_dir: str | Path, *, wait: float = 0.0) -> JobReport:
    """Serve the previous generation again (the current one becomes the previous)."""

    def body(ctx: _Job) -> JobReport:
        try:
            old, new = ctx.location.swap_to_previous()
        except IndexUnavailable as e:
            raise JobRefused(e.message) from e
        gen = ctx.location.generation(new)
        return JobReport(
            job="rollback",
            outcome="rolled-back",
            generation=new,
            doc_count=gen.doc_count,
            previous=old,
            started_at=ctx.started_at,
            message=f"serving {new} again instead of {old}",
        )

    return _run(index_dir, "rollback", wait, None, body)


def is_stale(location: IndexLocation, sources: Sequence[str | Path]) -> bool:
    """True when the served generation was not built from these exact files and schema."""
    name = location.current_name()
    if name is None:
        return True
    try:
        manifest = location.generation(name).manifest
    except IndexUnavailable:  # an unreadable manifest means "rebuild"
        return True
    return manifest.get("schema_version") != SCHEMA_VERSION or manifest.get(
        "fingerprint"
    ) != fingerprint(iter_paths(_absolute(sources)))
