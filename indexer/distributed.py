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
dies is rescheduled by Dask; if a partition still fails, the job fails: once
its tasks still running have ended, the half-built generation is removed and
the served one is untouched.

Dask is an optional extra (`make cluster-deps`) and is imported only here,
lazily. With `address`, workers must run this same Dateline version and see
the sources and the index directory at the same paths (a shared mount): the
job checks that on every worker before any task runs (`check_worker_paths`).
Progress (partitions done of total, documents, failed attempts) goes to an
optional `on_partition` callback as tasks complete.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from indexer.segwriter import TermPoolWriter
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
    shard_procs: int = 1  # processes writing each shard (the worker and spawned children)


@dataclass(frozen=True)
class PartitionProgress:
    """Where a distributed rebuild is: sent to `on_partition` whenever a task completes."""

    phase: str  # "extract" or "write"
    done: int  # partitions through this phase
    total: int
    docs: int  # articles extracted, or documents written, so far in this phase
    failures: int  # failed attempts so far (task errors, lost workers): each is run again


ProgressHook = Callable[[PartitionProgress], None]


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
    import dask

    # Worker processes are daemonic by default, and a daemonic process may not start
    # the children that write a shard with --shard-procs; the nanny reads this setting
    # whenever it (re)starts a worker, so it stays set for the cluster's whole life.
    with (
        dask.config.set({"distributed.worker.daemon": options.shard_procs <= 1}),
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
    on_partition: ProgressHook | None = None,
) -> JobReport:
    """Build a complete new generation of `sources` on a Dask cluster; publish it."""
    require_dask()  # before the lock: a missing extra must not touch last-job.json
    srcs = jobs._absolute(sources)
    hook = on_partition or (lambda p: None)

    def body(ctx: jobs._Job) -> JobReport:
        if client is not None:
            return _rebuild(ctx, srcs, client, options, hook)
        with connect(options) as own:
            return _rebuild(ctx, srcs, own, options, hook)

    return jobs._run(index_dir, job, wait, progress, body)


