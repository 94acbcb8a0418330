"""One partition of a distributed rebuild: extract its pieces, then write one Whoosh shard.

These run inside Dask workers (`distributed.py` submits them), so this module
imports no Dask. A partition alone cannot know whether an earlier partition
also produced an id, so the work has two phases: `extract_partition` keeps the
first copy of each id within the partition in the worker's memory and
reports every article it met, in order; the client replays the
single-process rule ("first file in source order wins") over all reports
(`replay.py`); `write_shard`, run where the extraction is held, writes the
documents that won, exactly as `changes.Applier` would (same `to_document`,
schema, analyzers and writer settings).

A JSON Lines slice reads and decodes the whole file (cheap next to indexing)
and blanks the lines outside its slice: line numbers, which name records in
`path` and in skip reports, stay those of the whole file.

With `procs` > 1 a shard is written by that many processes (the worker and
`procs - 1` spawned children), each writing a contiguous run of the
partition's documents into its own sub-shard directory. The client adopts the
sub-shards in order like any shard, so documents keep their single-process
order (which breaks score ties); `pipeline.ParallelWriter` is not used here
because it hands batches to whichever process is free, which reorders them.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import resource
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.fields import Schema
from whoosh.writing import IndexWriter

from indexer.catalog import article_digest
from indexer.decoding import decode_bytes, has_binary_marks
from indexer.extract import MAX_BYTES, ExtractionError, Skipped, extract
from indexer.partition import Partition, Piece
from indexer.pipeline import _start_child
from indexer.segwriter import TermPoolWriter
from indexer.sources import SourceFile, read_source
from search.fingerprint import Fingerprint, Scheme, fingerprint
from search.models import Article
from search.schema import build_schema, to_document

log = logging.getLogger(__name__)

# Tests only: a directory where a file `kill-<step>-<n>` (step: extract or write) makes
# that task of partition n kill its worker process once (the file is consumed), and
# `raise-<step>-<n>` makes it fail every time.
TEST_FAULT_ENV = "DATELINE_TEST_FAULT_DIR"


@dataclass(frozen=True)
class Entry:
    """One article a piece produced, in file order."""

    id: str
    digest: str  # catalog digest (content hash, path)
    published: dt.datetime | None
    fp: Fingerprint | None  # story fingerprint; None when not written
    written: bool  # the first copy of its id in this partition, so it is in the shard


@dataclass(frozen=True)
class PieceResult:
    """What one piece gave: its file's stat and sha1, articles, skips, and how it ended."""

    piece: Piece
    stat: os.stat_result | None
    sha1: str | None
    unreadable: Skipped | None  # the whole file could not be read (or is unsupported)
    entries: tuple[Entry, ...]
    skipped: tuple[Skipped, ...]
    crashed: bool = False  # the extractor raised mid-file: later slices must be ignored


@dataclass(frozen=True)
class Extracted:
    """A partition's articles, held in its worker's memory until the client says which to write.

    `articles` are the first copies of their ids within the partition, in
    order; `pieces` is the (small) report the client replays.
    """

    partition: int
    pieces: tuple[PieceResult, ...]
    articles: tuple[Article, ...]
    seconds: float


@dataclass(frozen=True)
class ShardResult:
    """A written shard and what the client needs to publish it."""

    partition: int
    directories: tuple[str, ...]  # sub-shards in document order (one per writing process)
    written: int
    seconds: float  # extraction and writing
    peak_rss_mb: float  # of the worker process so far (ru_maxrss)
    child_rss_mb: float  # of its largest writing child so far (0 with one process)
    worker: str  # host:pid


def extract_partition(partition: Partition, scheme: Scheme) -> Extracted:
    """Extract and fingerprint `partition`'s pieces (phase 1: nothing is written)."""
    started = time.perf_counter()
    _test_fault(f"extract-{partition.number}")
    seen: set[str] = set()
    articles: list[Article] = []
    pieces = [_extract_piece_report(piece, seen, articles, scheme) for piece in partition.pieces]
    return Extracted(
        partition.number, tuple(pieces), tuple(articles), time.perf_counter() - started
    )


