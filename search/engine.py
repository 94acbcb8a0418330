"""The search call shared by the page and the API: SearchRequest -> SearchResult."""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import heapq
import re
import time
from collections.abc import Callable, Iterator, Sequence, Set

from whoosh import query as wq
from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from search import (
    cursor,
    docsets,
    lexicon,
    limits,
    ranking,
    scores,
    spelling,
    termmemo,
    timeline,
)
from search.errors import ArticleNotFound, QueryError
from search.explain import describe
from search.facets import build_facet, count_column, count_terms, top_counts
from search.highlight import Wanted, highlight_all, snippet
from search.models import (
    INTERVALS,
    SORTS,
    TIMELINE_MODES,
    Article,
    Facet,
    Filters,
    Hit,
    SearchRequest,
    SearchResult,
    SortPosition,
    Suggestion,
    Timeline,
)
from search.query import ParsedQuery, parse_in
from search.schema import ALL_TEXT_FIELDS, from_stored
from search.storymap import StoryMap

MAX_PAGE_SIZE = 100
RANKED_SORTS = ("relevance", "recent")  # ordered by score; the others by publication time
MAX_RESULT_WINDOW = 10_000  # deepest result reachable by page number
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def validate(req: SearchRequest) -> None:
    """Raise QueryError naming the parameter that is out of range."""
    if req.sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}.", parameter="sort")
    if req.page < 1:
        raise QueryError("page must be 1 or more.", parameter="page")
    if not 1 <= req.page_size <= MAX_PAGE_SIZE:
        raise QueryError(f"page_size must be between 1 and {MAX_PAGE_SIZE}.", parameter="page_size")
    if req.page * req.page_size > MAX_RESULT_WINDOW:
        raise QueryError(
            f"Results beyond the first {MAX_RESULT_WINDOW:,} cannot be paged to; "
            "narrow the search by date or source.",
            parameter="page",
        )
    f = req.filters
    if f.month is not None and (f.year is None or not 1 <= f.month <= 12):
        raise QueryError("month must be 1-12 and needs a year.", parameter="month")
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise QueryError("from must not be after to.", parameter="from")
    if req.timeline is not None and req.timeline not in TIMELINE_MODES:
        raise QueryError(f"timeline must be one of {', '.join(TIMELINE_MODES)}.",
                         parameter="timeline")
    if req.timeline_interval is not None and req.timeline_interval not in INTERVALS:
        raise QueryError(f"interval must be one of auto, {', '.join(INTERVALS)}.",
                         parameter="interval")
    if req.after is not None and req.page != 1:
        raise QueryError("Use either a cursor or a page number, not both.", parameter="page")


def _day_start(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day)


def _day_after(d: dt.date) -> dt.datetime | None:
    """Return the start of the next day; None after 9999-12-31 (no end)."""
    return None if d == dt.date.max else _day_start(d + dt.timedelta(days=1))


def _date_query(f: Filters, *, with_year: bool, with_month: bool) -> wq.Query | None:
    """Return the date-range query for a filter set, or None when unrestricted."""
    start: dt.datetime | None = _day_start(f.date_from) if f.date_from else None
    end: dt.datetime | None = _day_after(f.date_to) if f.date_to else None
    if with_year and f.year is not None:
        if with_month and f.month is not None:
            y_start = dt.datetime(f.year, f.month, 1)
            last = calendar.monthrange(f.year, f.month)[1]
            y_end = _day_after(dt.date(f.year, f.month, last))
        else:
            y_start, y_end = dt.datetime(f.year, 1, 1), _day_after(dt.date(f.year, 12, 31))
        start = max(start, y_start) if start else y_start
        end = min(end, y_end) if end and y_end else (end or y_end)
    if start is None and end is None:
        return None
    # `published` is stored as naive UTC; end is exclusive.
    if end is not None:
        end = end - dt.timedelta(microseconds=1)
    return wq.DateRange("published", start, end)


def _any_of(field: str, values: tuple[str, ...]) -> wq.Query | None:
    if not values:
        return None
    return wq.Or([wq.Term(field, v) for v in values])


def _docs(searcher: Searcher, q: wq.Query | None) -> Set[int] | None:
    """Return a filter's documents (None: no filter); cached per reader (search/docsets.py)."""
    return docsets.filter_docs(searcher, q)


def _intersect(base: Set[int], *others: Set[int] | None) -> Set[int]:
    result = base
    for o in sorted((o for o in others if o is not None), key=len):
        result = result & o  # type: ignore[operator]
    return result


