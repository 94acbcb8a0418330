"""Tune ranking on known items: field weights, BM25F parameters, proximity, recency.

Runs the queries of one seed (tuning used seed 1; the report uses seed 2, so the chosen
numbers are judged on queries they were not chosen on) through Dateline's parser and
`search.ranking`, with the field weights of the parsed query replaced, one parameter at
a time (coordinate ascent from the current defaults), and prints MRR@10 per setting.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from whoosh import query as wq
from whoosh.searching import Searcher

from quality.evaluate import K, Scores
from quality.knownitem import KnownItem
from search import ranking
from search.query import parse_in
from search.schema import ALL_TEXT_FIELDS, TEXT_FIELDS

Weights = dict[str, float]


def reweighted(q: wq.Query, weights: Weights) -> wq.Query:
    """Return `q` with each full-text term boosted by its field kind's weight."""

    def fix(node: wq.Query) -> wq.Query:
        field = getattr(node, "fieldname", None)
        if node.is_leaf() and field in ALL_TEXT_FIELDS:
            node = copy.copy(node)
            node.boost = weights[ALL_TEXT_FIELDS[field][0]]  # type: ignore[attr-defined]
        return node

    return q.accept(fix)


def runner(searcher: Searcher, weights: Weights, rank: ranking.Ranking
           ) -> Callable[[str], list[str]]:
    reader = searcher.reader()

    def run(text: str) -> list[str]:
        pq = parse_in(searcher, text)
        if pq.is_empty:
            return []
        results = ranking.search(searcher, reweighted(pq.query, weights), rank, limit=K)
        return [reader.stored_fields(d)["id"] for _score, d in results.top_n]

    return run


def mrr(run: Callable[[str], list[str]], queries: Iterable[KnownItem]) -> Scores:
    s = Scores()
    for q in queries:
        found = run(q.text)
        s.add(next((i for i, d in enumerate(found, 1) if d in q.relevant), None))
    return s


GRID: dict[str, tuple[float | str | bool, ...]] = {
    "bm25f": (False, True),
    "idf": ("whoosh", "bm25", "bm25-doc"),
    "title": (1.0, 2.0, 3.0, 5.0, 8.0),
    "summary": (0.5, 1.0, 1.5, 3.0),
    "k1": (0.6, 0.9, 1.2, 1.6, 2.0),
    "body_b": (0.3, 0.5, 0.75, 0.9, 1.0),
    "title_b": (0.0, 0.3, 0.5, 0.75),
    "proximity": (0.0, 0.5, 1.0, 2.0, 4.0),
    "slop": (2.0, 4.0, 6.0, 10.0, 20.0),
    "exact": (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5),
}


def ascend(searcher: Searcher, queries: list[KnownItem], rounds: int = 1,
           echo: Callable[[str], None] = print, only: Iterable[str] = ()
           ) -> tuple[Weights, ranking.Ranking]:
    """Coordinate ascent over GRID (or its `only` parameters) from the current defaults;
    return the best setting."""
    grid = {k: v for k, v in GRID.items() if k in set(only)} if only else GRID
    weights: Weights = dict(TEXT_FIELDS)
    rank = ranking.DEFAULT

    def score(w: Weights, r: ranking.Ranking) -> float:
        return mrr(runner(searcher, w, r), queries).mrr()

    best = score(weights, rank)
    echo(f"start: weights {weights}, {rank}: MRR@10 {best:.4f}")
    for _ in range(rounds):
        for name, values in grid.items():
            for v in values:
                w, r = dict(weights), rank
                if name in w:
                    w[name] = float(v)
                else:
                    value: Any = int(v) if name == "slop" else v
                    r = dataclasses.replace(rank, **{name: value})
                if (w, r) == (weights, rank):
                    continue
                m = score(w, r)
                echo(f"  {name}={v}: {m:.4f}")
                if m > best + 1e-4:
                    best, weights, rank = m, w, r
            echo(f"after {name}: {best:.4f} weights {weights} {rank}")
    return weights, rank