def _rebuild(
    ctx: jobs._Job,
    sources: list[str],
    client: Client,
    options: ClusterOptions,
    on_partition: ProgressHook,
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
        check_worker_paths(client, shard_root, sources, spawns=options.shard_procs > 1)
        t0 = time.perf_counter()
        run = _Run(client, options, shard_root, on_partition)
        done, shards, phases = run.partitions(partitions, plan.order, scan_ns, ctx.progress)
        t1 = time.perf_counter()
        writer = TermPoolWriter(ix, limitmb=jobs.WRITER_LIMIT_MB)
        if options.merge:
            _merge(writer, shards)
        else:
            _check_columns(shards)
            _adopt(writer, shards, path)
        writer = None  # committed
        shutil.rmtree(shard_root)
        t2 = time.perf_counter()
        applier = _bookkeeping(ctx, sources, done, scan_ns)
        message = _summary(shards, threads, t1 - t0, phases, t2 - t1, options)
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


def check_worker_paths(
    client: Client, staging: Path, sources: Sequence[str], *, spawns: bool = False
) -> None:
    """Fail unless every worker can write `staging` and read every source (same paths).

    On a real cluster the sources and the index directory must be on a filesystem
    every worker mounts at the same path; a worker without the mount would fail
    its tasks one by one (or, for the staging folder, write shards nobody sees).
    With `spawns`, workers must also be allowed to start processes (--shard-procs).
    """
    answers = client.run(_paths_unseen, str(staging), list(sources), spawns)
    problems = [f"worker {addr}: {why}" for addr, whys in sorted(answers.items()) for why in whys]
    if problems:
        raise RuntimeError(
            "not every Dask worker can use this job's paths; the sources and the index "
            "directory must be on a filesystem every worker mounts at the same path: "
            + "; ".join(problems)
        )


def _paths_unseen(staging: str, sources: list[str], spawns: bool) -> list[str]:
    """On a worker: say which of the job's paths it cannot use (run by `client.run`)."""
    import multiprocessing
    import socket

    host = socket.gethostname()
    out = []
    if not os.path.isdir(staging) or not os.access(staging, os.W_OK | os.X_OK):
        out.append(f"cannot write the staging folder {staging} (on {host})")
    for src in sources:
        if not os.access(src, os.R_OK):
            out.append(f"cannot read source {src} (on {host})")
    if spawns and multiprocessing.current_process().daemon:
        out.append(
            f"is a daemonic process (on {host}): --shard-procs needs workers started "
            "with DASK_DISTRIBUTED__WORKER__DAEMON=False"
        )
    return out


class _Run:
    """The tasks of one distributed rebuild, and the progress they report."""

    def __init__(
        self, client: Client, options: ClusterOptions, shard_root: Path, hook: ProgressHook
    ) -> None:
        self.client = client
        self.options = options
        self.shard_root = shard_root
        self.hook = hook
        self.failures = 0
        self._keys: set[str] = set()

    def partitions(
        self, partitions: list[Partition], order: list[Path], scan_ns: int, progress: Progress
    ) -> tuple[Replayed, list[ShardResult], str]:
        """Extract every partition, replay their reports, write the shards; or raise.

        The extracted articles stay in the workers' memory between the phases and
        each shard is written where its extraction is held. A worker lost in
        between takes its extractions with it: Dask recomputes them elsewhere.
        """
        client = self.client
        # A retry must run again.
        common: dict[str, Any] = {"retries": self.options.retries, "pure": False}
        futures: list[Any] = []
        token = uuid.uuid4().hex[:8]
        t_started = time.perf_counter()
        client.subscribe_topic(FAILURE_TOPIC, self._on_failure)
        client.subscribe_topic("all", self._on_cluster_event)
        try:
            extracted = client.map(
                _attempt,
                [extract_partition] * len(partitions),
                partitions,
                scheme=jobs.STORY_PARAMS.scheme,
                key=[f"dateline-extract-{p.number}-{token}" for p in partitions],
                **common,
            )
            futures += extracted
            reports_f = client.map(
                pieces_of,
                extracted,
                key=[f"dateline-report-{p.number}-{token}" for p in partitions],
                **common,
            )
            futures += reports_f
            self._keys = {str(f.key) for f in futures}
            reports = self._follow("extract", reports_f, _extracted_count)
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
                _attempt,
                [write_shard] * len(extracted),
                extracted,
                drops,
                shard_root=str(self.shard_root),
                writer_limit_mb=jobs.WRITER_LIMIT_MB,
                procs=self.options.shard_procs,
                key=[f"dateline-write-{p.number}-{token}" for p in partitions],
                **common,
            )
            futures += shards_f
            self._keys |= {str(f.key) for f in shards_f}
            shards: list[ShardResult] = self._follow("write", shards_f, lambda r: r.written)
            t_written = time.perf_counter()
        except (RuntimeError, OSError, KeyboardInterrupt):
            raise
        except Exception as e:  # KilledWorker, a task's own error: the CLI reports RuntimeError
            raise RuntimeError(f"a partition failed on the cluster: {type(e).__name__}: {e}") from e
        finally:
            stop_tasks(client, futures)  # frees the workers' memory; lets no writer run on
            with suppress(Exception):
                client.unsubscribe_topic(FAILURE_TOPIC)
                client.unsubscribe_topic("all")
        phases = (
            f"extract {t_extracted - t_started:.1f} s, replay {t_replayed - t_extracted:.1f} s, "
            f"write {t_written - t_replayed:.1f} s"
        )
        return done, shards, phases

    def _follow(self, phase: str, futures: list[Any], docs_of: Callable[[Any], int]) -> list[Any]:
        """Report each task of `phase` as it completes; return their results in order."""
        from distributed import as_completed

        total, docs = len(futures), 0
        self.hook(PartitionProgress(phase, 0, total, 0, self.failures))
        for n, future in enumerate(as_completed(futures), 1):
            docs += docs_of(future.result())  # raises a task's final error
            self.hook(PartitionProgress(phase, n, total, docs, self.failures))
        return list(self.client.gather(futures))

    def _on_failure(self, event: tuple[float, Any]) -> None:
        msg = event[1]
        if isinstance(msg, dict) and str(msg.get("key")) in self._keys:  # not another job's
            self.failures += 1

    def _on_cluster_event(self, event: tuple[float, Any]) -> None:
        """Count a lost worker's running tasks of this job: Dask runs them again."""
        msg = event[1]
        if isinstance(msg, dict) and msg.get("action") == "remove-worker":
            lost = set(map(str, msg.get("processing-tasks") or ()))
            self.failures += len(lost & {str(k) for k in self._keys})


FAILURE_TOPIC = "dateline-task-failed"
STOP_TIMEOUT_S = 600.0  # longest wait for a failed job's running tasks to end
STOP_POLL_S = 0.2


