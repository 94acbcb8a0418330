"""The web baseline: the benchmark's SQLite FTS5 search behind the same server and framework.

Requests per second depend on the machine's speed at the time, and these machines are
shared: a figure alone cannot say whether Dateline's web side got faster or the machine
got quieter. This app serves the FTS5 baseline (`bench.fts5.Searcher`: total, facet
counts, one page of hits with highlighted titles and body snippets) as JSON at
`/api/search`, with the query parameters the benchmark sends to Dateline (`q`,
`source`, `sort`), in Flask under gunicorn with the same worker and thread counts and
under the same `wrk` load, right after Dateline's run. The ratio of the two is the web
figure that compares across runs.

`create_app()` reads the database path from `DATELINE_BENCH_FTS5_DB`. One read-only
connection per thread, opened on its first request (Dateline keeps one searcher per
worker the same way).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

from bench.fts5 import FACETS, Searcher
from bench.queries import BenchQuery

DB_ENV = "DATELINE_BENCH_FTS5_DB"
HIT_COLUMNS = ("id", "url", "source", "section", "language", "published", "score",
               "title_highlighted", "snippet")


def query_from_args(args: Any) -> BenchQuery:
    """Read a benchmark query back from the parameters `bench.web.paths_for` wrote.

    Raises ValueError for a request the baseline cannot answer (no words, an unknown sort).
    """
    q = (args.get("q") or "").strip()
    phrase = len(q) > 1 and q.startswith('"') and q.endswith('"')
    words = tuple(q.strip('"').split())
    if not words:
        raise ValueError("q must hold at least one word")
    sort = args.get("sort") or "relevance"
    if sort not in ("relevance", "newest"):
        raise ValueError("sort must be relevance or newest")
    return BenchQuery(kind="web", words=words, phrase=phrase, source=args.get("source") or None,
                      sort=sort)


def create_app(db_path: str | Path | None = None) -> Flask:
    """Return the baseline app over the FTS5 database at `db_path` (default: $DATELINE_BENCH_FTS5_DB)."""
    path = Path(db_path or os.environ.get(DB_ENV, ""))
    if not path.is_file():
        raise RuntimeError(f"FTS5 database not found: {path} (set {DB_ENV})")
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # as Dateline's app
    local = threading.local()

    def searcher() -> Searcher:
        found: Searcher | None = getattr(local, "searcher", None)
        if found is None:
            found = local.searcher = Searcher(path)
        return found

    @app.get("/api/health")
    def health() -> ResponseReturnValue:
        return jsonify({"ok": True})

    @app.get("/api/search")
    def search() -> ResponseReturnValue:
        try:
            bq = query_from_args(request.args)
        except ValueError as e:
            return jsonify({"error": str(e)}), 400
        try:
            got = searcher().search(bq)
        except sqlite3.OperationalError as e:  # an FTS5 syntax error: the client's query
            return jsonify({"error": f"query not understood: {e}"}), 400
        return jsonify({
            "total": got["total"],
            "facets": {name: [{"value": v, "count": n} for v, n in got["facets"].get(name, ())]
                       for name in FACETS},
            "hits": [dict(zip(HIT_COLUMNS, row, strict=True)) for row in got["hits"]],
        })

    return app
