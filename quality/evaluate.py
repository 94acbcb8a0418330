"""Run known-item queries through every engine and score them: MRR@10, success@1/@10."""

from __future__ import annotations

import dataclasses
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from quality.knownitem import Doc, KnownItem
from search import SearcherPool, SearchRequest, search
from search.index import IndexLocation

K = 10
# Known items drawn per collection (all documents when a collection has fewer).
TARGETS = {"reuters21578": 300, "news9": 300, "saudinewsnet": 400, "fundus-dev": 1000}

Engine = Callable[[str], list[str]]


@dataclass
class Scores:
    """Reciprocal ranks of one engine's answers, one per query."""

    ranks: list[int | None] = field(default_factory=list)  # 1-based rank, None if not in top K
    seconds: float = 0.0

    def add(self, rank: int | None) -> None:
        self.ranks.append(rank)

    @property
    def n(self) -> int:
        return len(self.ranks)

    def mrr(self) -> float:
        return sum(1 / r for r in self.ranks if r) / self.n if self.n else 0.0

    def success(self, k: int) -> float:
        return sum(1 for r in self.ranks if r and r <= k) / self.n if self.n else 0.0


def docs_of(index_dir: Path) -> Iterator[Doc]:
    """Yield every indexed article as the baselines will index it."""
    pool = SearcherPool(IndexLocation(index_dir))
    with pool.searcher() as (s, _gen):
        for fields in s.reader().all_stored_fields():
            path = str(fields.get("path") or "")
            yield Doc(
                id=fields["id"],
                title=fields.get("title") or "",
                summary=fields.get("summary") or "",
                body=fields.get("body") or "",
                language=fields.get("language") or "und",
                collection=Path(path.rsplit(":", 1)[0]).stem or "?",
            )
    pool.close()


def targets(docs: list[Doc], seed: int, per: dict[str, int] | None = None) -> list[Doc]:
    """Pick the known items: a seeded sample of each collection."""
    rng = random.Random(seed)
    by: dict[str, list[Doc]] = defaultdict(list)
    for d in docs:
        by[d.collection].append(d)
    out = []
    for name in sorted(by):
        group = sorted(by[name], key=lambda d: d.id)
        size = (per or TARGETS).get(name, 200)
        out.extend(group if size >= len(group) else rng.sample(group, size))
    return out


def dateline(pool: SearcherPool) -> Engine:
    """Dateline exactly as the page and API call it (relevance, first page of 10)."""

    def run(text: str) -> list[str]:
        with pool.searcher() as (s, _gen):
            result = search(s, SearchRequest(q=text, page_size=K, facets=False))
        return [h.id for h in result.hits]

    return run


MIN_LANGUAGE = 10  # languages with fewer queries are reported together as "other"


def evaluate(engines: dict[str, Engine], queries: Iterable[KnownItem]
             ) -> dict[tuple[str, str, str], Scores]:
    """Return scores keyed by (engine, kind, language); kind/language "all" aggregate."""
    table: dict[tuple[str, str, str], Scores] = defaultdict(Scores)
    qs = list(queries)
    sizes = Counter(q.language for q in qs)
    qs = [q if sizes[q.language] >= MIN_LANGUAGE else dataclasses.replace(q, language="other")
          for q in qs]
    for name, engine in engines.items():
        for q in qs:
            t0 = time.perf_counter()
            found = engine(q.text)
            took = time.perf_counter() - t0
            rank = next((i for i, d in enumerate(found[:K], 1) if d in q.relevant), None)
            for key in ((name, q.kind, q.language), (name, q.kind, "all"),
                        (name, "all", q.language), (name, "all", "all")):
                table[key].add(rank)
                table[key].seconds += took
    return table
