"""The engines Dateline is measured against, over the very same articles.

- SQLite FTS5, as a developer would set it up for news: `porter unicode61
  remove_diacritics 2` (English Porter stems, accents folded, every other language
  only lowercased), ranked by bm25 with the same field weights as Dateline's defaults
  (title 3, summary 1.5, body 1); words are ANDed (FTS5's default).
- Tantivy (PyPI `tantivy`), with its `en_stem` analyzer (lowercase + English Snowball)
  on title, summary and body, BM25, the same field boosts. Its query parser ORs words by
  default; the AND reading (`+word ...`) is measured too, and the better one is the
  baseline to beat.

Both run in-process over the stored text of the Dateline index, so all three see
identical titles, summaries and bodies.
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
from collections.abc import Iterable
from pathlib import Path

from quality.knownitem import Doc

WEIGHTS = (3.0, 1.5, 1.0)
_TOKEN = re.compile(r"\w+")


class FTS5:
    name = "fts5"

    def __init__(self, docs: Iterable[Doc], folder: Path | None = None) -> None:
        path = (folder or Path(tempfile.mkdtemp())) / "fts5.db"
        path.unlink(missing_ok=True)
        self.conn = sqlite3.connect(path)
        self.conn.execute(
            "CREATE VIRTUAL TABLE fts USING fts5(id UNINDEXED, title, summary, body, "
            "tokenize='porter unicode61 remove_diacritics 2')"
        )
        self.conn.executemany(
            "INSERT INTO fts(id, title, summary, body) VALUES (?,?,?,?)",
            ((d.id, d.title, d.summary, d.body) for d in docs),
        )
        self.conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        self.conn.commit()

    def search(self, text: str, k: int = 10) -> list[str]:
        words = _TOKEN.findall(text)
        if not words:
            return []
        match = " ".join(f'"{w}"' for w in words)
        rows = self.conn.execute(
            "SELECT id FROM fts WHERE fts MATCH ? ORDER BY bm25(fts, 0, ?, ?, ?) LIMIT ?",
            (match, *WEIGHTS, k),
        )
        return [r[0] for r in rows]


class Tantivy:
    def __init__(self, docs: Iterable[Doc], conjunction: bool = False) -> None:
        import tantivy

        self.name = "tantivy-and" if conjunction else "tantivy"
        self.conjunction = conjunction
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw")
        for field in ("title", "summary", "body"):
            builder.add_text_field(field, tokenizer_name="en_stem")
        self.index = tantivy.Index(builder.build())
        writer = self.index.writer(heap_size=200_000_000, num_threads=1)
        for d in docs:
            writer.add_document(tantivy.Document(id=d.id, title=d.title, summary=d.summary,
                                                 body=d.body))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()

    def search(self, text: str, k: int = 10) -> list[str]:
        words = _TOKEN.findall(text)
        if not words:
            return []
        q = " ".join(f"+{w}" if self.conjunction else w for w in words)
        query = self.index.parse_query(
            q, ["title", "summary", "body"],
            field_boosts=dict(zip(("title", "summary", "body"), WEIGHTS, strict=True)),
        )
        hits = self.searcher.search(query, k).hits
        return [self.searcher.doc(addr)["id"][0] for _score, addr in hits]
