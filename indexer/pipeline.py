"""Write documents into a Whoosh index with several processes: one writer facade, N segment builders.

Analysis and posting lists are most of an index build's CPU (tokenise, stem, sort,
encode, compress), and all of it is per document, so it spreads over processes:
`ParallelWriter` has the `add_document` / `delete_by_term` / `commit` / `cancel` face
of a Whoosh writer. The parent process (which reads, extracts and fingerprints)
batches documents into a bounded queue; each worker process feeds them to its own
segment writer (`segwriter.TermPoolWriter`: Whoosh's segments from a compact
in-memory pool) and finishes a segment whenever that pool reaches `segment_mb`, so
postings never spill to sorted runs on disk (Whoosh's external sort pickles every
posting twice: about a third of a single writer's build time) and memory stays
bounded whatever the corpus size. `commit` adds the workers' segments
to the index's table of contents beside whatever the parent's own writer did
(deletions of old documents in an update): nothing is re-merged, so the time per
document does not grow with the corpus.

Workers are started with `spawn`, not `fork`: a forked child would inherit the job
lock's file descriptor and keep the lock held after a `kill -9` of the job (the next
job would find it busy). They start when the writer opens, while the parent reads
and extracts the first files (about a second of imports); a job smaller than
`min_bytes` of input writes in-process instead, with the same `TermPoolWriter`. A worker dies with its parent (it is
never left behind by a killed job), and a crashed worker fails the job instead of
losing documents.

With `fingerprints` set, the workers also fingerprint each body for the story index
(`search.fingerprint`) and hand the fingerprints back at `commit`: a body's words are
then stemmed once, in the process that already analysed them for the index, instead
of a second time in the parent, which was the build's bottleneck. Each worker reports
what it did (`WorkerStats`), so a benchmark can time indexing apart from extraction.
The segment finishing and table-of-contents calls are Whoosh's own
(`_finalize_segment`, `_merge_segments`, `_commit_toc`, `_finish`: what its
`MpWriter` uses), pinned with the `whoosh3` version in requirements.txt.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import multiprocessing.process
import os
import queue
import time
import traceback
from dataclasses import dataclass, replace
from multiprocessing.queues import Queue
from typing import Any, cast

from whoosh.index import FileIndex, Index
from whoosh.writing import SegmentWriter

from indexer.segwriter import TermPoolWriter
from search.analysis import forget_index_memos
from search.fingerprint import Fingerprint, Scheme, fingerprints, term_values

log = logging.getLogger(__name__)

WORKERS_ENV = "DATELINE_INDEX_WORKERS"
POLL_S = 0.5  # how often a blocked worker or parent checks that the other side is alive


@dataclass(frozen=True)
class WriterOptions:
    """How an index build writes: processes, batch size and memory per segment.

    `workers=0` writes in the calling process with one plain `SegmentWriter` (the
    comparison point of the benchmark). Workers write with `segwriter.TermPoolWriter`,
    whose pool is compact arrays; `segment_mb` is that pool's size (about 16 bytes a
    posting plus its positions, 160 a distinct term), and finishing a segment adds about
    a quarter on top (measured: +12 MB over a 52 MB pool). At the full benchmark corpus
    and 128 MB a worker peaks at ~340-365 MB, memos included (~550 MB before
    `_map_large_allocations` and smaller analysis caches). Larger segments mean fewer of
    them: each is one more lookup per term for every query.
    """

    workers: int = 2
    batch_docs: int = 64
    segment_mb: int = 64
    limitmb: int = 256  # the in-process writer's pool (workers=0, and deletions)
    min_bytes: int = 2 * 1024 * 1024  # input (on disk) below which workers are not worth starting
    fingerprints: Scheme | None = None  # fingerprint bodies in the workers (see module doc)
    nice: int = 10  # workers' priority below the job's (see `_lower_priority`)

    @classmethod
    def from_env(cls, default: WriterOptions | None = None) -> WriterOptions:
        """Return `default` (or the defaults) with `DATELINE_INDEX_WORKERS` applied when set."""
        base = default or cls()
        raw = os.environ.get(WORKERS_ENV, "").strip()
        if not raw:
            return base
        try:
            n = int(raw)
        except ValueError:
            raise ValueError(f"{WORKERS_ENV} must be a whole number, not {raw!r}") from None
        return replace(base, workers=max(0, n), min_bytes=0)


def open_writer(ix: Index, options: WriterOptions, input_bytes: int | None = None) -> Any:
    """Return a writer for `ix`: a `ParallelWriter`; for little input, one in-process
    `TermPoolWriter` (the same segments, flat postings and forms as the workers'); with
    no workers, Whoosh's own writer (`DATELINE_INDEX_WORKERS=0`: the benchmark's single
    writer)."""
    if options.workers <= 0:
        return ix.writer(limitmb=options.limitmb)
    if input_bytes is not None and input_bytes < options.min_bytes:
        return TermPoolWriter(ix, limitmb=options.limitmb)
    return ParallelWriter(ix, options)


def input_size(paths: Any) -> int:
    """Return the bytes on disk of `paths` (files that cannot be read count as nothing)."""
    total = 0
    for p in paths:
        try:
            total += os.stat(p).st_size
        except OSError:
            pass
    return total


M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024


def _map_large_allocations() -> None:
    """Have glibc give every allocation over 4 MB its own mapping (elsewhere: nothing).

    The pool's arrays grow by realloc. glibc's adaptive threshold rises to the size of
    the last freed mapping (up to 32 MB), so after a worker's first segment its arrays
    grew on the heap instead: each realloc copied and left a hole, and the heap ended
    ~115 MB larger than the live pool at 128 MB (measured). Mapped, they grow by
    mremap without copying and go back to the system when freed: a worker's peak fell
    by ~55-90 MB for ~3% more CPU (mapping fresh pages), measured on half the corpus.
    """
    try:
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    except (OSError, AttributeError):
        pass


def _die_with_parent(parent: int | None = None) -> bool:
    """Ask Linux to kill this process when its parent dies (elsewhere, polling covers it).

    Returns False when `parent` (its pid) is no longer this process's parent: it died
    while this process was starting, before the request could cover it.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        pass
    return parent is None or os.getppid() == parent


