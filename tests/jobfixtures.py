"""Test helpers for indexer jobs: small real corpora and index snapshots."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from search.index import IndexLocation

SEED = Path(__file__).resolve().parents[1] / "corpus" / "articles" / "anadolu-2024-09-13.txt"


def news_lines(shared_data: Path, n: int) -> list[str]:
    """Return the first `n` records of the real news9 collection as JSON lines."""
    out = []
    with gzip.open(shared_data / "collections" / "news9.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            out.append(line.rstrip("\n"))
            if len(out) == n:
                break
    return out


def edited(line: str, **changes: Any) -> str:
    """Return a JSON line with some fields replaced."""
    record = json.loads(line)
    record.update(changes)
    return json.dumps(record, ensure_ascii=False)


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def stored_docs(index_dir: Path) -> dict[str, dict[str, Any]]:
    """Return every stored document of the served generation, by id (checks none repeats)."""
    loc = IndexLocation(index_dir)
    gen = loc.current()
    ix = whoosh_index.open_dir(str(gen.path))
    docs: dict[str, dict[str, Any]] = {}
    with ix.searcher() as s:
        for fields in s.all_stored_fields():
            assert fields["id"] not in docs, f"duplicate {fields['id']}"
            docs[fields["id"]] = fields
        assert s.doc_count() == len(docs) == gen.doc_count
    return docs
