"""The search backend interface: what the rest of Dateline asks of a search engine.

Four calls: `index` a complete set of articles (published atomically, as a new
generation), `search` with a `SearchRequest` (ranked hits with highlights,
facets, timeline), `facets` alone, and `get` one article by id. Whoosh, through
the existing engine, is the one implementation (`WhooshBackend`); a corpus
beyond one machine's disk or memory would get a second one on OpenSearch
(README, "Scaling out"), held to the same contract tests
(tests/test_backend_contract.py). The request and result types are the
library's own frozen dataclasses, so a backend maps them to its engine and
back, and nothing above `search/` learns which engine answered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace
from typing import Protocol, runtime_checkable

from search import engine, storymap
from search.index import IndexLocation, SearcherPool
from search.models import Article, Facet, SearchRequest, SearchResult
from search.schema import to_document


@runtime_checkable
class SearchBackend(Protocol):
    """A search engine holding one published set of articles."""

    def index(self, articles: Iterable[Article]) -> str:
        """Replace the searchable set with `articles` (first copy of an id wins); return its name."""
        ...

    def search(self, req: SearchRequest) -> SearchResult:
        """Answer a search: ranked, highlighted hits and facet counts (QueryError when invalid)."""
        ...

    def facets(self, req: SearchRequest) -> tuple[Facet, ...]:
        """Count the facets of a search's matches (each as if its own selection were not applied)."""
        ...

    def get(self, article_id: str) -> Article:
        """Return one article (ArticleNotFound, status 404, when there is none)."""
        ...

    def generation(self) -> str:
        """Name what is served now, so replicas and load balancers can compare (IndexUnavailable)."""
        ...


class WhooshBackend:
    """The Whoosh index generations of one directory, served through `search.engine`."""

    def __init__(self, location: IndexLocation, pool: SearcherPool | None = None) -> None:
        self.location = location
        self.pool = pool or SearcherPool(location)

    def index(self, articles: Iterable[Article]) -> str:
        # The indexer's jobs add catalogs, stories and verification; this is the bare
        # contract: one complete generation, published by the atomic pointer flip.
        name, path, ix = self.location.new_generation()
        writer = ix.writer()
        seen: set[str] = set()
        try:
            for a in articles:
                if a.id not in seen:
                    seen.add(a.id)
                    writer.add_document(**to_document(a))
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        built_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        manifest = {"generation": name, "doc_count": len(seen), "built_at": built_at}
        self.location.write_manifest(path, manifest)
        self.location.publish(name)
        return name

    def search(self, req: SearchRequest) -> SearchResult:
        with self.pool.searcher() as (s, gen):
            return engine.search(s, req, storymap.load(gen.path))

    def facets(self, req: SearchRequest) -> tuple[Facet, ...]:
        return self.search(replace(req, facets=True)).facets

    def get(self, article_id: str) -> Article:
        with self.pool.searcher() as (s, _gen):
            return engine.get_article(s, article_id)

    def generation(self) -> str:
        return self.pool.generation().name