def _start_child(parent: int) -> None:
    """A pool process's first step: die with the job, even one killed while this started."""
    if not _die_with_parent(parent):
        os._exit(0)


def _lower_priority(nice: int) -> None:
    """Run below the job and its page extraction (`os.nice`; a no-op where unsupported).

    The page-extraction processes (indexer/extractpool.py) then get the cores first and
    finish while the workers' pools are still small: at the same speed, the build's
    tree peak fell from ~1.1 GB to ~0.9 GB (README, "Pages extracted ahead"). A web
    server on the same machine keeps the cores before a reindex too.
    """
    if nice > 0:
        try:
            os.nice(nice)
        except (OSError, AttributeError):
            pass


class WorkerFailed(RuntimeError):
    """A segment-building process died or raised; the job fails rather than lose documents."""


@dataclass(frozen=True)
class WorkerStats:
    """What one worker did: documents, and seconds spent indexing them (wall and CPU)."""

    docs: int = 0
    busy_s: float = 0.0  # adding documents and finishing segments, not waiting for work
    cpu_s: float = 0.0
    segments: int = 0
    peak_rss_bytes: int | None = None  # the process's high-water mark (Linux only)


def _peak_rss() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _body(doc: dict[str, Any]) -> str:
    """Return the body text of a document (`schema.to_document` moves it for some languages)."""
    return str(doc.get("_stored_body") or doc.get("body") or "")