def pieces_of(extracted: Extracted) -> tuple[PieceResult, ...]:
    """Return the report of an extraction (what travels to the client)."""
    return extracted.pieces


def write_shard(
    extracted: Extracted,
    drop: frozenset[str],
    shard_root: str,
    writer_limit_mb: int,
    procs: int = 1,
) -> ShardResult:
    """Write the partition's articles but `drop` (copies that lose to an earlier partition).

    Documents that lose are never written rather than deleted afterwards: Whoosh
    keeps counting deleted documents in its statistics, and merging them away
    (`add_reader`) re-adds field lengths from their one-byte encodings, so
    either way scores would drift from a single-process build's.
    """
    started = time.perf_counter()
    _test_fault(f"write-{extracted.partition}")
    kept = [a for a in extracted.articles if a.id not in drop]
    runs = split_runs(kept, procs)
    # A fresh directory per attempt: a retried task never meets a half-written shard,
    # and a worker presumed dead that still writes cannot touch the one that is used.
    attempt = uuid.uuid4().hex[:8]
    dirs = [
        str(Path(shard_root) / f"p{extracted.partition:05d}-{attempt}-{k:02d}")
        for k in range(len(runs))
    ]
    if len(runs) == 1:
        _write_index(dirs[0], runs[0], writer_limit_mb)
    else:
        _write_in_processes(dirs, runs, writer_limit_mb)
    return ShardResult(
        partition=extracted.partition,
        directories=tuple(dirs),
        written=len(kept),
        seconds=extracted.seconds + time.perf_counter() - started,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        child_rss_mb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        worker=f"{os.uname().nodename}:{os.getpid()}",
    )


def split_runs(articles: Sequence[Article], procs: int) -> list[list[Article]]:
    """Cut `articles` into at most `procs` contiguous runs of similar text length, in order."""
    if procs <= 1 or len(articles) < 2:
        return [list(articles)]
    weights = [len(a.body) + len(a.title) + 1 for a in articles]
    total = sum(weights)
    runs: list[list[Article]] = [[]]
    acc = 0
    for article, w in zip(articles, weights, strict=True):
        # Start the next run once this one holds its share; never leave a run empty.
        if runs[-1] and acc >= total * len(runs) / procs and len(runs) < procs:
            runs.append([])
        runs[-1].append(article)
        acc += w
    return runs


def _write_in_processes(dirs: list[str], runs: list[list[Article]], limit_mb: int) -> None:
    """Write run 0 here and the others in spawned children, all at once."""
    if multiprocessing.current_process().daemon:
        raise RuntimeError(
            "--shard-procs above 1 needs Dask workers that may start processes: start them "
            "with DASK_DISTRIBUTED__WORKER__DAEMON=False (a local --workers cluster does)"
        )
    # spawn, not fork: a forked child of a Dask worker inherits its threads' locks.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(runs) - 1, mp_context=ctx, initializer=_start_child,
                             initargs=(os.getpid(),)) as pool:
        children = [
            pool.submit(_write_index, d, r, limit_mb)
            for d, r in zip(dirs[1:], runs[1:], strict=True)
        ]
        _write_index(dirs[0], runs[0], limit_mb)
        for child in children:
            child.result()  # raises what the child raised: the task fails and is retried


def _write_index(directory: str, articles: Sequence[Article], limit_mb: int) -> None:
    """Create a Whoosh index in `directory` holding `articles`, in order, in one writer."""
    Path(directory).mkdir()  # not parents: a discarded generation must stay gone
    ix = whoosh_index.create_in(directory, build_schema())
    writer = TermPoolWriter(ix, limitmb=limit_mb)
    _open_every_column(writer, ix.schema)
    try:
        for article in articles:
            writer.add_document(**to_document(article))
    except BaseException:
        writer.cancel()
        raise
    writer.commit()
    ix.close()


