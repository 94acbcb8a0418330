"""A fixed, seeded query set drawn from the corpus, in both engines' syntaxes.

Queries are drawn from the first articles of the seeded corpus order (at most
POOL_SIZE, and never more than the smallest benchmarked size), so every query has at
least one match at every size and the same set is used at every size. Kinds, in the
mix KIND_SHARES: single words of middling frequency, several words of one title,
two-word phrases from a body, rare names (capitalised, in 1-3 articles), very
common words, a word within one source (facet filter) and a word sorted newest first.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from search.analysis import term_for
from search.stopwords import ENGLISH

POOL_SIZE = 5000
KIND_SHARES = {
    "single": 0.20,
    "multi": 0.15,
    "phrase": 0.15,
    "rare": 0.15,
    "common": 0.10,
    "facet": 0.15,
    "newest": 0.10,
}
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class BenchQuery:
    kind: str
    words: tuple[str, ...]
    phrase: bool = False
    source: str | None = None
    sort: str = "relevance"

    @property
    def q(self) -> str:
        """The query in Dateline's language."""
        text = " ".join(self.words)
        return f'"{text}"' if self.phrase else text

    @property
    def fts(self) -> str:
        """The same query as an FTS5 MATCH expression (every word quoted: no operators)."""
        if self.phrase:
            return '"' + " ".join(self.words) + '"'
        return " ".join(f'"{w}"' for w in self.words)

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), q=self.q, fts=self.fts)


@dataclass(frozen=True)
class PoolDoc:
    title: str
    body: str
    source: str | None


def _ok(word: str) -> bool:
    """A word worth searching: 3+ letters, no digits, not a stop word of the engine."""
    w = word.lower()
    if len(w) < 3 or any(c.isdigit() for c in w) or "_" in w or w in ENGLISH:
        return False
    return term_for(w) is not None


def draw(pool: list[PoolDoc], n: int, seed: int) -> list[BenchQuery]:
    """Return `n` queries drawn reproducibly from `pool`."""
    rng = random.Random(seed)
    df: Counter[str] = Counter()
    for d in pool:
        df.update({w.lower() for w in _WORD.findall(f"{d.title} {d.body}") if _ok(w)})
    n_docs = max(1, len(pool))
    by_df = sorted(df, key=lambda w: (-df[w], w))
    common = by_df[:30]
    middling = [w for w in by_df if 0.002 * n_docs <= df[w] <= 0.05 * n_docs and df[w] >= 2]
    middling = middling or by_df[: max(1, len(by_df) // 4)]

    counts = {k: round(share * n) for k, share in KIND_SHARES.items()}
    counts["single"] += n - sum(counts.values())
    out: list[BenchQuery] = []
    for kind, k in counts.items():
        for _ in range(k):
            out.append(_one(kind, rng, pool, df, middling, common))
    rng.shuffle(out)
    return out


def _one(
    kind: str,
    rng: random.Random,
    pool: list[PoolDoc],
    df: Counter[str],
    middling: list[str],
    common: list[str],
) -> BenchQuery:
    if kind == "common":
        return BenchQuery(kind, (rng.choice(common),))
    if kind == "newest":
        return BenchQuery(kind, (rng.choice(middling),), sort="newest")
    if kind == "facet":
        for _ in range(50):
            d = rng.choice(pool)
            words = [w.lower() for w in _WORD.findall(d.body) if w.lower() in df]
            words = [w for w in words if df[w] >= 2 and w not in common]
            if d.source and words:
                return BenchQuery(kind, (rng.choice(words),), source=d.source)
        return BenchQuery("single", (rng.choice(middling),))
    if kind == "multi":
        for _ in range(50):
            d = rng.choice(pool)
            words = list(dict.fromkeys(w.lower() for w in _WORD.findall(d.title) if _ok(w)))
            if len(words) >= 2:
                k = min(len(words), rng.choice((2, 2, 3)))
                return BenchQuery(kind, tuple(rng.sample(words, k)))
        return BenchQuery("single", (rng.choice(middling),))
    if kind == "phrase":
        for _ in range(50):
            d = rng.choice(pool)
            tokens = _WORD.findall(d.body[:3000])
            pairs = [(a, b) for a, b in itertools.pairwise(tokens) if _ok(a) and _ok(b)]
            if pairs:
                a, b = rng.choice(pairs)
                return BenchQuery(kind, (a.lower(), b.lower()), phrase=True)
        return BenchQuery("single", (rng.choice(middling),))
    if kind == "rare":
        for _ in range(200):
            d = rng.choice(pool)
            names = [
                w
                for w in _WORD.findall(d.body)
                if w[:1].isupper() and w[1:].islower() and _ok(w) and df[w.lower()] <= 3
            ]
            if names:
                return BenchQuery(kind, (rng.choice(names),))
        rare = [w for w in df if df[w] <= 3]
        return BenchQuery(kind, (rng.choice(sorted(rare)),))
    return BenchQuery("single", (rng.choice(middling),))


def pool_from_articles(articles: Iterable[Any]) -> list[PoolDoc]:
    return [PoolDoc(a.title, a.body, a.source) for a in articles]