def _worker(
    parent: int,
    index_dir: str,
    indexname: str,
    options: WriterOptions,
    jobs: Queue[Any],
    results: Queue[Any],
) -> None:
    """Index batches of documents into segments until told to stop; send the segments back."""
    if not _die_with_parent(parent):
        return  # the job died while this process was starting
    _map_large_allocations()
    _lower_priority(options.nice)
    from whoosh import index as whoosh_index

    ix = whoosh_index.open_dir(index_dir, indexname=indexname)
    limit = options.segment_mb * 1024 * 1024
    scheme = options.fingerprints
    # A pool limit above the segment budget: the pool must never spill on its own.
    make = lambda: TermPoolWriter(ix, _lk=False, limitmb=options.segment_mb * 4)  # noqa: E731
    segments: list[Any] = []
    prints: list[tuple[str, Fingerprint]] = []
    docs, busy, cpu = 0, 0.0, 0.0
    writer = make()
    try:
        while True:
            try:
                batch = jobs.get(timeout=POLL_S)
            except queue.Empty:
                if os.getppid() != parent:
                    return  # the job was killed: leave quietly, its generation is discarded
                continue
            if batch is None:
                break
            t, c = time.perf_counter(), time.process_time()
            values: list[bytes] = []
            for doc in batch:
                writer.add_document(**doc)
                if scheme is not None:  # the body's tokens and terms, while they are at hand
                    values.append(term_values(_body(doc), scheme.shingle, writer.words()))
            if scheme is not None:
                prints.extend(zip([doc["id"] for doc in batch], fingerprints(values, scheme),
                                  strict=True))
            docs += len(batch)
            if writer.pool.currentsize >= limit:
                segments.append(writer._finalize_segment())
                writer = make()
            busy += time.perf_counter() - t
            cpu += time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        # Both workers write their last segment at the commit, while the job is at its
        # largest: the memos (~60 MB a worker) are of no more use.
        forget_index_memos()
        if writer._added:
            segments.append(writer._finalize_segment())
        else:
            writer._close_segment()
        busy += time.perf_counter() - t
        cpu += time.process_time() - c
        stats = WorkerStats(docs, busy, cpu, len(segments), _peak_rss())
        results.put(("ok", (segments, prints, stats)))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which fails the job
        results.put(("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))


class ParallelWriter:
    """A Whoosh writer whose added documents are indexed by worker processes (see module doc)."""

    def __init__(self, ix: Index, options: WriterOptions) -> None:
        self.options = options
        # The lock, the deletions of an update and the table of contents.
        self.main = cast(SegmentWriter, ix.writer(limitmb=options.limitmb))
        ctx = multiprocessing.get_context("spawn")
        self._jobs: Queue[Any] = ctx.Queue(maxsize=2 * options.workers)
        self._results: Queue[Any] = ctx.Queue()
        self._buffer: list[dict[str, Any]] = []
        self._procs: list[multiprocessing.process.BaseProcess] = []
        self._added = 0
        # Filled by `commit`: the workers' fingerprints (with `options.fingerprints`) and stats.
        self.fingerprints: dict[str, Fingerprint] = {}
        self.stats: list[WorkerStats] = []
        try:
            for i in range(options.workers):
                p = ctx.Process(
                    target=_worker,
                    args=(
                        os.getpid(),
                        cast(FileIndex, ix).storage.folder,
                        cast(FileIndex, ix).indexname,
                        options,
                        self._jobs,
                        self._results,
                    ),
                    name=f"dateline-index-{i}",
                    daemon=True,
                )
                p.start()
                self._procs.append(p)
        except BaseException:
            self.cancel()
            raise

    @property
    def fingerprint_scheme(self) -> Scheme | None:
        """How the workers fingerprint bodies (None: they do not); see `fingerprints`."""
        return self.options.fingerprints

    # The IndexWriter surface the indexer uses; anything else reads the parent's writer.
    def __getattr__(self, name: str) -> Any:
        return getattr(self.main, name)

    def add_document(self, **fields: Any) -> None:
        """Queue one document; it is indexed by whichever worker takes its batch."""
        self._buffer.append(fields)
        self._added += 1
        if len(self._buffer) >= self.options.batch_docs:
            self._send(self._buffer)
            self._buffer = []

    def delete_by_term(self, fieldname: str, text: str, searcher: Any = None) -> int:
        """Delete from the segments the index had when the writer opened (as Whoosh does)."""
        return int(self.main.delete_by_term(fieldname, text, searcher=searcher))

    def doc_count(self) -> int:
        return self._added

    def _check_workers(self) -> None:
        dead = [p for p in self._procs if not p.is_alive()]
        if dead:
            raise WorkerFailed(f"index worker {dead[0].name} exited (code {dead[0].exitcode})")

    def _send(self, item: list[dict[str, Any]] | None) -> None:
        while True:
            try:
                self._jobs.put(item, timeout=POLL_S)
                return
            except queue.Full:
                self._check_results_for_errors()
                self._check_workers()

    def _check_results_for_errors(self) -> None:
        try:
            kind, value = self._results.get_nowait()
        except queue.Empty:
            return
        if kind == "error":
            raise WorkerFailed(f"an index worker failed: {value}")
        raise WorkerFailed("an index worker finished early")

    def _collect(self) -> list[Any]:
        """Stop the workers and return the segments they wrote."""
        if self._buffer:
            self._send(self._buffer)
            self._buffer = []
        for _ in self._procs:
            self._send(None)
        segments: list[Any] = []
        pending = len(self._procs)
        while pending:
            try:
                kind, value = self._results.get(timeout=POLL_S)
            except queue.Empty:
                # A worker that exited cleanly has already put its result; one
                # that is gone with nothing in the queue crashed.
                if all(not p.is_alive() for p in self._procs) and self._results.empty():
                    raise WorkerFailed("an index worker exited without its segments") from None
                continue
            if kind == "error":
                raise WorkerFailed(f"an index worker failed: {value}")
            segs, prints, stats = value
            segments.extend(segs)
            self.fingerprints.update(prints)
            self.stats.append(stats)
            pending -= 1
        for p in self._procs:
            p.join()
        return segments

    def commit(self, mergetype: Any = None, optimize: bool = False, merge: bool = True) -> None:
        """Publish the workers' segments and the parent's deletions in one new table of contents."""
        main = self.main
        try:
            segments = self._collect()
        except BaseException:
            self.cancel()
            raise
        try:
            final = main._merge_segments(mergetype, optimize, merge)
            if main._added:
                final.append(main._finalize_segment())
            else:
                main._close_segment()
            main._commit_toc(final + segments)
        except BaseException:
            main._cleanup_on_error()
            raise
        main._finish()

    def cancel(self) -> None:
        """Stop the workers and drop everything not committed."""
        self._stop()
        if not getattr(self.main, "is_closed", True):
            self.main.cancel()

    def _stop(self) -> None:
        for p in self._procs:
            if p.is_alive():
                p.terminate()
        for p in self._procs:
            p.join(timeout=5)
        self._jobs.cancel_join_thread()
        self._results.cancel_join_thread()
