"""`python -m bench.overshoot`: how long after its deadline a search answers `search_timeout`.

Builds (once, in `--index`, default a temporary folder) a synthetic index of 3,000
articles, each with its own `con...` word, so that with the expansion cap lifted `con*`
expands to thousands of terms: the most expensive search the query language allows
once `MAX_EXPANSIONS` is raised. Each query runs once without a deadline, then three
times under each deadline shorter than that; the overshoot is the time from the
deadline to the SearchTimeout. Synthetic text is fine here: only the cost shape matters.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from search import SearchRequest, limits, search
from search.index import IndexLocation, SearcherPool
from search.models import Article

COMMON = "budget talks oil price minister election vote court market trade".split()
QUERIES = ("con*", "budget OR talks OR oil OR price", "con* budget")
DEADLINES_S = (0.01, 0.1, 0.3, 1.0, 2.0)


def build(root: Path, n: int = 3000) -> None:
    """Write and publish the synthetic index (skipped when `root` already holds one)."""
    loc = IndexLocation(root)
    if loc.current_name() is not None:
        return
    rng = random.Random(1)
    name, path, ix = loc.new_generation()
    w = ix.writer()
    from search.schema import to_document

    for i in range(n):
        word = "con" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(6))
        body = " ".join(rng.choice(COMMON) for _ in range(300)) + f" the {word} was signed"
        a = Article(id=f"d{i}", title=f"Budget {word}", body=body, source=rng.choice(["BBC", "CNN"]))
        w.add_document(**to_document(a))
    w.commit()
    loc.write_manifest(path, {"generation": name, "doc_count": n, "built_at": "bench.overshoot"})
    loc.publish(name)


def measure(root: Path) -> list[str]:
    """Return one line per query: its unbounded time and the overshoots past each deadline."""
    lines = []
    pool = SearcherPool(IndexLocation(root))
    with pool.searcher() as (s, _):
        for q in QUERIES:
            with limits.budget(max_expansions=10**6, deadline_s=None):
                t = time.perf_counter()
                total = search(s, SearchRequest(q=q)).total
                full = time.perf_counter() - t
            over: list[float] = []
            tries = 0
            for deadline in (d for d in DEADLINES_S if d < full):
                for _ in range(3):
                    tries += 1
                    t = time.perf_counter()
                    try:
                        with limits.budget(max_expansions=10**6, deadline_s=deadline):
                            search(s, SearchRequest(q=q))
                    except limits.SearchTimeout:
                        over.append(time.perf_counter() - t - deadline)
            med = f"{statistics.median(over) * 1000:.1f}" if over else "-"
            top = f"{max(over) * 1000:.1f}" if over else "-"
            lines.append(f"{q!r:36} {total:5} matches, unbounded {full * 1000:8.1f} ms; "
                         f"overshoot median {med} ms, max {top} ms ({len(over)} of {tries} timed out)")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.overshoot", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index", type=Path, default=None, help="index folder (kept; default temp)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dateline-overshoot-") as tmp:
        root = args.index or Path(tmp)
        build(root)
        for line in measure(root):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
