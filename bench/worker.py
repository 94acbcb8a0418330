"""Child-process tasks, one per engine and phase: `python -m bench.worker TASK IN OUT`.

Each measurement runs in a fresh interpreter so the parent can read its own peak RSS and
CPU time (os.wait4) and memory never leaks between engines or sizes. IN and OUT are JSON
files. Timers wrap the real entry points; nothing in search/ or indexer/ is edited.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import resource
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

clock = time.perf_counter


def cpu_time() -> float:
    """CPU seconds of this process and its waited-for children (user + system)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def dir_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


@contextmanager
def profiled(out: str | None) -> Iterator[None]:
    """Run the block under cProfile when `out` names a .prof file (plus a text summary)."""
    if not out:
        yield
        return
    prof = cProfile.Profile()
    prof.enable()
    try:
        yield
    finally:
        prof.disable()
        prof.dump_stats(out)
        text = io.StringIO()
        stats = pstats.Stats(prof, stream=text)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(45)
        Path(out).with_suffix(".txt").write_text(text.getvalue(), encoding="utf-8")


class Stopwatch:
    """Accumulates time spent inside wrapped calls, by name."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += clock() - t
                self.calls[name] += 1

        return timed

    def wrap_iter(
        self, name: str, make: Callable[..., Iterator[Any]]
    ) -> Callable[..., Iterator[Any]]:
        """Time each next() of the iterators `make` returns (the work done to yield an item)."""

        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            it = make(*args, **kwargs)
            while True:
                t = clock()
                try:
                    item = next(it)
                except StopIteration:
                    self.seconds[name] += clock() - t
                    return
                self.seconds[name] += clock() - t
                self.calls[name] += 1
                yield item

        return timed


def _instrument(sw: Stopwatch) -> list[Any]:
    """Wrap the indexer's stable seams with timers, before anything imports them by name.

    In the job process: `open_source` (hash, check, and for whole files read and
    gunzip), `source_items` (extraction, timed per yielded article, including the
    streamed reading of JSON Lines), `to_document`, and the writer's `add_document`
    and `commit`. With worker processes (`indexer.pipeline.ParallelWriter`) the job's
    `add_document` only hands documents over (it waits when the workers are behind),
    so indexing is what the workers report: their busy seconds, summed. Returns the
    list the opened writers are appended to. Call before importing indexer.jobs.
    """
    import whoosh.index

    import indexer.extract
    import indexer.pipeline
    import indexer.sources
    import search.schema

    indexer.sources.open_source = sw.wrap("read", indexer.sources.open_source)  # type: ignore[assignment]
    search.schema.to_document = sw.wrap("to_document", search.schema.to_document)  # type: ignore[assignment]
    import indexer.changes

    indexer.changes.source_items = sw.wrap_iter("extract", indexer.changes.source_items)  # type: ignore[assignment]
    import indexer.extractpool

    # Pages extracted ahead in other processes: their extraction time, as they report it.
    take = indexer.extractpool.ExtractAhead.take

    def taken(self: Any, path: str) -> Any:
        got = take(self, path)
        if got is not None:
            sw.seconds["extract_ahead"] += got.seconds
        return got

    indexer.extractpool.ExtractAhead.take = taken  # type: ignore[method-assign]
    writers: list[Any] = []
    make_writer = whoosh.index.FileIndex.writer
    open_writer = indexer.pipeline.open_writer

    def writer(self: Any, *args: Any, **kwargs: Any) -> Any:
        w = make_writer(self, *args, **kwargs)
        w.add_document = sw.wrap("add_document", w.add_document)  # type: ignore[method-assign]
        w.commit = sw.wrap("commit", w.commit)  # type: ignore[method-assign]
        return w

    def opened(*args: Any, **kwargs: Any) -> Any:
        w = open_writer(*args, **kwargs)
        writers.append(w)
        if isinstance(w, indexer.pipeline.ParallelWriter):
            w.add_document = sw.wrap("handoff", w.add_document)  # type: ignore[method-assign]
            w.commit = sw.wrap("commit", w.commit)  # type: ignore[method-assign]
        return w

    whoosh.index.FileIndex.writer = writer  # type: ignore[method-assign]
    indexer.pipeline.open_writer = opened  # type: ignore[assignment]
    return writers


def _breakdown(sw: Stopwatch, wall: float) -> dict[str, float]:
    s = sw.seconds
    parts: dict[str, float] = {
        f"{k}_s": s[k]
        for k in ("read", "extract", "to_document", "add_document", "handoff", "commit")
    }
    parts["other_s"] = max(0.0, wall - sum(parts.values()))
    # Not part of the job's wall time: other processes extracted these pages meanwhile.
    parts["extract_ahead_s"] = s["extract_ahead"]
    return parts


def _workers(writers: list[Any]) -> dict[str, Any]:
    """What the index worker processes reported (none: the job indexed in-process)."""
    stats = [st for w in writers for st in getattr(w, "stats", ())]
    return {
        "index_workers": len(stats),
        "workers_busy_s": sum(st.busy_s for st in stats),
        "workers_cpu_s": sum(st.cpu_s for st in stats),
        "workers_docs": sum(st.docs for st in stats),
        "workers_peak_rss_bytes": [st.peak_rss_bytes for st in stats],
    }


def dateline_build(args: dict[str, Any]) -> dict[str, Any]:
    """`indexer.jobs.build(sources, index_dir)` end to end, with its stages timed.

    extract_only_s: reading and extracting, in the job process and (pages extracted
    ahead, indexer/extractpool.py) in other processes. index_only_s: building the
    documents and indexing them, as one process would: `to_document` plus, with
    worker processes, their busy seconds summed (the job's hand-over and commit waits
    are not counted: they are the job waiting for that same work), else the writer's
    own `add_document` and `commit`.
    """
    sw = Stopwatch()
    writers = _instrument(sw)
    import indexer.jobs as jobs
    from search.index import IndexLocation

    t0, c0 = clock(), cpu_time()
    with profiled(args.get("profile")):
        report = jobs.build([Path(s) for s in args["sources"]], args["index_dir"])
    wall, cpu = clock() - t0, cpu_time() - c0
    gen = IndexLocation(args["index_dir"]).current()
    parts = _breakdown(sw, wall)
    workers = _workers(writers)
    indexed = getattr(report, "doc_count", None)
    if indexed is None:
        indexed = report.indexed
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "indexed": indexed,
        "duplicates": report.duplicates,
        "skipped": len(report.skipped),
        "files": report.files,
        **parts,
        **workers,
        "extract_only_s": parts["read_s"] + parts["extract_s"] + parts["extract_ahead_s"],
        "index_only_s": parts["to_document_s"]
        + (
            workers["workers_busy_s"]
            if workers["index_workers"]
            else parts["add_document_s"] + parts["commit_s"]
        ),
        "index_bytes": dir_bytes(gen.path),
        "writer_limitmb": getattr(jobs, "WRITER_LIMIT_MB", None),
    }


def dateline_merge(args: dict[str, Any]) -> dict[str, Any]:
    """`indexer.jobs.update(None, index_dir, merge=True)` on the built index: one segment."""
    import indexer.jobs as jobs
    from search.index import IndexLocation

    location = IndexLocation(args["index_dir"])
    before = jobs.segment_count(location.current().path)
    t0, c0 = clock(), cpu_time()
    report = jobs.update(None, args["index_dir"], merge=True)
    wall, cpu = clock() - t0, cpu_time() - c0
    gen = location.current()
    return {
        "outcome": report.outcome,
        "wall_s": wall,
        "cpu_s": cpu,
        "indexed": report.doc_count,
        "segments_before": before,
        "segments_after": jobs.segment_count(gen.path),
        "index_bytes": dir_bytes(gen.path),
    }


def articles(sources: list[str], skipped: list[Any]) -> Iterator[Any]:
    """The indexer's article stream (walk, read, extract; first of a duplicate id wins)."""
    from indexer.changes import source_items
    from indexer.extract import ExtractionError, Skipped
    from indexer.sources import iter_paths, open_source

    seen: set[str] = set()
    for path in iter_paths(sources):
        src = open_source(path)
        if isinstance(src, Skipped):
            skipped.append(src)
            continue
        try:
            for item in source_items(src):
                if isinstance(item, Skipped):
                    skipped.append(item)
                elif item.id not in seen:
                    seen.add(item.id)
                    yield item
        except ExtractionError as e:
            skipped.append(e)


