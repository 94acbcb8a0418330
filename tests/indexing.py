"""Test helper: build a published index generation from Article values."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from indexer.segwriter import TermPoolWriter
from search.index import IndexLocation
from search.models import Article
from search.schema import to_document


def build_index(root: Path, articles: Iterable[Article], *, as_jobs: bool = False
                ) -> IndexLocation:
    """Write and publish one generation holding `articles` (`as_jobs`: with the segment
    writer index jobs use, which adds flat postings; else Whoosh's own writer)."""
    loc = IndexLocation(root)
    name, path, ix = loc.new_generation()
    w = TermPoolWriter(ix) if as_jobs else ix.writer()
    n = 0
    for a in articles:
        w.add_document(**to_document(a))
        n += 1
    w.commit()
    loc.write_manifest(path, {"generation": name, "doc_count": n, "built_at": "test"})
    loc.publish(name)
    return loc
