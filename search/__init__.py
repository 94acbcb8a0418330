"""Dateline's search library: schema, analysis, queries, ranking, highlights, facets.

Pure library: imports neither Flask nor the indexer.
"""

from search.engine import get_article, highlight_terms, search
from search.errors import ArticleNotFound, IndexUnavailable, QueryError, SearchError
from search.index import Generation, IndexLocation, SearcherPool
from search.models import Article, Facet, FacetValue, Filters, Hit, SearchRequest, SearchResult

__all__ = [
    "Article",
    "ArticleNotFound",
    "Facet",
    "FacetValue",
    "Filters",
    "Generation",
    "Hit",
    "IndexLocation",
    "IndexUnavailable",
    "QueryError",
    "SearchError",
    "SearchRequest",
    "SearchResult",
    "SearcherPool",
    "get_article",
    "highlight_terms",
    "search",
]