def fts5_build(args: dict[str, Any]) -> dict[str, Any]:
    """Our extraction of the same files, streamed into SQLite FTS5."""
    sw = Stopwatch()
    _instrument(sw)
    from bench import fts5

    db = Path(args["db_path"])
    skipped: list[Any] = []
    t0, c0 = clock(), cpu_time()
    with profiled(args.get("profile")):
        times = fts5.build(db, articles(args["sources"], skipped), clock)
    wall, cpu = clock() - t0, cpu_time() - c0
    extract_s = sw.seconds["read"] + sw.seconds["extract"]
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "indexed": times.indexed,
        "duplicates": times.duplicates,
        "skipped": len(skipped),
        "read_s": sw.seconds["read"],
        "extract_s": sw.seconds["extract"],
        "extract_only_s": extract_s,
        "insert_s": times.insert_s - extract_s,  # the article stream is pulled inside insert
        "optimize_s": times.optimize_s,
        "index_only_s": times.insert_s - extract_s + times.optimize_s,
        "index_bytes": dir_bytes(db),
    }


def _passes(variants: list[str], rounds: int) -> list[tuple[int, str]]:
    # Variants interleaved round by round, so drift on a noisy machine hits them alike.
    return [(r, v) for r in range(rounds) for v in variants]


Laps = dict[str, list[list[float]]]


