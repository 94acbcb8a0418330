"""`python -m bench`: Dateline vs SQLite FTS5, indexing and queries at several sizes, and web.

Typical runs::

    python -m bench                       # 5k, 20k and all; web; one repeat
    python -m bench --sizes 5000,all --repeat 2 --skip-web
    python -m bench --smoke               # tiny, < 30 s, what the test suite runs
    python -m bench --profile             # also cProfile one build and one query pass
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import RESULT_SCHEMA, corpus, report
from bench import web as web_bench
from bench.proc import run_child
from bench.queries import POOL_SIZE, BenchQuery, draw, pool_from_articles

REPO = Path(__file__).resolve().parents[1]
SINGLE_WRITER_ENV = "DATELINE_INDEX_WORKERS"  # indexer.pipeline.WORKERS_ENV
DEFAULT_OUT = REPO / "bench" / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--sizes",
        default="5000,20000,all",
        help="comma-separated article counts and/or 'all' (default: %(default)s)",
    )
    p.add_argument("--repeat", type=int, default=1, help="builds and query runs per size")
    p.add_argument("--queries", type=int, default=200, help="size of the query set")
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="timed passes over the query set per run (after one warm-up pass)",
    )
    p.add_argument("--page-size", type=int, default=10)
    p.add_argument("--seed", type=int, default=8, help="corpus order and query draw")
    p.add_argument(
        "--replicate",
        action="store_true",
        help="allow sizes above the corpus (copies with fresh ids, shifted dates)",
    )
    p.add_argument("--skip-web", action="store_true", help="no gunicorn + wrk part")
    p.add_argument(
        "--no-single",
        dest="single",
        action="store_false",
        help="skip the extra Dateline build with one in-process writer (DATELINE_INDEX_WORKERS=0)",
    )
    p.add_argument(
        "--merge",
        action="store_true",
        help="after each Dateline build, also time `indexer update --merge` (one segment) "
        "and the queries again on the merged index",
    )
    p.add_argument("--web-seconds", type=int, default=20)
    p.add_argument("--web-warmup", type=int, default=5)
    p.add_argument("--web-connections", type=int, default=8)
    p.add_argument("--web-workers", type=int, default=2, help="as `make run` (WORKERS=2)")
    p.add_argument("--web-threads", type=int, default=1, help="as `make run` (THREADS=1)")
    p.add_argument("--web-endpoints", default="/api/search,/search")
    p.add_argument(
        "--profile",
        action="store_true",
        help="also run one cProfiled build and query pass at the largest size",
    )
    p.add_argument("--data", type=Path, default=corpus.DEFAULT_DATA, help="../shared/data")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    p.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    p.add_argument("--note", default="", help="free text stored with the results")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="300 articles, 20 queries, 1 round, no web: a quick check",
    )
    args = p.parse_args(argv)
    if args.smoke:
        args.sizes, args.queries, args.rounds, args.repeat = "300", 20, 1, 1
        args.skip_web = True
    return args


def parse_sizes(text: str, total: int, replicate: bool) -> list[int | None]:
    """Return sizes in ascending order; None means the whole corpus in place."""
    sizes: list[int | None] = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part == "all":
            sizes.append(None)
            continue
        n = int(part.replace("_", ""))
        if n <= 0:
            raise SystemExit(f"size must be positive: {part}")
        if n >= total and not replicate:
            if n > total:
                print(
                    f"size {n:,} exceeds the corpus ({total:,} inputs); using 'all' "
                    "(pass --replicate for a replicated corpus)",
                    file=sys.stderr,
                )
            sizes.append(None)
            continue
        sizes.append(n)
    uniq = list(dict.fromkeys(sizes))
    return sorted(uniq, key=lambda s: total if s is None else s)


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path, log: Path) -> None:
        self.args, self.work, self.log = args, work, log

    def child(
        self, task: str, payload: dict[str, Any], env: dict[str, str] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run one worker task in a fresh interpreter; return (its result, its usage)."""
        tag = f"{task}-{time.monotonic_ns()}"
        src, dst = self.work / f"{tag}.in.json", self.work / f"{tag}.out.json"
        src.write_text(json.dumps(payload), encoding="utf-8")
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(
                f"\n=== {task} {json.dumps({k: v for k, v in payload.items() if k != 'queries'})}\n"
            )
        usage = run_child(
            [sys.executable, "-m", "bench.worker", task, str(src), str(dst)],
            cwd=REPO,
            env=None if env is None else {**os.environ, **env},
            log=self.log,
        )
        if usage.returncode != 0 or not dst.exists():
            tail = self.log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise SystemExit(
                f"bench: {task} failed (exit {usage.returncode}); log {self.log}:\n{tail}"
            )
        return json.loads(dst.read_text(encoding="utf-8")), asdict(usage)

    def one_run(
        self, sample: corpus.Sample, queries: list[BenchQuery], run_dir: Path, repeat: int
    ) -> dict[str, Any]:
        run_dir.mkdir(parents=True, exist_ok=True)
        index_dir, db = run_dir / "index", run_dir / "fts5.sqlite"
        sources = [str(s) for s in sample.sources]
        qs = [asdict(q) for q in queries]
        common = {
            "queries": qs,
            "variants": list(report.VARIANTS),
            "rounds": self.args.rounds,
            "page_size": self.args.page_size,
        }
        out: dict[str, Any] = {"repeat": repeat, "dateline": {}, "fts5": {}}
        engines = ["dateline", "fts5"] if repeat % 2 == 0 else ["fts5", "dateline"]
        totals: dict[str, list[int | None]] = {}
        for engine in engines:
            started = time.perf_counter()
            if engine == "dateline":
                b, bu = self.child(
                    "dateline-build", {"sources": sources, "index_dir": str(index_dir)}
                )
                q, qu = self.child("dateline-query", {**common, "index_dir": str(index_dir)})
                if self.args.merge:
                    out[report.MERGED] = self.merged(index_dir, common, queries)
            else:
                b, bu = self.child("fts5-build", {"sources": sources, "db_path": str(db)})
                q, qu = self.child("fts5-query", {**common, "db_path": str(db)})
            out[engine] = {
                "build": report.build_metrics(b, bu),
                "query": report.query_metrics(q, qu, [bq.kind for bq in queries]),
                "build_child": bu,
                "query_child": qu,
            }
            totals[engine] = q["totals"]
            print(
                f"    {engine:8} build {b['wall_s']:7.1f} s "
                f"({b['indexed'] / b['wall_s']:,.0f} docs/s), queries "
                f"p50 {out[engine]['query']['variants']['full']['p50_ms']:.1f} ms "
                f"[{time.perf_counter() - started:.0f} s]",
                flush=True,
            )
        out["totals_check"] = report.totals_check(totals["dateline"], totals["fts5"])
        out["totals"] = totals
        if self.args.single:
            # The comparison point of issue #8: the same job with one in-process writer.
            single_dir = run_dir / "index-single"
            b, bu = self.child(
                "dateline-build",
                {"sources": sources, "index_dir": str(single_dir)},
                env={SINGLE_WRITER_ENV: "0"},
            )
            shutil.rmtree(single_dir, ignore_errors=True)
            out["single"] = {"build": report.build_metrics(b, bu), "build_child": bu}
            print(
                f"    {'single':8} build {b['wall_s']:7.1f} s "
                f"({b['indexed'] / b['wall_s']:,.0f} docs/s)",
                flush=True,
            )
        return out

    def merged(self, index_dir: Path, common: dict[str, Any], queries: list[BenchQuery]
               ) -> dict[str, Any]:
        """`update --merge` on the built index, timed, then the same queries on it."""
        m, mu = self.child("dateline-merge", {"index_dir": str(index_dir)})
        q, qu = self.child("dateline-query", {**common, "index_dir": str(index_dir)})
        out = {
            "merge": report.merge_metrics(m, mu),
            "query": report.query_metrics(q, qu, [bq.kind for bq in queries]),
            "merge_child": mu,
            "query_child": qu,
        }
        full = out["query"]["variants"]["full"]
        print(
            f"    {'merged':8} update --merge {m['wall_s']:7.1f} s "
            f"({m['segments_before']} -> {m['segments_after']} segments), queries "
            f"p50 {full['p50_ms']:.1f} ms, p95 {full['p95_ms']:.1f} ms, p99 {full['p99_ms']:.1f} ms",
            flush=True,
        )
        return out

    def profile(
        self, sample: corpus.Sample, queries: list[BenchQuery], stamp: str
    ) -> dict[str, str]:
        """cProfile one build and one full-variant query pass (separately from timed runs)."""
        d = self.work / "profile"
        out = self.args.out
        label = sample.label.split()[0]
        build_prof = out / f"profile-{stamp}-build-{label}.prof"
        query_prof = out / f"profile-{stamp}-query-{label}.prof"
        print(f"  profiling build and queries at {sample.label} ...", flush=True)
        self.child(
            "dateline-build",
            {
                "sources": [str(s) for s in sample.sources],
                "index_dir": str(d / "index"),
                "profile": str(build_prof),
            },
        )
        self.child(
            "dateline-query",
            {
                "queries": [asdict(q) for q in queries],
                "variants": ["full"],
                "rounds": 1,
                "page_size": self.args.page_size,
                "index_dir": str(d / "index"),
                "profile": str(query_prof),
            },
        )
        shutil.rmtree(d, ignore_errors=True)
        return {"build": str(build_prof), "query": str(query_prof)}


