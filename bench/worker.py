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


def _instrument(sw: Stopwatch) -> None:
    """Wrap the indexer's stable seams with timers, before anything imports them by name.

    read_source (file bytes, gunzip), extract (bytes -> articles, timed per yielded
    article), to_document, and the add_document/commit of whatever writer
    `FileIndex.writer` returns. Call before importing indexer.jobs.
    """
    import whoosh.index

    import indexer.extract
    import indexer.sources
    import search.schema

    indexer.sources.read_source = sw.wrap("read", indexer.sources.read_source)  # type: ignore[assignment]
    indexer.extract.extract = sw.wrap_iter("extract", indexer.extract.extract)  # type: ignore[assignment]
    search.schema.to_document = sw.wrap("to_document", search.schema.to_document)  # type: ignore[assignment]
    make_writer = whoosh.index.FileIndex.writer

    def writer(self: Any, *args: Any, **kwargs: Any) -> Any:
        w = make_writer(self, *args, **kwargs)
        w.add_document = sw.wrap("add_document", w.add_document)  # type: ignore[method-assign]
        w.commit = sw.wrap("commit", w.commit)  # type: ignore[method-assign]
        return w

    whoosh.index.FileIndex.writer = writer  # type: ignore[method-assign]


def _breakdown(sw: Stopwatch, wall: float) -> dict[str, float]:
    s = sw.seconds
    parts: dict[str, float] = {
        f"{k}_s": s[k] for k in ("read", "extract", "to_document", "add_document", "commit")
    }
    parts["other_s"] = max(0.0, wall - sum(parts.values()))
    return parts


def dateline_build(args: dict[str, Any]) -> dict[str, Any]:
    """`indexer.jobs.build(sources, index_dir)` end to end, with its stages timed."""
    sw = Stopwatch()
    _instrument(sw)
    import indexer.jobs as jobs
    from search.index import IndexLocation

    t0, c0 = clock(), cpu_time()
    with profiled(args.get("profile")):
        report = jobs.build([Path(s) for s in args["sources"]], args["index_dir"])
    wall, cpu = clock() - t0, cpu_time() - c0
    gen = IndexLocation(args["index_dir"]).current()
    parts = _breakdown(sw, wall)
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
        "extract_only_s": parts["read_s"] + parts["extract_s"],
        "index_only_s": parts["to_document_s"] + parts["add_document_s"] + parts["commit_s"],
        "index_bytes": dir_bytes(gen.path),
        "writer_limitmb": getattr(jobs, "WRITER_LIMIT_MB", None),
    }


def articles(sources: list[str], skipped: list[Any]) -> Iterator[Any]:
    """The indexer's article stream (walk, read, extract; first of a duplicate id wins)."""
    from indexer.extract import ExtractionError, Skipped, extract
    from indexer.sources import iter_paths, read_source

    seen: set[str] = set()
    for path in iter_paths(sources):
        src = read_source(path)
        if isinstance(src, Skipped):
            skipped.append(src)
            continue
        try:
            for item in extract(src.path, src.data, src.kind):
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
        """Drop the per-request caches (matching sets, facet counts, phrase sets, postings).

        The timed passes repeat the query set, so a cached repeat would be measured
        otherwise. What stays warm is what a serving process keeps warm from its first
        requests: column arrays, field lengths and filter sets (one per source or date
        range, search/docsets.py `FILTERS`).
        """
        docsets = getattr(engine, "docsets", None)
        for cache in ("RESULTS", "POSTINGS"):
            if hasattr(docsets, cache):
                getattr(docsets, cache).clear()

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
    times: dict[str, list[list[float]]] = {v: [] for v in args["variants"]}
    cpu: dict[str, list[list[float]]] = {v: [] for v in args["variants"]}
    with profiled(args.get("profile")):
        for _r, variant in _passes(args["variants"], args["rounds"]):
            use(variant)
            lap, cpu_lap = [], []
            for req in requests:
                forget()  # every timed search is uncached (see `forget`)
                t, c = clock(), time.process_time()
                try:
                    engine.search(searcher, req)
                except SearchError:
                    pass
                lap.append((clock() - t) * 1000)
                cpu_lap.append((time.process_time() - c) * 1000)
            times[variant].append(lap)
            cpu[variant].append(cpu_lap)
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
    times: dict[str, list[list[float]]] = {v: [] for v in args["variants"]}
    cpu: dict[str, list[list[float]]] = {v: [] for v in args["variants"]}
    with profiled(args.get("profile")):
        for _r, variant in _passes(args["variants"], args["rounds"]):
            snippets, facets = flags[variant]
            lap, cpu_lap = [], []
            for bq in queries:
                t, c = clock(), time.process_time()
                try:
                    s.search(bq, page_size=size, snippets=snippets, facets=facets)
                except sqlite3.Error:
                    pass
                lap.append((clock() - t) * 1000)
                cpu_lap.append((time.process_time() - c) * 1000)
            times[variant].append(lap)
            cpu[variant].append(cpu_lap)
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
