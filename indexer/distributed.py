"""Rebuild on a Dask cluster: partitions extracted and indexed in parallel, one generation.

The heavy part of a rebuild (extraction, analysis, postings) runs as Dask
tasks, one per partition (`partition.py`), each writing a Whoosh shard with
the same schema and analyzers into the new generation's `shards/` staging
folder (`shard.py`). Between extracting and writing, the client replays the
single-process rules over what the partitions report (`replay.py`), so a
copy of an id that loses to an earlier file is never written; then it turns
the shards into one generation:

- adopt (default): the shards' segments become the generation's segments, as
  Whoosh's own multi-process writer does with `multisegment=True`; Whoosh's
  multi-reader searches them with index-wide statistics, so scores, order,
  facets and highlights equal a single-process build's. Nearly free.
- merge (`merge=True`): `writer.add_reader` copies every shard into one
  segment, a serial pass over all postings on the client; the same documents
  and facets, but scores move by ~0.1%: a merge re-adds field lengths from
  their one-byte encodings, so the average lengths BM25 uses shift.

Publishing is the single-process job's own frame (`jobs._run`, `jobs._finish`):
lock, last-job.json, verify, catalog, stories, manifest, atomic pointer flip.
A partition whose task raises is retried `retries` times; one whose worker
dies is rescheduled by Dask; if a partition still fails, the job fails, the
half-built generation is removed and the served one is untouched.

Dask is an optional extra (`make cluster-deps`) and is imported only here,
lazily. With `address`, workers must run this same Dateline version and see
the sources and the index directory at the same paths (a shared mount).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC
from whoosh.writing import SegmentWriter

from indexer import jobs
from indexer.catalog import Catalog
from indexer.changes import Applier, Progress, full_scan
from indexer.partition import SPLIT_MIN_WEIGHT, Partition, plan_partitions
from indexer.replay import Replayed, replay
from indexer.report import JobReport
from indexer.shard import ShardResult, extract_partition, pieces_of, write_shard
from search.stories import StoryIndex

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)

SHARDS_DIR = "shards"
PARTITIONS_PER_THREAD = 2  # a little slack, so a fast worker takes over a slow one's share
CLUSTER_DEPS_HINT = (
    "distributed ingest (--workers/--cluster) needs the optional Dask extra: run "
    "`make cluster-deps` (pip install --require-hashes -r requirements-cluster.txt)"
)


@dataclass(frozen=True)
class ClusterOptions:
    """Where a distributed rebuild runs and how it turns shards into a generation."""

    workers: int | None = None  # start a local cluster of this many worker processes
    address: str | None = None  # or use the running scheduler here (tcp://host:8786)
    partitions: int | None = None  # default: PARTITIONS_PER_THREAD per worker thread
    retries: int = 2  # extra attempts for a partition whose task raises
    merge: bool = False  # merge the shards into one segment instead of adopting them
    split_min_bytes: int = SPLIT_MIN_WEIGHT  # JSON Lines files this heavy may be sliced


def require_dask() -> None:
    """Raise JobRefused naming `make cluster-deps` when dask.distributed is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError as e:
        raise jobs.JobRefused(f"{CLUSTER_DEPS_HINT} ({e})") from e


