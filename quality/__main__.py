"""`python -m quality`: the known-item relevance evaluation (see quality/README.md)."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import click

from quality import knownitem, report, sample
from quality.evaluate import TARGETS, dateline, docs_of, evaluate, targets
from search import SearcherPool
from search.index import IndexLocation
from search.schema import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"reuters21578": 1500, "news9": 800, "saudinewsnet": 1500}


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _analysis_hash() -> str:
    """Fingerprint the code that decides index terms, so a changed analysis re-indexes."""
    digest = hashlib.sha1()
    for name in ("analysis", "arabic", "languages", "stoplists", "stopwords", "schema"):
        digest.update((ROOT / "search" / f"{name}.py").read_bytes())
    return digest.hexdigest()[:12]


def build(data: Path, work: Path, seed: int, small: bool) -> dict[str, object]:
    """Sample, write JSON Lines and index them with the real indexer (reused when current)."""
    from indexer.jobs import build as build_index

    stamp = {"seed": seed, "small": small, "schema": SCHEMA_VERSION, "analysis": _analysis_hash()}
    stamp_file = work / "built.json"
    if stamp_file.exists() and json.loads(stamp_file.read_text()).get("stamp") == stamp:
        return dict(json.loads(stamp_file.read_text()))
    drawn = sample.draw(data, seed, SMALL if small else None)
    paths = sample.write(drawn, work / "corpus")
    index_dir = work / "index"
    if index_dir.exists():
        import shutil

        shutil.rmtree(index_dir)
    t0 = time.perf_counter()
    job = build_index(paths, index_dir)
    seconds = time.perf_counter() - t0
    gen = IndexLocation(index_dir).current()
    info = {"stamp": stamp, "docs": job.doc_count, "seconds": round(seconds, 1),
            "docs_per_s": round(job.doc_count / seconds, 1), "bytes": _size(gen.path),
            "collections": {k: len(v) for k, v in drawn.items()}}
    stamp_file.write_text(json.dumps(info, indent=1))
    return info


@click.command()
@click.option("--data", type=click.Path(path_type=Path), default=ROOT.parent / "shared" / "data",
              show_default=True, help="The shared data folder.")
@click.option("--work", type=click.Path(path_type=Path), default=ROOT / "var" / "quality",
              show_default=True, help="Where the sample, indexes and results go.")
@click.option("--seed", default=1, show_default=True, help="Seed of the article sample.")
@click.option("--query-seed", default=2, show_default=True,
              help="Seed of the known items and their queries (tuning used 1).")
@click.option("--engines", default="dateline,dateline-untuned,fts5,tantivy,tantivy-and",
              show_default=True, help="dateline-untuned: Dateline before ranking was tuned.")
@click.option("--small", is_flag=True, help="A quick run on ~4k articles (smoke test).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Write the results as JSON here (default WORK/results-<seed>.json).")
@click.option("--tune", is_flag=True,
              help="Tune ranking by coordinate ascent on these queries instead (use seed 1).")
@click.option("--tune-only", default="", metavar="NAMES",
              help="With --tune: only these parameters of quality/tune.py's GRID (comma list).")
def main(data: Path, work: Path, seed: int, query_seed: int, engines: str, small: bool,
         out: Path | None, tune: bool, tune_only: str) -> None:
    """Known-item relevance: Dateline vs SQLite FTS5 vs Tantivy on the shared collections."""
    if not (data / "collections").is_dir():
        sys.exit(f"no collections under {data} (the shared data folder)")
    work.mkdir(parents=True, exist_ok=True)
    info = build(data, work, seed, small)
    click.echo(f"indexed {info['docs']} articles in {info['seconds']} s "
               f"({info['docs_per_s']} docs/s), index {float(str(info['bytes'])) / 1e6:.1f} MB; "
               f"sample {info['collections']}", err=True)
    docs = list(docs_of(work / "index"))
    gen = knownitem.Generator(docs)
    per = {k: v // 3 for k, v in TARGETS.items()} if small or tune else None
    queries = gen.queries(targets(docs, query_seed, per), query_seed)
    click.echo(f"{len(queries)} known-item queries", err=True)
    if tune:
        from quality.tune import ascend

        pool = SearcherPool(IndexLocation(work / "index"))
        with pool.searcher() as (s, _gen):
            ascend(s, queries, echo=lambda line: click.echo(line, err=True),
                   only=[n.strip() for n in tune_only.split(",") if n.strip()])
        return

    wanted = [e.strip() for e in engines.split(",") if e.strip()]
    runners = {}
    pool = SearcherPool(IndexLocation(work / "index"))
    for name in wanted:
        t0 = time.perf_counter()
        if name == "dateline":
            runners[name] = dateline(pool)
        elif name == "dateline-untuned":
            from quality.tune import runner
            from search.ranking import UNTUNED, UNTUNED_WEIGHTS

            with pool.searcher() as (s, _gen):
                runners[name] = runner(s, UNTUNED_WEIGHTS, UNTUNED)
        elif name == "fts5":
            from quality.baselines import FTS5

            runners[name] = FTS5(docs, work).search
        elif name in ("tantivy", "tantivy-and"):
            from quality.baselines import Tantivy

            runners[name] = Tantivy(docs, conjunction=name == "tantivy-and").search
        else:
            raise click.BadParameter(f"unknown engine {name}", param_hint="--engines")
        if not name.startswith("dateline"):
            click.echo(f"{name}: indexed in {time.perf_counter() - t0:.1f} s", err=True)
    table = evaluate(runners, queries)
    click.echo(report.markdown(table, wanted))
    report.dump(str(out or work / f"results-{query_seed}.json"),
                {"build": info, "queries": len(queries), "query_seed": query_seed,
                 "results": report.to_json(table)})


if __name__ == "__main__":
    main()
