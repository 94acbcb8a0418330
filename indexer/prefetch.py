"""Read and extract a job's files ahead of it, in worker processes.

Extracting an HTML page (parse, boilerplate, metadata) costs ~36 ms of CPU, against
~0.2 ms for a JSON record; a job walking a folder of pages used to extract them one
at a time in its own process, while the index workers (indexer/pipeline.py) waited
for documents. `Prefetcher` hands the pages to a pool of processes a few files
ahead of the walk and gives the results back in the walk's order, so every rule
that depends on order (the first file with an id wins) and every report is the same
as extracting inline: the job still owns the catalog, the writer and the progress
callbacks; the pool only turns paths into articles.

Only whole files are sent (HTML, text dumps, JSON documents): JSON Lines files are
streamed by the job itself, a line at a time, as before. A file's articles travel
back pickled, and at most `ahead` files are in flight, so memory stays bounded
whatever the folder's size. Pool processes die with the job (Linux parent-death
signal); a file the pool fails on is reported and skipped exactly as inline. A pool
process that dies (killed, out of memory) breaks the pool (`concurrent.futures`
notices, where `multiprocessing.Pool` would wait forever for the lost file): the job
then reads the remaining files itself, losing nothing.
"""

from __future__ import annotations

import collections
import logging
import multiprocessing
import os
import traceback
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from indexer.extract import ExtractionError, Skipped, detect_kind
from indexer.pipeline import _die_with_parent
from indexer.sources import LineSource, open_source
from search.models import Article

log = logging.getLogger(__name__)

PREFETCH_KINDS = frozenset({"html", "txt", "json"})  # extracted whole; jsonl is streamed
MIN_FILES = 8  # fewer files than this to extract: not worth starting processes


@dataclass(frozen=True)
class Extracted:
    """One file, opened and extracted in a pool process (all `Applier` needs of it)."""

    path: str
    stat: os.stat_result | None
    stat_error: str | None  # why it could not be stat'ed
    skipped: Skipped | None  # why it could not be opened (`open_source`)
    sha1: str
    items: tuple[Article | Skipped, ...]  # what extraction gave, until it stopped
    error: Skipped | None  # why extraction stopped part-way, if it did
    trace: str | None = None  # the traceback of an unexpected extractor error


def extract_file(path: Path) -> Extracted:
    """Open and extract `path` as `Applier` does inline, catching what it would catch."""
    from indexer.changes import source_items  # the job's own reading; imported in the child

    key = str(path)
    try:
        st = path.stat()
    except OSError as e:
        return Extracted(key, None, e.strerror or str(e), None, "", (), None)
    src = open_source(path)
    if isinstance(src, Skipped):
        return Extracted(key, st, None, src, "", (), None)
    items: list[Article | Skipped] = []
    error: Skipped | None = None
    trace = None
    try:
        for item in source_items(src):
            items.append(item)
    except ExtractionError as e:
        error = Skipped(src.path, e.reason)
    except Exception as e:  # noqa: BLE001 - reported by the job, as `Applier._extract` does
        error = Skipped(src.path, f"extractor error: {type(e).__name__}: {e}")
        trace = traceback.format_exc()
    return Extracted(key, st, None, None, src.sha1, tuple(items), error, trace)


def wanted(paths: Iterable[Path]) -> list[Path]:
    """Return the files of `paths` the pool would extract (whole files, not JSON Lines)."""
    return [p for p in paths if detect_kind(p.name) in PREFETCH_KINDS]


class Prefetcher:
    """Extract `paths` (in the order they will be asked for) in `procs` processes."""

    def __init__(self, paths: list[Path], procs: int, ahead: int | None = None) -> None:
        self._todo = collections.deque(paths)
        self._ahead = ahead or 4 * procs
        # spawn, not fork: a forked child would inherit the job lock's descriptor.
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            procs, mp_context=multiprocessing.get_context("spawn"), initializer=_die_with_parent,
            initargs=(os.getpid(),))
        self._flight: collections.deque[tuple[str, Future[Extracted]]] = collections.deque()
        self._fill()

    def _fill(self) -> None:
        while self._pool is not None and self._todo and len(self._flight) < self._ahead:
            path = self._todo.popleft()
            try:
                self._flight.append((str(path), self._pool.submit(extract_file, path)))
            except BrokenProcessPool:
                self._broken()

    def take(self, path: Path) -> Extracted | None:
        """Return `path`'s extraction, or None when it is not the next one prefetched
        or the pool broke (the caller then reads it inline)."""
        if not self._flight or self._flight[0][0] != str(path):
            return None
        _key, pending = self._flight.popleft()
        try:
            done = pending.result()
        except BrokenProcessPool:
            self._broken()
            return None
        self._fill()
        return done

    def _broken(self) -> None:
        log.warning("an extraction process died; the job reads the remaining files itself")
        self._flight.clear()
        self._todo.clear()
        self.close()

    def close(self) -> None:
        """Stop the pool (files not started are dropped; running ones finish)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def replay(done: Extracted) -> Iterator[Article | Skipped]:
    """Yield a prefetched file's items, then raise how its extraction stopped (if it did),
    so the job's inline handling of a broken file applies unchanged."""
    yield from done.items
    if done.error is not None:
        if done.trace:
            log.error("extractor failed on %s\n%s", done.path, done.trace)
        raise ExtractionError(done.error.reason)


__all__ = ["Extracted", "LineSource", "Prefetcher", "extract_file", "replay", "wanted"]
