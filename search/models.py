"""Frozen values passed between stages: the article, the request, the result."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from markupsafe import Markup


@dataclass(frozen=True)
class Article:
    """One clean news article: what the indexer produces and the index returns."""

    id: str
    title: str
    body: str
    url: str | None = None
    summary: str = ""
    source: str | None = None
    section: str | None = None
    authors: tuple[str, ...] = ()
    published: dt.datetime | None = None  # always timezone-aware when set
    language: str | None = None
    path: str | None = None
    content_hash: str = ""

    def __post_init__(self) -> None:
        if self.published is not None and self.published.tzinfo is None:
            raise ValueError("Article.published must be timezone-aware")

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape (ISO 8601 dates, authors as a list)."""
        d = asdict(self)
        d["authors"] = list(self.authors)
        d["published"] = self.published.isoformat() if self.published else None
        return d


SORTS = ("relevance", "newest", "oldest")


@dataclass(frozen=True)
class Filters:
    """Facet selections and a date range; values within one facet are ORed."""

    sources: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    year: int | None = None
    month: int | None = None  # 1-12, only meaningful with year
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def is_empty(self) -> bool:
        return self == Filters()


@dataclass(frozen=True)
class SearchRequest:
    """Everything a search needs; the page and the API both build one."""

    q: str = ""
    filters: Filters = field(default_factory=Filters)
    sort: str = "relevance"
    page: int = 1
    page_size: int = 10


@dataclass(frozen=True)
class Hit:
    id: str
    url: str | None
    title: str
    title_highlighted: Markup
    snippet: Markup
    source: str | None
    section: str | None
    published: dt.datetime | None
    authors: tuple[str, ...]
    language: str | None
    score: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "title_highlighted": str(self.title_highlighted),
            "snippet": str(self.snippet),
            "source": self.source,
            "section": self.section,
            "published": self.published.isoformat() if self.published else None,
            "author": ", ".join(self.authors) or None,
            "authors": list(self.authors),
            "language": self.language,
            "score": self.score,
        }


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool


@dataclass(frozen=True)
class Facet:
    name: str
    values: tuple[FacetValue, ...]

    def to_dict(self) -> list[dict[str, Any]]:
        return [
            {"value": v.value, "label": v.label, "count": v.count, "selected": v.selected}
            for v in self.values
        ]


@dataclass(frozen=True)
class SearchResult:
    request: SearchRequest
    total: int
    hits: tuple[Hit, ...]
    facets: tuple[Facet, ...]
    took_ms: float
    parsed_query: str = ""
    notice: str = ""

    @property
    def page_count(self) -> int:
        size = self.request.page_size
        return max(1, (self.total + size - 1) // size)

    def to_dict(self) -> dict[str, Any]:
        """Return the one JSON shape of a search, used by the API."""
        r = self.request
        return {
            "query": r.q,
            "parsed_query": self.parsed_query,
            "sort": r.sort,
            "total": self.total,
            "page": r.page,
            "page_size": r.page_size,
            "page_count": self.page_count,
            "hits": [h.to_dict() for h in self.hits],
            "facets": {f.name: f.to_dict() for f in self.facets},
            "notice": self.notice or None,
            "took_ms": round(self.took_ms, 2),
        }