def _positive_terms(q: wq.Query, searcher: Searcher) -> frozenset[str]:
    """Return the text-field terms a hit may contain because of the query."""
    found: set[str] = set()
    langs: dict[str, None] = {}

    def walk(node: wq.Query) -> None:
        if isinstance(node, wq.Not):
            return
        if isinstance(node, wq.AndNot):
            walk(node.a)
            return
        if isinstance(node, (wq.Prefix, wq.Wildcard)):
            if node.field() in ALL_TEXT_FIELDS:
                langs[ALL_TEXT_FIELDS[str(node.field())][1]] = None
                found.update(
                    t if isinstance(t, str) else t.decode("utf-8")
                    for t in node._btexts(searcher.reader())  # expanded index terms
                )
            return
        if node.is_leaf():
            for field, text in node.terms(phrases=True):
                if field in ALL_TEXT_FIELDS:
                    langs[ALL_TEXT_FIELDS[field][1]] = None
                    found.add(text if isinstance(text, str) else text.decode("utf-8"))
            return
        for child in node.children():
            walk(child)

    walk(q)
    reader = searcher.reader()
    return Wanted(found, langs, forms=lambda lang: lexicon.forms(reader, found, lang))


def _base_docs(searcher: Searcher, q: wq.Query) -> Set[int]:
    return docsets.query_docs(searcher, q)


def _remembered(reader: IndexReader, key: tuple[object, ...], compute: Callable[[], Set[int]]
                ) -> Set[int]:
    """Return a matching set from the reader's result cache, computing it when missing."""
    found = docsets.RESULTS.get(reader, key)
    if found is None:
        found = compute()
        docsets.RESULTS.put(reader, key, found)
    return found  # type: ignore[no-any-return]


def search(searcher: Searcher, req: SearchRequest, stories: StoryMap | None = None
           ) -> SearchResult:
    """Run one search: matching set, facets over it, one page of highlighted hits.

    With `stories` (the generation's story map) and `req.collapse`, the page
    shows one hit per story, its earliest matching version; `total` still
    counts articles and `total_stories` counts stories.

    With `req.timeline`, also matches over time; with `req.suggest`, a
    did-you-mean query when one finds clearly more.
    """
    t0 = time.perf_counter()
    validate(req)
    termmemo.remember_terms(searcher.reader())  # a search looks each term up many times
    pq: ParsedQuery = parse_in(searcher, req.q, req.lang)
    limits.check_expansions(pq.query, searcher.reader())
    reader = searcher.reader()
    f = req.filters
    opts = req.facet_options

    base = _remembered(reader, ("base", req.q, req.lang), lambda: _base_docs(searcher, pq.query))
    by_source = _docs(searcher, _any_of("source", f.sources))
    by_section = _docs(searcher, _any_of("section", f.sections))
    by_language = _docs(searcher, _any_of("language", f.languages))
    by_author = _docs(searcher, _any_of("author", f.authors))
    by_range = _docs(searcher, _date_query(f, with_year=False, with_month=False))
    by_year = _docs(searcher, _date_query(f, with_year=True, with_month=False))
    by_date = _docs(searcher, _date_query(f, with_year=True, with_month=True))
    by_facets = (by_source, by_section, by_language, by_author)

    matched = _intersect(base, *by_facets, by_date)
    total = len(matched)
    shown: Set[int] = stories.collapse(matched) if stories is not None and req.collapse else matched

    def story_counted(built: Facet, docs: Set[int]) -> Facet:
        """Add each value's count of stories when hits are collapsed by story."""
        if stories is None or not req.collapse:
            return built
        return stories.count_stories(built, docs, reader)

    def facet(name: str, docs: Set[int], selected: tuple[str, ...]) -> Facet:
        prefix, limit = opts.prefix_for(name), opts.limit_for(name)
        counted: int | None = None  # with a prefix, every value is counted and filtered
        if prefix:
            counts = (count_terms if name == "author" else count_column)(reader, name, docs)
        else:
            counts, counted = top_counts(reader, name, docs, limit=limit, selected=selected,
                                         terms=name == "author")
        return story_counted(build_facet(name, counts, set(selected), prefix=prefix,
                                         limit=limit, value_count=counted), docs)

    # Facet counts depend on the query, filters and options, not on the page or sort.
    facet_key = ("facets", req.q, req.lang, f, opts, req.collapse, stories is not None)
    known = docsets.RESULTS.get(reader, facet_key) if req.facets else None
    facets: list[Facet] = list(known) if known is not None else [] if not req.facets else [
        facet("source", _intersect(base, by_section, by_language, by_author, by_date), f.sources),
        facet("section", _intersect(base, by_source, by_language, by_author, by_date), f.sections),
        facet("language", _intersect(base, by_source, by_section, by_author, by_date), f.languages),
        facet("author", _intersect(base, by_source, by_section, by_language, by_date), f.authors),
        story_counted(build_facet(
            "year",
            count_column(reader, "year", year_docs := _intersect(base, *by_facets, by_range)),
            {f"{f.year:04d}"} if f.year else set(),
            limit=200,
            chronological=True,
        ), year_docs),
    ]
    if f.year is not None and req.facets and known is None:
        month_docs = _intersect(base, *by_facets, by_year)
        facets.append(
            story_counted(build_facet(
                "month",
                count_column(reader, "month", month_docs),
                {f"{f.year:04d}-{f.month:02d}"} if f.month else set(),
                limit=12,
                chronological=True,
            ), month_docs)
        )

    if req.facets and known is None:
        docsets.RESULTS.put(reader, facet_key, tuple(facets))

    hits: tuple[Hit, ...] = ()
    next_position: SortPosition | None = None
    sort = applied_sort(req, pq)
    if req.after is not None and req.after.sort != sort:
        raise QueryError("cursor was made for another sort order; start again without it.",
                         parameter="cursor")
    offset = (req.page - 1) * req.page_size
    limits.checkpoint()
    if len(shown) > offset:
        page = _page(searcher, pq, shown, sort, req)
        wanted = _positive_terms(pq.query, searcher)
        hits = tuple(
            _make_hit(reader.stored_fields(d), score, wanted, d, stories)
            for d, score in zip(page.docs, page.scores, strict=True)
        )
        seen = (req.after.seen if req.after else offset) + len(page.docs)
        if page.more and page.keys:
            next_position = SortPosition(sort=sort, key=page.keys[-1], seen=seen)

    chart: Timeline | None = None
    if req.timeline:
        chart = _timeline(searcher, req, matched, by_facets, by_date)
    suggestion: Suggestion | None = None
    limits.checkpoint()
    if req.suggest and not pq.is_empty:
        filtered = _intersect(docsets.live_docs(reader), *by_facets, by_date) \
            if any(o is not None for o in (*by_facets, by_date)) else None

        def count(text: str) -> int:
            limits.checkpoint()  # one search per candidate correction
            try:
                docs = _base_docs(searcher, parse_in(searcher, text, req.lang).query)
            except QueryError:
                return 0
            return len(docs if filtered is None else _intersect(docs, filtered))

        suggestion = spelling.suggest(searcher, req.q, total, count)

    return SearchResult(
        request=req,
        total=total,
        hits=hits,
        facets=tuple(facets),
        took_ms=(time.perf_counter() - t0) * 1000,
        parsed_query=pq.describe(),
        notice=pq.notice,
        readable_query=describe(pq.query),
        timeline=chart,
        suggestion=suggestion,
        next_position=next_position,
        total_stories=len(shown) if shown is not matched else None,
    )