def draw_queries(order: list[corpus.Item], pool_n: int, n: int, seed: int) -> list[BenchQuery]:
    from indexer.records import iter_records
    from search.models import Article

    articles = []
    for item in order[:pool_n]:
        if item.line is None:
            continue
        for a in iter_records(item.collection, item.line, lines=True):
            if isinstance(a, Article):
                articles.append(a)
    return draw(pool_from_articles(articles), n, seed)


def code_state() -> dict[str, Any]:
    """Which code was measured: HEAD and the files changed in the work tree (read-only git)."""
    import subprocess

    def git(*argv: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *argv], cwd=REPO, capture_output=True, text=True, timeout=30, check=False
            )
        except OSError:
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    status = git("status", "--porcelain")
    return {
        "head": git("rev-parse", "HEAD"),
        "changed_files": status.splitlines() if status else [],
    }


def machine() -> dict[str, Any]:
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "whoosh3": version("whoosh3"),
        "gunicorn": version("gunicorn"),
        "loadavg_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not corpus.available(args.data):
        print(
            f"bench: corpus not found at {args.data} (expects collections/*.jsonl.gz)",
            file=sys.stderr,
        )
        return 2
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / f"bench-{stamp}.log"
    t_start = time.perf_counter()
    items = corpus.load_items(args.data)
    order = corpus.shuffled(items, args.seed)
    sizes = parse_sizes(args.sizes, len(items), args.replicate)
    smallest = min((s for s in sizes if s is not None), default=len(items))
    pool_n = min(POOL_SIZE, smallest)
    queries = draw_queries(order, pool_n, args.queries, args.seed)
    print(
        f"bench: {len(items):,} inputs in {args.data}; sizes "
        f"{', '.join('all' if s is None else f'{s:,}' for s in sizes)}; "
        f"{len(queries)} queries x {args.rounds} rounds; repeat {args.repeat}",
        flush=True,
    )

    work = Path(tempfile.mkdtemp(prefix="dateline-bench-", dir=args.work))
    bench = Bench(args, work, log)
    result: dict[str, Any] = {
        "schema": RESULT_SCHEMA,
        "started_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "code": {**code_state(), "note": args.note},
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "corpus": {
            "inputs": len(items),
            "seed": args.seed,
            "by_collection": corpus._count(items),
            "query_pool": pool_n,
        },
        "queries": [q.to_dict() for q in queries],
        "sizes": [],
    }
    try:
        last_index: Path | None = None
        for size in sizes:
            size_dir = work / ("all" if size is None else str(size))
            if size is None:
                sample = corpus.in_place(args.data, items)
            elif size > len(items):
                sample = corpus.write_replicated(order, size, size_dir / "input")
            else:
                sample = corpus.write_sample(order, size, size_dir / "input")
            print(
                f"  size {sample.label}: {sample.items:,} inputs {sample.by_collection}", flush=True
            )
            runs = []
            for r in range(args.repeat):
                run_dir = size_dir / f"run{r}"
                runs.append(bench.one_run(sample, queries, run_dir, r))
                if last_index is not None and last_index.parent != run_dir:
                    shutil.rmtree(last_index.parent, ignore_errors=True)
                last_index = run_dir / "index"
            result["sizes"].append(
                {
                    "label": sample.label,
                    "items": sample.items,
                    "replicated": sample.replicated,
                    "by_collection": sample.by_collection,
                    "runs": runs,
                    "summary": report.summarize(runs),
                }
            )
            if size is not None:
                shutil.rmtree(size_dir / "input", ignore_errors=True)
                if last_index is not None:
                    pass  # the index of this size's last run is kept for the web part
        if args.skip_web:
            result["web"] = {"skipped": "--skip-web"}
        else:
            assert last_index is not None
            served = "merged (--merge)" if args.merge else "as built"
            print(
                f"  web: gunicorn + wrk against size {result['sizes'][-1]['label']}, index "
                f"{served} ...",
                flush=True,
            )
            result["web"] = web_bench.run(
                last_index,
                queries,
                repo=REPO,
                work=work,
                seconds=args.web_seconds,
                warmup_s=args.web_warmup,
                workers=args.web_workers,
                threads=args.web_threads,
                connections=args.web_connections,
                endpoints=[e for e in args.web_endpoints.split(",") if e],
                log=log,
                baseline_db=fts5_db if (fts5_db := last_index.parent / "fts5.sqlite").is_file()
                else None,
            )
            result["web"]["index"] = served
        if args.profile:
            largest = sizes[-1]
            if largest is None:
                sample = corpus.in_place(args.data, items)
            else:
                sample = corpus.write_sample(order, min(largest, len(items)), work / "prof-input")
            result["profile"] = bench.profile(sample, queries, stamp)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    result["machine"]["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    result["finished_at"] = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    result["duration_s"] = time.perf_counter() - t_start
    path = report.write(result, args.out, stamp)
    print()
    print(report.table(result), end="")
    print(f"\nresults: {path} (and latest.json); log: {log}; took {result['duration_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
