"""Extract a job's page files ahead of it, in other processes.

A page (HTML, or a text dump) costs tens of milliseconds to extract (trafilatura,
dates, bylines, language), a record line well under one. With the job alone
extracting, a folder of pages is bound by that one process while the index workers
wait, and in the benchmark's mixed build its 890 pages kept the job alone at 100% of
one core for ~80 of ~290 s, the index workers idle (57k articles, measured).

`ExtractAhead` extracts a job's changed page files in source order in spawned
processes, from the start of the job, as far ahead as a budget of finished results
allows; the job takes each file's result when its walk reaches that file, so
documents, duplicates, skips and the catalog are exactly what extracting in the job
gives. Record files (JSON, JSON Lines) stay in the job: they are cheap per article
and streamed. A pool that breaks (a process killed) costs time, not documents: the
job extracts what it has no result for itself. The index workers run at a lower
priority (indexer/pipeline.py), so the pages are extracted first, while the
workers' pools are still small: measured over the whole corpus, the build's tree
peak stayed where it was (905 vs 928 MB) instead of rising to ~1.1 GB.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from indexer.extract import ExtractionError, Skipped, detect_kind, extract, extract_lines
from indexer.pipeline import _start_child
from indexer.sources import LineSource, SourceFile, open_source
from search.models import Article

log = logging.getLogger(__name__)

PROCESSES_ENV = "DATELINE_EXTRACT_WORKERS"
AHEAD_KINDS = ("html", "text")  # one article a file, and costly to extract
MIN_FILES = 32  # fewer changed pages than this: extract in the job (no process start-up)
BUDGET_CHARS = 32 * 1024 * 1024  # text of finished results waiting for the job
POLL_S = 0.5


def processes(pages: int, with_records: bool) -> int:
    """How many processes extract a job's `pages` changed page files (0: the job itself).

    `DATELINE_EXTRACT_WORKERS` when set. Else none for a few pages (not worth starting a
    process); one per core for a job of pages only (the index workers are then mostly
    idle: extraction is the build); one when record files are read too: the index
    workers keep the cores busy with those, a second process would only share the
    same cores, and each holds ~250 MB of extraction state (language model, stop
    lists, date-parsing tables).
    """
    raw = os.environ.get(PROCESSES_ENV, "").strip()
    if raw:
        try:
            wanted = max(0, int(raw))
        except ValueError:
            raise ValueError(f"{PROCESSES_ENV} must be a whole number, not {raw!r}") from None
        return wanted if pages >= MIN_FILES else 0
    if pages < MIN_FILES:
        return 0
    if with_records:
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def source_items(src: SourceFile | LineSource) -> Iterator[Article | Skipped]:
    """Extract one opened file: its bytes, or its lines when it is streamed."""
    if isinstance(src, LineSource):
        return extract_lines(src.path, src.lines())
    return extract(src.path, src.data, src.kind)


def guarded(
    path: str, items: Iterator[Article | Skipped], crashed: Callable[[str, str], None]
) -> Iterator[Article | Skipped]:
    """Yield `items` (one file's); a failure ends them with a skip of the file.

    An `ExtractionError` is the file's reason to be skipped; anything else is an
    extractor bug, handed to `crashed` (path, traceback) and skipped as such, so one
    bad file never stops a job.
    """
    try:
        yield from items
    except ExtractionError as e:
        yield Skipped(path, e.reason)
    except Exception as e:  # noqa: BLE001 - the one place a bad file is reported and skipped
        crashed(path, traceback.format_exc())
        yield Skipped(path, f"extractor error: {type(e).__name__}: {e}")


@dataclass(frozen=True)
class Extracted:
    """One file as a pool process opened and extracted it (the job replays it)."""

    path: str
    sha1: str | None  # None: it could not be opened; `items` holds the one skip why
    items: tuple[Article | Skipped, ...]
    crashes: tuple[str, ...] = ()  # tracebacks of extractor bugs, logged by the job
    # Spent opening and extracting it (benchmarks count it as extraction); not compared.
    seconds: float = field(default=0.0, compare=False)

    @property
    def size(self) -> int:
        """About how many characters this holds (what the budget counts)."""
        return sum(
            len(a.body) + len(a.title) + len(a.summary or "")
            for a in self.items
            if isinstance(a, Article)
        )


def extract_file(path: str) -> Extracted:
    """Open and extract one file (what a pool process runs)."""
    started = time.perf_counter()
    src = open_source(Path(path))
    if isinstance(src, Skipped):
        return Extracted(path, None, (src,), seconds=time.perf_counter() - started)
    crashes: list[str] = []
    items = tuple(guarded(src.path, source_items(src), lambda _p, tb: crashes.append(tb)))
    return Extracted(path, src.sha1, items, tuple(crashes), time.perf_counter() - started)


def planned(order: Sequence[Path], changed: set[str]) -> tuple[list[str], bool]:
    """The files of a job's walk worth extracting ahead (changed pages, in order), and
    whether it reads record files too."""
    kinds = [(str(p), detect_kind(p.name)) for p in order if str(p) in changed]
    pages = [p for p, kind in kinds if kind in AHEAD_KINDS]
    return pages, len(pages) < len(kinds)


class ExtractAhead:
    """Extract `paths` in `processes` spawned processes, in order, ahead of `take`.

    A feeder thread submits the files in order while fewer than two per process are
    running and the finished results not yet taken hold less than `budget` characters,
    so memory stays bounded however far behind the job is. `take(path)` returns that
    file's result (waiting for it), or None when the pool has none (not planned, or
    the pool broke): the caller then extracts the file itself. Results of planned
    files the job walked past without taking are dropped.
    """

    def __init__(
        self,
        paths: Sequence[str],
        processes: int,
        budget: int = BUDGET_CHARS,
        work: Callable[[str], Extracted] = extract_file,
    ) -> None:
        self._paths = list(paths)
        self._order = {p: i for i, p in enumerate(self._paths)}
        self._processes = processes
        self._budget = budget
        self._work = work
        self._cond = threading.Condition()
        self._results: dict[str, Extracted] = {}
        self._held = 0  # characters in `_results`
        self._running = 0
        self._submitted = 0  # `_paths[:_submitted]` were handed to the pool
        self._passed = 0  # the job is at or past `_paths[_passed]`
        self._lost: set[str] = set()  # submitted, but their process died
        self._broken = False
        self._closed = False
        self.peak_held = 0  # the most characters held at once (tests, benchmarks)
        ctx = multiprocessing.get_context("spawn")  # as indexer/pipeline.py: no inherited lock
        self._pool = ProcessPoolExecutor(processes, mp_context=ctx, initializer=_start_child,
                                         initargs=(os.getpid(),))
        self._feeder = threading.Thread(target=self._feed, name="dateline-extract-feeder",
                                        daemon=True)
        self._feeder.start()

    def __enter__(self) -> ExtractAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _room(self) -> bool:
        return self._running < 2 * self._processes and self._held < self._budget

    def _feed(self) -> None:
        try:
            self._submit_all()
        finally:
            # The one place the pool is shut down (two threads shutting one executor down
            # race). Its processes were started from this thread and die with it (their
            # parent-death signal): they finish first.
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _submit_all(self) -> None:
        for i, path in enumerate(self._paths):
            with self._cond:
                while not self._closed and not self._broken and not self._room():
                    self._cond.wait()
                if self._closed or self._broken:
                    return
                if i < self._passed:
                    self._submitted = i + 1
                    continue  # the job is past it already
                self._running += 1
                self._submitted = i + 1
            try:
                future = self._pool.submit(self._work, path)
            except RuntimeError:  # shut down, or broken (BrokenProcessPool is one)
                with self._cond:
                    self._running -= 1
                    self._lost.add(path)
                    self._broken = True
                    self._cond.notify_all()
                return
            future.add_done_callback(partial(self._done, path))
        # Everything is submitted: let the processes go once the last result is in.
        with self._cond:
            while self._running and not self._closed:
                self._cond.wait()

    def _done(self, path: str, future: Future[Extracted]) -> None:
        broken = False
        try:
            got: Extracted | None = future.result()
        except BrokenProcessPool as e:  # a process died: the job extracts what is left
            got, broken = None, True
            if not self._broken and not self._closed:
                log.warning("a page extraction process died (%s); the job extracts the "
                            "remaining pages itself", e)
        except BaseException as e:  # noqa: BLE001 - cancelled, or no result: the job extracts it
            got = None
            if not self._closed:
                log.warning("no extraction result for %s (%s: %s); the job extracts it",
                            path, type(e).__name__, e)
        with self._cond:
            self._running -= 1
            self._broken = self._broken or broken
            if got is None:
                self._lost.add(path)
            elif self._order[path] >= self._passed:
                self._results[path] = got
                self._held += got.size
                self.peak_held = max(self.peak_held, self._held)
            self._cond.notify_all()

    def take(self, path: str) -> Extracted | None:
        """Return `path`'s result, waiting for it; None when the caller must extract it."""
        i = self._order.get(path)
        if i is None:
            return None
        with self._cond:
            if i < self._passed:
                return None  # behind the walk: its result, if any, was dropped
            if i > self._passed:
                for p in self._paths[self._passed:i]:
                    dropped = self._results.pop(p, None)
                    if dropped is not None:
                        self._held -= dropped.size
            self._passed = i  # results before it are of no more use; its own still is
            self._cond.notify_all()
            try:
                while path not in self._results:
                    if path in self._lost or self._closed or (
                        self._broken and i >= self._submitted
                    ):
                        return None
                    self._cond.wait(POLL_S)
                got = self._results.pop(path)
                self._held -= got.size
                return got
            finally:
                self._passed = i + 1
                self._cond.notify_all()

    def close(self) -> None:
        """Stop extracting; wait for the processes (at most the page each is on)."""
        with self._cond:
            self._closed = True
            self._results.clear()
            self._held = 0
            self._cond.notify_all()
        self._feeder.join()
