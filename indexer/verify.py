"""Check a written generation before it may be published.

A generation is published only when, reopened from disk, it holds exactly the
expected ids (no duplicate, none missing), every stored document can be read,
and a few smoke queries find their documents through the analyzer and postings.
"""

from __future__ import annotations

from pathlib import Path

from whoosh.fields import TEXT
from whoosh.filedb.filestore import FileStorage
from whoosh.query import Term
from whoosh.searching import Searcher

SMOKE_DOCS = 3


class VerificationError(Exception):
    """The new generation is not what the job wrote; it must not be published."""


def verify_generation(path: Path, expected_ids: set[str]) -> None:
    """Reopen the generation at `path` and check it against `expected_ids`.

    Without mmap: Whoosh then reads the files on demand. Through a map, reading every
    stored document back would add the whole stored column's pages to this process
    (before `search.mapped`, a mapped reader also copied every segment's postings and
    term index: ~620 MB at 56k articles).
    """
    ix = FileStorage(str(path), supports_mmap=False).open_index()
    try:
        with ix.searcher() as s:
            if s.doc_count() != len(expected_ids):
                raise VerificationError(
                    f"new index holds {s.doc_count():,} documents, expected {len(expected_ids):,}"
                )
            seen: set[str] = set()
            for fields in s.all_stored_fields():
                aid = fields.get("id")
                if aid in seen:
                    raise VerificationError(f"document {aid} is stored twice")
                seen.add(aid)
            if seen != expected_ids:
                missing, extra = expected_ids - seen, seen - expected_ids
                raise VerificationError(
                    f"new index misses {len(missing)} ids (e.g. {sorted(missing)[:3]}) "
                    f"and has {len(extra)} unexpected (e.g. {sorted(extra)[:3]})"
                )
            ordered = sorted(expected_ids)
            step = max(1, len(ordered) // SMOKE_DOCS)
            for aid in ordered[::step][:SMOKE_DOCS]:
                _smoke(s, aid)
    finally:
        ix.close()


def _smoke(s: Searcher, aid: str) -> None:
    """Find the document by id, then by a word of its title through some text field.

    Which text field holds an article's words depends on the schema (per-language
    fields), so each text field is tried with its own analyzer.
    """
    docnum = s.document_number(id=aid)
    if docnum is None:
        raise VerificationError(f"document {aid} cannot be found by id")
    stored = s.reader().stored_fields(docnum)
    text = (stored.get("title") or stored.get("body") or "")[:2000]
    tried = []
    for name, field in s.schema.items():
        if not isinstance(field, TEXT):
            continue
        words = list(field.process_text(text, mode="index"))[:1]
        if not words:
            continue
        if docnum in set(s.docs_for_query(Term(name, words[0]))):
            return
        tried.append(f"{name}:{words[0]}")
    if tried:
        raise VerificationError(f"no query of {', '.join(tried[:4])} finds document {aid}")