@contextmanager
def connect(options: ClusterOptions) -> Iterator[Client]:
    """Start a local cluster of `options.workers` processes, or connect to `options.address`."""
    require_dask()
    from distributed import Client, LocalCluster

    if options.address:
        with Client(options.address) as client:
            yield client
        return
    if not options.workers or options.workers < 1:
        raise ValueError("give workers >= 1 or an address")
    with (
        LocalCluster(
            n_workers=options.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # a free port: never clash with another cluster
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def rebuild_distributed(
    sources: Sequence[str | Path],
    index_dir: str | Path,
    options: ClusterOptions,
    *,
    client: Client | None = None,
    wait: float = 0.0,
    progress: Progress | None = None,
    job: str = "rebuild",
) -> JobReport:
    """Build a complete new generation of `sources` on a Dask cluster; publish it."""
    require_dask()  # before the lock: a missing extra must not touch last-job.json
    srcs = jobs._absolute(sources)

    def body(ctx: jobs._Job) -> JobReport:
        if client is not None:
            return _rebuild(ctx, srcs, client, options)
        with connect(options) as own:
            return _rebuild(ctx, srcs, own, options)

    return jobs._run(index_dir, job, wait, progress, body)


def _rebuild(
    ctx: jobs._Job, sources: list[str], client: Client, options: ClusterOptions
) -> JobReport:
    scan_ns = time.time_ns()
    name, path, ix = ctx.location.new_generation()
    writer: SegmentWriter | None = None
    try:
        plan = full_scan(sources)
        threads = sum(client.nthreads().values()) or 1
        target = options.partitions or PARTITIONS_PER_THREAD * threads
        files = [(str(p), _size(p)) for p in plan.order]
        partitions = plan_partitions(files, target, split_min=options.split_min_bytes)
        shard_root = path / SHARDS_DIR
        shard_root.mkdir()
        t0 = time.perf_counter()
        done, shards, phases = _run_partitions(
            client, partitions, shard_root, options.retries, plan.order, scan_ns, ctx.progress
        )
        t1 = time.perf_counter()
        writer = cast(SegmentWriter, ix.writer(limitmb=jobs.WRITER_LIMIT_MB))
        if options.merge:
            _merge(writer, shards)
        else:
            _check_columns(shards)
            _adopt(writer, shards, path)
        writer = None  # committed
        shutil.rmtree(shard_root)
        t2 = time.perf_counter()
        applier = _bookkeeping(ctx, sources, done, scan_ns)
        message = _summary(shards, threads, t1 - t0, phases, t2 - t1, options.merge)
        log.info("%s", message)
        catalog = Catalog(sources=sources, files=done.files)
        return jobs._finish(ctx, name, path, catalog, applier, done.tally, plan, message)
    except BaseException:
        if writer is not None:
            with suppress(Exception):  # a failed commit already released the writer
                writer.cancel()
        jobs._discard(ctx.location, name)
        raise


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # the task reports why it cannot be read


def _run_partitions(
    client: Client,
    partitions: list[Partition],
    shard_root: Path,
    retries: int,
    order: list[Path],
    scan_ns: int,
    progress: Progress,
) -> tuple[Replayed, list[ShardResult], str]:
    """Extract every partition, replay their reports, write the shards; or raise.

    The extracted articles stay in the workers' memory between the phases and
    each shard is written where its extraction is held. A worker lost in
    between takes its extractions with it: Dask recomputes them elsewhere.
    """
    common: dict[str, Any] = {"retries": retries, "pure": False}  # a retry must run again
    futures: list[Any] = []
    t_started = time.perf_counter()
    try:
        extracted = client.map(
            extract_partition, partitions, scheme=jobs.STORY_PARAMS.scheme, **common
        )
        futures += extracted
        reports_f = client.map(pieces_of, extracted, **common)
        futures += reports_f
        reports = client.gather(reports_f)
        t_extracted = time.perf_counter()
        done = replay(
            order,
            [(p.number, r) for p, r in zip(partitions, reports, strict=True)],
            scan_ns=scan_ns,
            progress=progress,
        )
        drops = [frozenset(done.drop.get(p.number, ())) for p in partitions]
        t_replayed = time.perf_counter()
        shards_f = client.map(
            write_shard,
            extracted,
            drops,
            shard_root=str(shard_root),
            writer_limit_mb=jobs.WRITER_LIMIT_MB,
            **common,
        )
        futures += shards_f
        shards: list[ShardResult] = client.gather(shards_f)
        t_written = time.perf_counter()
    except (RuntimeError, OSError, KeyboardInterrupt):
        raise
    except Exception as e:  # KilledWorker, a task's own error: the CLI reports RuntimeError
        raise RuntimeError(f"a partition failed on the cluster: {type(e).__name__}: {e}") from e
    finally:
        client.cancel(futures)  # frees the workers' memory; stops writers of a failed job
    phases = (
        f"extract {t_extracted - t_started:.1f} s, replay {t_replayed - t_extracted:.1f} s, "
        f"write {t_written - t_replayed:.1f} s"
    )
    return done, shards, phases


def _adopt(writer: SegmentWriter, shards: list[ShardResult], path: Path) -> None:
    """Move every shard's segments into the generation and commit them, in partition order."""
    adopted = []
    for shard in sorted(shards, key=lambda s: s.partition):
        shard_storage = FileStorage(shard.directory)
        for segment in TOC.read(shard_storage, "MAIN").segments:
            if not segment.doc_count():
                continue
            for filename in segment.list_files(shard_storage):
                os.replace(Path(shard.directory) / filename, path / filename)
            adopted.append(segment)

    def keep_shards(w: SegmentWriter, segments: list[Any]) -> list[Any]:
        return list(segments) + adopted  # a mergetype: Whoosh writes these into the new TOC

    writer.commit(mergetype=keep_shards)


def _check_columns(shards: list[ShardResult]) -> None:
    """Refuse to adopt shard segments that do not all have the same columns.

    Whoosh's multi-reader reads a column only from the segments that have it,
    misplacing the values of later documents; shards are written with every
    column (`shard._open_every_column`), and this keeps that promise checked.
    """
    found: set[frozenset[str]] = set()
    for shard in shards:
        six = whoosh_index.open_dir(shard.directory)
        names = [n for n, f in six.schema.items() if f.column_type]
        with six.reader() as reader:
            for leaf, _ in reader.leaf_readers() if reader.doc_count_all() else ():
                found.add(frozenset(n for n in names if leaf.has_column(n)))
        six.close()
    if len(found) > 1:
        raise RuntimeError("shards differ in their columns; rebuild with --merge-shards")


def _merge(writer: SegmentWriter, shards: list[ShardResult]) -> None:
    """Copy every shard into the writer's one new segment, in partition order."""
    for shard in sorted(shards, key=lambda s: s.partition):
        six = whoosh_index.open_dir(shard.directory)
        with six.reader() as reader:
            writer.add_reader(reader)
        six.close()
    writer.commit()


def _bookkeeping(ctx: jobs._Job, sources: list[str], done: Replayed, scan_ns: int) -> Applier:
    """Return an Applier holding what the shards wrote, for jobs._finish to publish.

    The Applier's own walk ran on the workers; here it only carries the
    claimed ids and the story index, both rebuilt by `replay` from the shards.
    """
    applier = Applier(
        Catalog(sources), _NO_WRITER, done.tally, ctx.progress, ctx.pause, scan_ns=scan_ns
    )
    applier.claimed = done.claimed
    applier.stories = StoryIndex.build(done.stories, jobs.STORY_PARAMS)
    return applier


class _NoWriter:
    """Stands in for the writer of an Applier that writes nothing itself."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        raise RuntimeError(f"the distributed job's bookkeeping cannot {name}")


_NO_WRITER: Any = _NoWriter()


def _summary(
    shards: list[ShardResult],
    threads: int,
    tasks_s: float,
    phases: str,
    publish_s: float,
    merged: bool,
) -> str:
    """Describe the cluster part of the job in one line (kept in the report and manifest)."""
    rss: dict[str, float] = {}
    for s in shards:
        rss[s.worker] = max(rss.get(s.worker, 0.0), s.peak_rss_mb)
    busy = sum(s.seconds for s in shards)
    return (
        f"distributed: {len(shards)} partitions on {threads} worker threads "
        f"({len(rss)} processes), tasks {tasks_s:.1f} s ({phases}; busy {busy:.1f} s), "
        f"{'merge' if merged else 'adopt'} {publish_s:.1f} s, "
        f"peak worker RSS {max(rss.values(), default=0):.0f} MB"
    )