def timed_passes(
    variants: list[str],
    rounds: int,
    count: int,
    prepare: Callable[[str], Callable[[int], object]],
    profile: str | None = None,
    reset: Callable[[], object] = lambda: None,
) -> tuple[Laps, Laps]:
    """Time `count` queries per pass, every variant in every round; return (wall, CPU) ms.

    `prepare(variant)` switches the engine to a variant and returns the function that
    runs query i once (an engine's own query errors are its to swallow); `reset` runs
    before each query, untimed. One loop for every engine, so each is timed alike.
    """
    times: Laps = {v: [] for v in variants}
    cpu: Laps = {v: [] for v in variants}
    with profiled(profile):
        for _r, variant in _passes(variants, rounds):
            run = prepare(variant)
            lap, cpu_lap = [], []
            for i in range(count):
                reset()
                t, c = clock(), time.process_time()
                run(i)
                lap.append((clock() - t) * 1000)
                cpu_lap.append((time.process_time() - c) * 1000)
            times[variant].append(lap)
            cpu[variant].append(cpu_lap)
    return times, cpu


def dateline_query(args: dict[str, Any]) -> dict[str, Any]:
    """Time `search.engine.search` over the query set with one reused searcher, uncached.

    Variants: full (as the app runs it), no_snippets (snippet and highlight_all stubbed),
    no_facets (count_column stubbed: the facet sets are still intersected, not counted),
    bare (both stubbed).
    """
    from markupsafe import Markup

    import search.engine as engine
    from bench.queries import BenchQuery
    from search.errors import SearchError
    from search.index import IndexLocation, open_whoosh
    from search.models import Filters, SearchRequest

    def empty_markup(*args: Any, **kwargs: Any) -> Markup:
        return Markup("")

    def no_counts(*args: Any, **kwargs: Any) -> Counter[str]:
        return Counter()

    stubs: dict[str, dict[str, Callable[..., Any]]] = {
        "snippets": {"snippet": empty_markup, "highlight_all": empty_markup},
        "facets": {"count_column": no_counts, "count_terms": no_counts},
    }
    original = {
        name: getattr(engine, name)
        for group in stubs.values()
        for name in group
        if hasattr(engine, name)
    }
    applied: dict[str, list[str]] = {}

    def use(variant: str) -> None:
        for name, fn in original.items():
            setattr(engine, name, fn)
        off = {
            "no_snippets": ["snippets"],
            "no_facets": ["facets"],
            "bare": ["snippets", "facets"],
        }.get(variant, [])
        for group in off:
            for name, stub in stubs[group].items():
                if name in original:
                    setattr(engine, name, stub)
                    applied.setdefault(variant, []).append(name)

    def forget() -> None:
        """Drop the per-request caches (matching sets, facet counts, phrase sets, postings, term lookups).

        The timed passes repeat the query set, so a cached repeat would be measured
        otherwise. What stays warm is what a serving process keeps warm from its first
        requests: column arrays, field lengths and filter sets (one per source or date
        range, search/docsets.py `FILTERS`).
        """
        docsets = getattr(engine, "docsets", None)
        for cache in ("RESULTS", "POSTINGS"):
            if hasattr(docsets, cache):
                getattr(docsets, cache).clear()
        # Term lookups too (search/termmemo.py): the set repeats, a server sees new words.
        termmemo = getattr(engine, "termmemo", None)
        if termmemo is not None:
            termmemo.forget_terms(searcher.reader())

    queries = [BenchQuery(**q) for q in args["queries"]]
    requests = [
        SearchRequest(
            q=bq.q,
            filters=Filters(sources=(bq.source,)) if bq.source else Filters(),
            sort=bq.sort,
            page_size=args["page_size"],
        )
        for bq in queries
    ]
    t0 = clock()
    gen = IndexLocation(args["index_dir"]).current()
    ix = open_whoosh(gen)
    searcher = ix.searcher()
    open_ms = (clock() - t0) * 1000
    use("full")
    t = clock()
    first = engine.search(searcher, requests[0])
    first_ms = (clock() - t) * 1000
    totals: list[int | None] = []
    errors = 0
    for req in requests:  # warm-up, and the totals for the sanity check
        try:
            totals.append(engine.search(searcher, req).total)
        except SearchError:
            totals.append(None)
            errors += 1
    del first

    def one(i: int) -> None:
        try:
            engine.search(searcher, requests[i])
        except SearchError:
            pass

    def prepare(variant: str) -> Callable[[int], None]:
        use(variant)
        return one

    # Every timed search is uncached (see `forget`).
    times, cpu = timed_passes(
        args["variants"], args["rounds"], len(requests), prepare, args.get("profile"), forget
    )
    use("full")
    searcher.close()
    return {
        "open_ms": open_ms,
        "first_query_ms": first_ms,
        "totals": totals,
        "errors": errors,
        "times_ms": times,
        "cpu_ms": cpu,
        "stubbed": {v: sorted(set(n)) for v, n in applied.items()},
    }


