"""Measure story clustering on real news: precision, recall, false merges, speed.

    python -m indexer.story_eval [--data ../shared/data] [--seed 1] [--originals 600]
                                 [--pool N] [--thresholds 0.5,0.6,...] [--throughput 3000]

The labelled set is `indexer.story_pairs`'s. Clustering runs over every
collection article (or, with --pool, only those the labelled pairs need), so
versions can also join a wrong story: such "stray" merges are counted as false
merges too. A pair is predicted "same story" when both articles have the same
`story_of`. Precision and recall are over all labelled pairs; the false-merge
rate is over the negatives alone, which does not depend on the mix.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import click

from indexer.story_pairs import (
    CLEAR_NEGATIVE,
    COLLECTIONS,
    DEFAULT_DATA,
    Doc,
    EvalSet,
    build_eval_set,
    exact_overlap,
    load_collection,
)
from search.fingerprint import DEFAULT_SCHEME, Fingerprint, Scheme, fingerprint
from search.stories import DEFAULT_PARAMS, StoryIndex, StoryParams


def story_text(doc: Doc) -> str:
    """Return what is fingerprinted for an article (its body)."""
    return doc.body


@dataclass(frozen=True)
class Scores:
    params: StoryParams
    counts: dict[str, tuple[int, int]]  # category -> (pairs, merged)
    stray: int  # versions merged with an unrelated article (exact overlap < 0.3)
    tp: int
    fn: int
    fp: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def false_merge_rate(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "threshold": self.params.threshold,
            "measure": self.params.measure,
            "window_days": self.params.window_days,
            "min_shingles": self.params.min_shingles,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "false_merge_rate": round(self.false_merge_rate, 4),
            "stray_merges": self.stray,
            "tp": self.tp,
            "fn": self.fn,
            "fp": self.fp,
            "tn": self.tn,
            "by_category": {k: {"pairs": n, "merged": m} for k, (n, m) in self.counts.items()},
        }


def fingerprints(es: EvalSet, scheme: Scheme = DEFAULT_SCHEME) -> dict[str, Fingerprint]:
    """Fingerprint every document of the set."""
    return {i: fingerprint(story_text(d), scheme) for i, d in es.docs.items()}


def score(es: EvalSet, fps: dict[str, Fingerprint], params: StoryParams) -> Scores:
    """Cluster the set's documents with `params` and score the labelled pairs."""
    index = StoryIndex.build(((i, d.published, fps[i]) for i, d in es.docs.items()), params)
    story = index.assignments()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    tp = fn = fp = tn = 0
    for p in es.pairs:
        merged = story[p.a] == story[p.b]
        keys = [p.kind] + [f"{p.kind}:{e}" for e in p.edits]
        for k in keys:
            counts[k][0] += 1
            counts[k][1] += merged
        if p.positive:
            tp, fn = tp + merged, fn + (not merged)
        else:
            fp, tn = fp + merged, tn + (not merged)
    stray = _stray_merges(es, index)
    return Scores(
        params, {k: (n, m) for k, (n, m) in sorted(counts.items())}, stray, tp, fn, fp + stray, tn
    )


def _stray_merges(es: EvalSet, index: StoryIndex) -> int:
    """Count (version, other article) merges where the other is no reprint of its original."""
    stray = 0
    for vid, origin in es.versions.items():
        family = {origin} | {v for v, o in es.versions.items() if o == origin}
        for other in index.members(index.story_of(vid)):
            if other in family:
                continue
            base = es.versions.get(other, other)
            if exact_overlap(es.docs[origin].body, es.docs[base].body) < CLEAR_NEGATIVE:
                stray += 1
    return stray


def sweep(es: EvalSet, fps: dict[str, Fingerprint], grid: Iterable[StoryParams]) -> list[Scores]:
    return [score(es, fps, p) for p in grid]


def throughput(docs: list[Doc], params: StoryParams) -> dict[str, float]:
    """Index `docs` into a scratch Whoosh index with and without story clustering (docs/s)."""
    from whoosh import index as whoosh_index

    from search.models import Article
    from search.schema import build_schema, to_document

    articles = [
        Article(
            id=d.id,
            title=d.title,
            body=d.body,
            published=d.published,
            language=d.language,
            section=d.section,
            source=d.collection,
        )
        for d in docs
    ]
    out: dict[str, float] = {}
    # "warm-up" fills the analyzer's caches, so neither timed run pays for a cold start.
    for mode in ("warm-up", "off", "on"):
        with tempfile.TemporaryDirectory() as tmp:
            ix = whoosh_index.create_in(tmp, build_schema())
            stories = StoryIndex(params)
            t0 = time.process_time()
            writer = ix.writer(limitmb=256)
            for a in articles:
                if mode != "off":
                    stories.add(a.id, a.published, fingerprint(a.body, params.scheme))
                writer.add_document(**to_document(a))
            writer.commit()
            if mode == "on":
                stories.save(tmp)
            out[mode] = len(articles) / (time.process_time() - t0)
    del out["warm-up"]
    t0 = time.process_time()
    fps = [fingerprint(d.body, params.scheme) for d in docs]
    out["fingerprint_only"] = len(docs) / (time.process_time() - t0)
    t0 = time.process_time()
    StoryIndex.build(((d.id, d.published, f) for d, f in zip(docs, fps, strict=True)), params)
    out["story_index_only"] = len(docs) / (time.process_time() - t0)
    out["on_over_off"] = out["on"] / out["off"]
    return out


