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


# "recent" is newest relevant: relevance times a decay on age (search/ranking.py `recency`).
SORTS = ("relevance", "recent", "newest", "oldest")
RECENT_HALF_LIFE_DAYS = 30.0  # default half-life of the "recent" sort's recency boost


@dataclass(frozen=True)
class Filters:
    """Facet selections and a date range; values within one facet are ORed."""

    sources: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    year: int | None = None
    month: int | None = None  # 1-12, only meaningful with year
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def is_empty(self) -> bool:
        return self == Filters()


TIMELINE_MODES = ("count", "share")


@dataclass(frozen=True)
class FacetOptions:
    """How many values each facet returns, which facets are expanded, and value filters.

    `expanded` facets return up to `expanded_limit` values ("show more");
    `prefixes` keeps only values with a word starting with the prefix, as
    (facet name, prefix) pairs (the filter box of a facet with many values).
    """

    limit: int = 30
    expanded: tuple[str, ...] = ()
    expanded_limit: int = 200
    prefixes: tuple[tuple[str, str], ...] = ()

    def limit_for(self, name: str) -> int:
        return self.expanded_limit if name in self.expanded else self.limit

    def prefix_for(self, name: str) -> str:
        return next((p for n, p in self.prefixes if n == name), "")


INTERVALS = ("day", "week", "month", "year")


@dataclass(frozen=True)
class SortPosition:
    """A place in a search's hit order: the sort applied and the key of the last hit seen.

    `key` is (date key, article id) for the date sorts and (-score, article id)
    for relevance and recent (see search/cursor.py); `seen` counts the hits up to it.
    """

    sort: str
    key: tuple[Any, str]
    seen: int = 0


@dataclass(frozen=True)
class SearchRequest:
    """Everything a search needs; the page and the API both build one.

    `timeline` asks for matches over time ("count", or "share" of all articles
    in each period), in buckets of `timeline_interval` (None picks one from the
    span); `suggest` asks for a did-you-mean check. Both cost time, so they are
    off unless asked for. `after` asks for the hits after a position instead of
    page `page` (keyset paging); `facets=False` skips counting facets.
    """

    q: str = ""
    filters: Filters = field(default_factory=Filters)
    sort: str = "relevance"
    page: int = 1
    page_size: int = 10
    facet_options: FacetOptions = field(default_factory=FacetOptions)
    timeline: str | None = None
    suggest: bool = False
    timeline_interval: str | None = None
    after: SortPosition | None = None
    facets: bool = True
    lang: str | None = None  # read the query in this language only (default: every indexed one)
    collapse: bool = True  # one hit per story (its earliest matching version)
    half_life_days: float = RECENT_HALF_LIFE_DAYS  # of the "recent" sort's recency boost


@dataclass(frozen=True)
class StoryRef:
    """The story a hit belongs to: its id (the first version's), size and first outlet."""

    id: str
    versions: int
    first_published: str | None
    first_source: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "versions": self.versions,
                "first_published": self.first_published, "first_source": self.first_source}


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
    story: StoryRef | None = None

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
            "story": self.story.to_dict() if self.story else None,
        }


@dataclass(frozen=True)
class FacetValue:
    """One facet value; `count` counts articles, `stories` the distinct stories among them."""

    value: str
    label: str
    count: int
    selected: bool
    stories: int | None = None  # None when results are not collapsed by story


@dataclass(frozen=True)
class Facet:
    """A facet's shown values; `value_count` counts all distinct values before the cut."""

    name: str
    values: tuple[FacetValue, ...]
    value_count: int = 0
    prefix: str = ""

    @property
    def truncated(self) -> bool:
        """True when some values with a count are not shown."""
        return self.value_count > sum(1 for v in self.values if v.count)

    @property
    def stories_differ(self) -> bool:
        """True when copies of one story share a shown value (its stories < its articles)."""
        return any(v.stories is not None and v.stories != v.count for v in self.values)

    def to_dict(self) -> list[dict[str, Any]]:
        return [
            {"value": v.value, "label": v.label, "count": v.count, "stories": v.stories,
             "selected": v.selected}
            for v in self.values
        ]


@dataclass(frozen=True)
class Bucket:
    """One bar of a timeline: the articles published from `start` to `end` (inclusive)."""

    start: dt.date
    end: dt.date
    count: int
    total: int | None = None  # all articles in the period, for "share of coverage"

    @property
    def share(self) -> float:
        return self.count / self.total if self.total else 0.0


@dataclass(frozen=True)
class Timeline:
    """Matching articles over time, one bucket per day, week, month or year."""

    granularity: str  # "day", "week", "month" or "year"
    buckets: tuple[Bucket, ...]
    mode: str = "count"  # or "share"
    undated: int = 0

    @property
    def peak(self) -> float:
        values = [b.share if self.mode == "share" else b.count for b in self.buckets]
        return max(values, default=0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "granularity": self.granularity,
            "mode": self.mode,
            "undated": self.undated,
            "buckets": [
                {
                    "start": b.start.isoformat(),
                    "end": b.end.isoformat(),
                    "count": b.count,
                    "total": b.total,
                }
                for b in self.buckets
            ],
        }


@dataclass(frozen=True)
class Suggestion:
    """A did-you-mean query; `segments` mark which words were corrected."""

    q: str
    segments: tuple[tuple[str, bool], ...]
    total: int

    def to_dict(self) -> dict[str, Any]:
        return {"q": self.q, "total": self.total}


@dataclass(frozen=True)
class Related:
    """A short reference to another article ("more like this")."""

    id: str
    title: str
    source: str | None
    published: dt.datetime | None


@dataclass(frozen=True)
class SearchResult:
    request: SearchRequest
    total: int
    hits: tuple[Hit, ...]
    facets: tuple[Facet, ...]
    took_ms: float
    parsed_query: str = ""
    notice: str = ""
    readable_query: str = ""  # the parsed query in the query language, after analysis
    timeline: Timeline | None = None
    suggestion: Suggestion | None = None
    next_position: SortPosition | None = None  # after the last hit, when more follow
    total_stories: int | None = None  # matching stories, when results were collapsed

    @property
    def page_count(self) -> int:
        size = self.request.page_size
        shown = self.total if self.total_stories is None else self.total_stories
        return max(1, (shown + size - 1) // size)

    def to_dict(self) -> dict[str, Any]:
        """Return the one JSON shape of a search, used by the API."""
        r = self.request
        return {
            "query": r.q,
            "parsed_query": self.parsed_query,
            "sort": r.sort,
            "total": self.total,
            "total_stories": self.total_stories,
            "page": r.page,
            "page_size": r.page_size,
            "page_count": self.page_count,
            "hits": [h.to_dict() for h in self.hits],
            "facets": {f.name: f.to_dict() for f in self.facets},
            "notice": self.notice or None,
            "took_ms": round(self.took_ms, 2),
            "readable_query": self.readable_query,
            "suggestion": self.suggestion.to_dict() if self.suggestion else None,
            "timeline": self.timeline.to_dict() if self.timeline else None,
        }
