"""The baseline a user might pick instead: SQLite FTS5 over the same extracted articles.

Same logical fields as Dateline: title, summary and body full-text (bm25 weights 3, 1.5,
1 like `search.schema.TEXT_FIELDS`), source/section/language/year/date columns in a
plain table sharing the rowid. Tokenizer 'porter unicode61 remove_diacritics 2'.
A search mirrors `search.engine.search`: total, facet counts by GROUP BY over the whole
match set (each facet ignoring its own filter), one page of hits ranked by bm25 (or
newest first) with highlight() for the title and snippet() for the body.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.queries import BenchQuery
from search.models import Article

TOKENIZE = "porter unicode61 remove_diacritics 2"
WEIGHTS = "3.0, 1.5, 1.0"
FACETS = ("source", "section", "language", "year")
BATCH = 1000

SCHEMA = f"""
CREATE TABLE docs (
    rowid INTEGER PRIMARY KEY, id TEXT UNIQUE, url TEXT, source TEXT, section TEXT,
    language TEXT, year TEXT, published TEXT, has_date INTEGER, pub_ts INTEGER
);
CREATE VIRTUAL TABLE fts USING fts5(title, summary, body, tokenize='{TOKENIZE}');
"""
INDEXES = """
CREATE INDEX docs_source ON docs(source);
CREATE INDEX docs_date ON docs(has_date, pub_ts);
"""


def _row(rowid: int, a: Article) -> tuple[Any, ...]:
    ts = int(a.published.timestamp()) if a.published else 0
    year = f"{a.published.year:04d}" if a.published else None
    published = a.published.isoformat() if a.published else None
    return (
        rowid,
        a.id,
        a.url,
        a.source,
        a.section,
        a.language,
        year,
        published,
        1 if a.published else 0,
        ts,
    )


@dataclass
class BuildTimes:
    insert_s: float = 0.0
    optimize_s: float = 0.0
    indexed: int = 0
    duplicates: int = 0


def build(db_path: Path, articles: Iterable[Article], clock: Any) -> BuildTimes:
    """Insert `articles` (duplicate ids skipped, like the indexer) and merge the index."""
    times = BuildTimes()
    conn = sqlite3.connect(db_path)
    t0 = clock()
    conn.executescript(SCHEMA)
    seen: set[str] = set()
    docs: list[tuple[Any, ...]] = []
    texts: list[tuple[int, str, str, str]] = []

    def flush() -> None:
        conn.executemany("INSERT INTO docs VALUES (?,?,?,?,?,?,?,?,?,?)", docs)
        conn.executemany("INSERT INTO fts(rowid, title, summary, body) VALUES (?,?,?,?)", texts)
        docs.clear()
        texts.clear()

    with conn:
        for a in articles:
            if a.id in seen:
                times.duplicates += 1
                continue
            seen.add(a.id)
            times.indexed += 1
            docs.append(_row(times.indexed, a))
            texts.append((times.indexed, a.title, a.summary, a.body))
            if len(docs) >= BATCH:
                flush()
        flush()
        conn.executescript(INDEXES)
    t1 = clock()
    with conn:
        conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
    times.insert_s, times.optimize_s = t1 - t0, clock() - t1
    conn.close()
    return times


class Searcher:
    """One connection reused across queries, like Dateline's per-thread searcher."""

    def __init__(self, db_path: Path) -> None:
        self.conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)

    def close(self) -> None:
        self.conn.close()

    def _where(self, q: BenchQuery, *, with_source: bool) -> tuple[str, list[Any]]:
        sql, args = "fts MATCH ?", [q.fts]
        if with_source and q.source is not None:
            sql += " AND d.source = ?"
            args.append(q.source)
        return sql, args

    def search(
        self, q: BenchQuery, *, page_size: int = 10, snippets: bool = True, facets: bool = True
    ) -> dict[str, Any]:
        """Return total, facet counts and one page of hits for `q`."""
        c = self.conn
        where, args = self._where(q, with_source=True)
        base = f"FROM fts JOIN docs d ON d.rowid = fts.rowid WHERE {where}"
        total = c.execute(f"SELECT count(*) {base}", args).fetchone()[0]
        counts: dict[str, list[tuple[str, int]]] = {}
        if facets:
            for name in FACETS:
                w, a = self._where(q, with_source=name != "source")
                counts[name] = c.execute(
                    f"SELECT d.{name}, count(*) AS n FROM fts JOIN docs d ON d.rowid = fts.rowid "
                    f"WHERE {w} AND d.{name} IS NOT NULL GROUP BY d.{name} "
                    "ORDER BY n DESC LIMIT 30",
                    a,
                ).fetchall()
        if q.sort == "newest":
            order = "d.has_date DESC, d.pub_ts DESC"
        else:
            order = f"bm25(fts, {WEIGHTS})"
        shown = (
            (
                "highlight(fts, 0, '<mark>', '</mark>'), "
                "snippet(fts, 2, '<mark>', '</mark>', '…', 32)"
            )
            if snippets
            else "fts.title, ''"
        )
        hits = c.execute(
            f"SELECT d.id, d.url, d.source, d.section, d.language, d.published, "
            f"bm25(fts, {WEIGHTS}), {shown} {base} ORDER BY {order} LIMIT ?",
            [*args, page_size],
        ).fetchall()
        return {"total": total, "facets": counts, "hits": hits}