def applied_sort(req: SearchRequest, pq: ParsedQuery) -> str:
    """Return the sort a search uses: relevance (or recent) of an empty query is newest."""
    if req.sort in RANKED_SORTS and pq.is_empty:
        return "newest"  # nothing to rank by: browsing shows the latest first
    return req.sort


def _ranking(sort: str, req: SearchRequest) -> ranking.Ranking:
    """Return the ranking of a scored sort: "recent" adds the recency boost."""
    if sort == "recent":
        return dataclasses.replace(ranking.DEFAULT, half_life_days=req.half_life_days)
    return ranking.DEFAULT


def _scored(searcher: Searcher, q: wq.Query, matched: Set[int], limit: int | None,
            rank: ranking.Ranking = ranking.DEFAULT) -> Sequence[tuple[float, int]]:
    """Return Whoosh's top `limit` (score, docnum) pairs among `matched`."""
    fast = scores.top(searcher, q, rank, matched, limit)  # the same numbers, as arrays
    if fast is not None:
        return fast
    reader = searcher.reader()
    results = ranking.search(
        searcher, q, rank, limit=limit,
        filter=set(matched) if len(matched) < reader.doc_count_all() else None,
    )
    return results.top_n  # type: ignore[no-any-return]


def _page(searcher: Searcher, pq: ParsedQuery, matched: Set[int], sort: str,
          req: SearchRequest) -> cursor.Page:
    """Select one page of hits in the total order of search/cursor.py."""
    after = req.after.key if req.after else None
    offset = 0 if req.after else (req.page - 1) * req.page_size
    if sort not in RANKED_SORTS:
        return cursor.date_page(searcher.reader(), matched, sort, after=after, offset=offset,
                                size=req.page_size)
    rank = _ranking(sort, req)
    return cursor.relevance_page(
        searcher,
        lambda limit: _scored(searcher, pq.query, matched, limit, rank),
        after=after,
        offset=offset,
        size=req.page_size,
        hint=req.after.seen if req.after else 0,
    )