def fts5_query(args: dict[str, Any]) -> dict[str, Any]:
    """Time the FTS5 equivalent of a Dateline search over the same query set."""
    import sqlite3

    from bench import fts5
    from bench.queries import BenchQuery

    queries = [BenchQuery(**q) for q in args["queries"]]
    flags = {
        "full": (True, True),
        "no_snippets": (False, True),
        "no_facets": (True, False),
        "bare": (False, False),
    }
    t0 = clock()
    s = fts5.Searcher(Path(args["db_path"]))
    open_ms = (clock() - t0) * 1000
    size = args["page_size"]
    t = clock()
    s.search(queries[0], page_size=size)
    first_ms = (clock() - t) * 1000
    totals: list[int | None] = []
    errors = 0
    for bq in queries:
        try:
            totals.append(s.search(bq, page_size=size)["total"])
        except sqlite3.Error:
            totals.append(None)
            errors += 1

    def prepare(variant: str) -> Callable[[int], None]:
        snippets, facets = flags[variant]

        def run(i: int) -> None:
            try:
                s.search(queries[i], page_size=size, snippets=snippets, facets=facets)
            except sqlite3.Error:
                pass

        return run

    times, cpu = timed_passes(
        args["variants"], args["rounds"], len(queries), prepare, args.get("profile")
    )
    s.close()
    return {
        "open_ms": open_ms,
        "first_query_ms": first_ms,
        "totals": totals,
        "errors": errors,
        "times_ms": times,
        "cpu_ms": cpu,
    }


TASKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "dateline-build": dateline_build,
    "dateline-merge": dateline_merge,
    "fts5-build": fts5_build,
    "dateline-query": dateline_query,
    "fts5-query": fts5_query,
}


def peak_rss_self() -> int | None:
    """This process's own high-water RSS in bytes (VmHWM), or None off Linux.

    Not ru_maxrss: across fork + exec Linux carries the parent's high-water mark into
    the child's ru_maxrss, so a child of a large parent would report the parent's size.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def main(argv: list[str]) -> int:
    task, src, dst = argv
    args = json.loads(Path(src).read_text(encoding="utf-8"))
    result = TASKS[task](args)
    result["vm_hwm_bytes"] = peak_rss_self()
    Path(dst).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