def stop_tasks(client: Client, futures: Sequence[Any], timeout: float = STOP_TIMEOUT_S) -> None:
    """Cancel `futures`, then wait until no worker still runs any of them.

    Dask's cancel only forgets a task that is already running: it runs to its
    end. A failed job removes its generation once this returns, and a writer
    still adding files to the staging folder while it is removed would leave
    part of it behind (rmtree cannot remove a directory that gains a file).
    Past `timeout`, or when the cluster stops answering, the job goes on; the
    next published job prunes whatever is left. Nothing runs once every task
    has finished (a job that succeeded): then there is nothing to wait for.
    """
    pending = [f for f in futures if f.status != "finished"]
    client.cancel(list(futures))
    if not pending:
        return
    keys = {str(f.key) for f in pending}
    deadline = time.monotonic() + timeout
    told = False
    idle = 0
    while True:
        try:
            running = client.run(_running_keys)
        except Exception as e:  # noqa: BLE001 - a lost cluster runs nothing more of ours
            log.warning("cannot ask the workers what still runs (%s); not waiting", e)
            return
        left = sorted(k for ks in running.values() for k in ks if k in keys)
        # Idle twice, a poll apart: a task that reached its worker just ahead of the
        # cancel has started, and shows, by the second look.
        idle = 0 if left else idle + 1
        if idle >= 2:
            return
        if left and time.monotonic() >= deadline:
            log.warning("tasks %s still run after %.0f s; not waiting for them", left, timeout)
            return
        if left and not told:
            log.info("waiting for %d running task(s) of this job to end", len(left))
            told = True
        time.sleep(STOP_POLL_S)


def _running_keys(dask_worker: Any) -> list[str]:
    """On a worker: the keys of the tasks it runs, cancelled ones included (`client.run`)."""
    state = dask_worker.state
    return [str(ts.key) for ts in (*state.executing, *state.long_running)]


def _attempt(task: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a task on a worker; tell the client's progress about a failed attempt, then raise."""
    try:
        return task(*args, **kwargs)
    except Exception as e:
        from distributed import get_worker

        with suppress(Exception):
            worker = get_worker()
            key = worker.get_current_task()
            worker.log_event(FAILURE_TOPIC, {"key": key, "error": f"{type(e).__name__}: {e}"})
        raise


def _extracted_count(pieces: Sequence[Any]) -> int:
    return sum(1 for piece in pieces for e in piece.entries if e.written)


def _adopt(writer: SegmentWriter, shards: list[ShardResult], path: Path) -> None:
    """Move every shard's segments into the generation and commit them, in partition order."""
    adopted = []
    for directory in _directories(shards):
        shard_storage = FileStorage(directory)
        for segment in TOC.read(shard_storage, "MAIN").segments:
            if not segment.doc_count():
                continue
            for filename in segment.list_files(shard_storage):
                os.replace(Path(directory) / filename, path / filename)
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
    for directory in _directories(shards):
        six = whoosh_index.open_dir(directory)
        names = [n for n, f in six.schema.items() if f.column_type]
        with six.reader() as reader:
            for leaf, _ in reader.leaf_readers() if reader.doc_count_all() else ():
                found.add(frozenset(n for n in names if leaf.has_column(n)))
        six.close()
    if len(found) > 1:
        raise RuntimeError("shards differ in their columns; rebuild with --merge-shards")


def _merge(writer: SegmentWriter, shards: list[ShardResult]) -> None:
    """Copy every shard into the writer's one new segment, in partition order."""
    for directory in _directories(shards):
        six = whoosh_index.open_dir(directory)
        with six.reader() as reader:
            writer.add_reader(reader)
        six.close()
    writer.commit()


def _directories(shards: list[ShardResult]) -> list[str]:
    """Every (sub-)shard directory, in document order: partition order, then run order."""
    return [d for shard in sorted(shards, key=lambda s: s.partition) for d in shard.directories]


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
        # AttributeError, so `getattr(writer, name, default)` probes still get the default.
        raise AttributeError(f"the distributed job's bookkeeping has no writer ({name})")


_NO_WRITER: Any = _NoWriter()


def _summary(
    shards: list[ShardResult],
    threads: int,
    tasks_s: float,
    phases: str,
    publish_s: float,
    options: ClusterOptions,
) -> str:
    """Describe the cluster part of the job in one line (kept in the report and manifest)."""
    rss: dict[str, float] = {}
    child_rss = 0.0
    for s in shards:
        rss[s.worker] = max(rss.get(s.worker, 0.0), s.peak_rss_mb)
        child_rss = max(child_rss, s.child_rss_mb)
    busy = sum(s.seconds for s in shards)
    children = (
        f" (+ {child_rss:.0f} MB per writing child, {options.shard_procs} processes per shard)"
        if options.shard_procs > 1
        else ""
    )
    return (
        f"distributed: {len(shards)} partitions on {threads} worker threads "
        f"({len(rss)} processes), tasks {tasks_s:.1f} s ({phases}; busy {busy:.1f} s), "
        f"{'merge' if options.merge else 'adopt'} {publish_s:.1f} s, "
        f"peak worker RSS {max(rss.values(), default=0):.0f} MB{children}"
    )