def _open_every_column(writer: IndexWriter, schema: Schema) -> None:
    """Give the shard every column of the schema, also one none of its documents fills.

    Whoosh creates a column when a document first fills it, and its
    `MultiReader.column_reader` leaves out segments without the column, so
    every later document would read another's value (a shard of Arabic
    articles has no `section`). An unfilled column holds the field's default,
    which is what a missing value reads as anyway. Private codec calls, pinned
    with the whoosh3 version like those in `pipeline.py`.
    """
    pdw = writer.perdocwriter  # type: ignore[attr-defined]
    for name, field in schema.items():
        if field.column_type and not pdw._has_column(name):
            pdw._create_column(name, field.column_type)


def _extract_piece_report(
    piece: Piece, seen: set[str], articles: list[Article], scheme: Scheme
) -> PieceResult:
    """Extract one piece; keep the first copy of each id (in `seen`) for writing."""
    path = Path(piece.path)
    try:
        st = path.stat()
    except OSError as e:
        why = Skipped(piece.path, f"cannot read: {e.strerror or e}")
        return PieceResult(piece, None, None, why, (), ())
    src = read_source(path)
    if isinstance(src, Skipped):
        return PieceResult(piece, st, None, src, (), ())
    entries: list[Entry] = []
    skipped: list[Skipped] = []
    crashed: list[bool] = []
    for item in _guarded(src, piece, crashed):
        if isinstance(item, Skipped):
            skipped.append(item)
            continue
        first = item.id not in seen
        if first:
            seen.add(item.id)
            articles.append(item)
        fp = fingerprint(item.body, scheme) if first else None
        entries.append(Entry(item.id, article_digest(item), item.published, fp, first))
    return PieceResult(piece, st, src.sha1, None, tuple(entries), tuple(skipped), bool(crashed))


def _guarded(src: SourceFile, piece: Piece, crashed: list[bool]) -> Iterator[Article | Skipped]:
    """Turn extraction failures into skips, exactly as `changes.Applier._extract` does."""
    try:
        yield from _extract_piece(src, piece)
    except ExtractionError as e:
        yield Skipped(src.path, e.reason)
    except Exception as e:  # as in changes.Applier: report the bad file and go on
        log.exception("extractor failed on %s", src.path)
        yield Skipped(src.path, f"extractor error: {type(e).__name__}: {e}")
        crashed.append(True)


def _extract_piece(src: SourceFile, piece: Piece) -> Iterator[Article | Skipped]:
    """Yield the piece's articles and skips, numbered as in the whole file."""
    if piece.whole:
        yield from extract(src.path, src.data, src.kind)
        return
    text = _sliceable_text(src)
    if text is None:  # the whole-file checks refuse it: slice 0 reports that, once
        if piece.start == 0:
            yield from extract(src.path, src.data, src.kind)
        return
    lines = text.splitlines()
    filled = [i for i, line in enumerate(lines) if line.strip()]
    lo = len(filled) * piece.start // piece.parts
    hi = len(filled) * piece.stop // piece.parts
    if lo == hi:
        return
    keep = set(filled[lo:hi])
    masked = "\n".join(line if i in keep else "" for i, line in enumerate(lines))
    yield from extract(src.path, masked.encode("utf-8"), src.kind)


def _sliceable_text(src: SourceFile) -> str | None:
    """Return the decoded text when `extract` would reach its lines, else None."""
    data = src.data
    if len(data) > MAX_BYTES[src.kind] or not data.strip() or has_binary_marks(data):
        return None
    try:
        text = decode_bytes(data)
    except ExtractionError:
        return None
    return text if any(line.strip() for line in text.splitlines()) else None


def _test_fault(step: str) -> None:
    root = os.environ.get(TEST_FAULT_ENV)
    if not root:
        return
    kill = Path(root) / f"kill-{step}"
    try:
        kill.rename(kill.with_suffix(".done"))  # atomic: exactly one attempt dies
    except OSError:
        pass
    else:
        os._exit(70)
    if (Path(root) / f"raise-{step}").exists():
        raise RuntimeError(f"test fault in {step}")