def matching(searcher: Searcher, req: SearchRequest) -> tuple[ParsedQuery, Set[int]]:
    """Return the parsed query and the document numbers matching it under the filters."""
    validate(req)
    pq = parse_in(searcher, req.q, req.lang)
    limits.check_expansions(pq.query, searcher.reader())
    f = req.filters
    selections = (("source", f.sources), ("section", f.sections), ("language", f.languages),
                  ("author", f.authors))
    return pq, _intersect(
        _base_docs(searcher, pq.query),
        *(_docs(searcher, _any_of(name, values)) for name, values in selections),
        _docs(searcher, _date_query(f, with_year=True, with_month=True)),
    )


def iter_matches(searcher: Searcher, req: SearchRequest, *, limit: int,
                 stories: StoryMap | None = None) -> tuple[int, Iterator[Article]]:
    """Return (total, the first `limit` matches in sort order, read one by one).

    Only document numbers and sort keys are held for the whole result set;
    each article's stored fields are read when the iterator reaches it, so
    memory stays flat however many articles are streamed. With `stories` and
    `req.collapse`, one match per story (its earliest matching version), and
    `total` counts those.
    """
    pq, matched = matching(searcher, req)
    if stories is not None and req.collapse:
        matched = stories.collapse(matched)
    sort = applied_sort(req, pq)
    reader = searcher.reader()
    ids = cursor.doc_ids(reader)
    order: list[int]
    if sort in RANKED_SORTS:
        pairs = _scored(searcher, pq.query, matched, None, _ranking(sort, req))
        order = [d for _, _, d in heapq.nsmallest(limit, ((-s, ids[d], d) for s, d in pairs))]
    else:
        keys = cursor.date_keys(reader, sort)
        order = heapq.nsmallest(limit, matched, key=lambda d: (keys[d], ids[d]))

    def articles() -> Iterator[Article]:
        for d in order:
            yield from_stored(reader.stored_fields(d))

    return len(matched), articles()


def _timeline(
    searcher: Searcher,
    req: SearchRequest,
    matched: Set[int],
    by_facets: tuple[Set[int] | None, ...],
    by_date: Set[int] | None,
) -> Timeline | None:
    """Count matches per period; for "share", also every article under the same filters."""
    reader = searcher.reader()
    f = req.filters
    days, undated = timeline.count_days(reader, matched)
    totals = None
    if req.timeline == "share":
        everything = _intersect(docsets.live_docs(reader), *by_facets, by_date)
        totals, _ = timeline.count_days(reader, everything)
    start, end = f.date_from, f.date_to
    if f.year is not None:
        y_start = dt.date(f.year, f.month or 1, 1)
        y_end = timeline.bucket_end(y_start, "month" if f.month else "year")
        start = max(start, y_start) if start else y_start
        end = min(end, y_end) if end else y_end
    return timeline.histogram(days, span=(start, end), totals=totals, undated=undated,
                              granularity=req.timeline_interval)


def _make_hit(fields: dict[str, object], score: float | None, wanted: frozenset[str],
              docnum: int = -1, stories: StoryMap | None = None) -> Hit:
    limits.checkpoint()  # highlighting up to 100 hits is a loop of its own
    a = from_stored(fields)
    lang = str(fields.get("analyzed_as") or "") or None  # the fields the text is indexed in
    body_match = snippet(a.body, wanted, lang=lang)
    return Hit(
        id=a.id,
        url=a.url,
        title=a.title,
        title_highlighted=highlight_all(a.title, wanted, lang),
        snippet=body_match,
        source=a.source,
        section=a.section,
        published=a.published,
        authors=a.authors,
        language=a.language,
        score=round(float(score), 4) if score is not None else None,
        story=stories.ref(docnum, a.id, a.published, a.source) if stories is not None else None,
    )


def get_article(searcher: Searcher, article_id: str) -> Article:
    """Return a stored article by id; ids are matched strictly, never as paths."""
    if not ID_PATTERN.fullmatch(article_id):
        raise ArticleNotFound(f"No article with id {article_id!r}.")
    fields = searcher.document(id=article_id)
    if fields is None:
        raise ArticleNotFound(f"No article with id {article_id!r}.")
    return from_stored(fields)


def highlight_terms(searcher: Searcher, q: str) -> frozenset[str]:
    """Return the terms of `q` to mark in an article page (empty if unparsable)."""
    try:
        pq = parse_in(searcher, q)
    except QueryError:
        return frozenset()
    return _positive_terms(pq.query, searcher)