def _grid(
    thresholds: list[float],
    measures: list[str],
    windows: list[int | None],
    min_shingles: list[int],
    base: StoryParams,
) -> list[StoryParams]:
    return [
        replace(base, threshold=t, measure=m, window_days=w, min_shingles=s)
        for m in measures
        for w in windows
        for s in min_shingles
        for t in thresholds
    ]


@click.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA,
    show_default=True,
    help="The shared data folder.",
)
@click.option("--seed", default=1, show_default=True)
@click.option(
    "--originals",
    default=600,
    show_default=True,
    help="Real articles to make reprints of (a third from each collection).",
)
@click.option("--negatives", default=600, show_default=True)
@click.option(
    "--pool",
    type=int,
    default=None,
    help="Quick run: draw from N articles per collection, cluster only what pairs need.",
)
@click.option("--thresholds", default="0.7,0.75,0.8,0.85,0.9", show_default=True)
@click.option("--measures", default="overlap,jaccard", show_default=True)
@click.option("--windows", default="7,none", show_default=True, help="Link windows in days.")
@click.option("--min-shingles", default="15", show_default=True)
@click.option("--shingle", default=3, show_default=True, help="Shingle length in terms.")
@click.option("--bins", default=128, show_default=True, help="MinHash bins.")
@click.option("--rows", default=DEFAULT_PARAMS.rows, show_default=True, help="LSH rows per band.")
@click.option("--max-bands", default=DEFAULT_PARAMS.max_bands, show_default=True)
@click.option("--throughput", "tp_docs", default=0, help="Also time indexing of N articles.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write all scores.")
def main(
    data_dir: Path,
    seed: int,
    originals: int,
    negatives: int,
    pool: int | None,
    thresholds: str,
    measures: str,
    windows: str,
    min_shingles: str,
    shingle: int,
    bins: int,
    rows: int,
    max_bands: int,
    tp_docs: int,
    json_path: str | None,
) -> None:
    """Score story clustering over thresholds on the labelled set."""
    t0 = time.perf_counter()
    es = build_eval_set(data_dir, seed=seed, originals=originals, negatives=negatives, pool=pool)
    kinds = Counter(p.kind for p in es.pairs)
    click.echo(
        f"{len(es.docs):,} articles, pairs: {dict(kinds)} "
        f"(built in {time.perf_counter() - t0:.1f} s)",
        err=True,
    )
    base = replace(DEFAULT_PARAMS, scheme=Scheme(shingle, bins), rows=rows, max_bands=max_bands)
    t0 = time.process_time()
    fps = fingerprints(es, base.scheme)
    fp_rate = len(fps) / (time.process_time() - t0)
    click.echo(f"fingerprints: {fp_rate:,.0f} articles/s (CPU time)", err=True)
    grid = _grid(
        [float(x) for x in thresholds.split(",")],
        measures.split(","),
        [None if w == "none" else int(w) for w in windows.split(",")],
        [int(x) for x in min_shingles.split(",")],
        base,
    )
    results = []
    click.echo(
        f"{'measure':8} {'window':>6} {'minS':>4} {'thr':>5} {'P':>7} {'R':>7} {'falseM':>7} "
        f"{'stray':>5} {'synth':>7} {'realS':>7} {'realD':>5} {'topic':>5} {'rare':>5}"
    )
    for s in sweep(es, fps, grid):
        c = s.counts

        def rate(k: str, c: dict[str, tuple[int, int]] = c) -> str:
            n, m = c.get(k, (0, 0))
            return f"{m / n:.3f}" if n else "-"

        def hits(k: str, c: dict[str, tuple[int, int]] = c) -> str:
            return str(c.get(k, (0, 0))[1])

        p = s.params
        click.echo(
            f"{p.measure:8} {p.window_days or '-':>6} "
            f"{p.min_shingles:4d} {p.threshold:5.2f} "
            f"{s.precision:7.4f} {s.recall:7.4f} {s.false_merge_rate:7.4f} {s.stray:5d} "
            f"{rate('synthetic'):>7} {rate('real-same'):>7} {hits('real-different'):>5} "
            f"{hits('same-topic-day'):>5} {hits('rare-words'):>5}"
        )
        results.append(s.to_dict())
    report: dict[str, object] = {
        "seed": seed,
        "articles": len(es.docs),
        "pairs": dict(kinds),
        "fingerprints_per_s": round(fp_rate),
        "scores": results,
    }
    if tp_docs:
        # Every k-th article of each collection, a third of them from each.
        docs = []
        for name in COLLECTIONS:
            col = load_collection(data_dir, name)
            docs += col[:: max(1, len(col) // (tp_docs // len(COLLECTIONS)))][: tp_docs // 3]
        report["throughput"] = {k: round(v, 3) for k, v in throughput(docs, DEFAULT_PARAMS).items()}
        click.echo(f"throughput over {len(docs):,} articles: {report['throughput']}")
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
