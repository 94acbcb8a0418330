"""URL parameters <-> SearchRequest, shared by the page and the API."""

from __future__ import annotations

import datetime as dt

from werkzeug.datastructures import MultiDict

from search.errors import QueryError
from search.models import RECENT_HALF_LIFE_DAYS, Filters, SearchRequest

MULTI = {"source": "sources", "section": "sections", "language": "languages",
         "author": "authors"}


def _int(args: MultiDict[str, str], name: str, default: int | None) -> int | None:
    raw = args.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise QueryError(f"{name} must be a whole number, not {raw[:40]!r}.", parameter=name) from None


def _date(args: MultiDict[str, str], name: str) -> dt.date | None:
    raw = args.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise QueryError(f"{name} must be a date like 2017-03-01, not {raw[:40]!r}.",
                         parameter=name) from None


def _bool(args: MultiDict[str, str], name: str, default: bool) -> bool:
    raw = args.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1", "yes", "on"):
        return True
    if raw in ("false", "0", "no", "off"):
        return False
    raise QueryError(f"{name} must be true or false, not {raw[:40]!r}.", parameter=name)


def request_from_args(args: MultiDict[str, str], *, default_size: int = 10,
                      half_life_days: float = RECENT_HALF_LIFE_DAYS) -> SearchRequest:
    """Build a SearchRequest from query-string arguments; bad values raise QueryError.

    `half_life_days` (the app's RECENT_HALF_LIFE_DAYS) sets how fast `sort=recent`
    forgets: an article that much older than the newest one keeps 3/4 of its score.
    """
    multi = {
        field: tuple(dict.fromkeys(v.strip() for v in args.getlist(name) if v.strip()))
        for name, field in MULTI.items()
    }
    filters = Filters(
        sources=multi["sources"],
        sections=multi["sections"],
        languages=multi["languages"],
        authors=multi["authors"],
        year=_int(args, "year", None),
        month=_int(args, "month", None),
        date_from=_date(args, "from"),
        date_to=_date(args, "to"),
    )
    if filters.year is not None and not 1 <= filters.year <= 9999:
        raise QueryError("year must be between 1 and 9999.", parameter="year")
    size = _int(args, "page_size", None)
    if size is None:
        size = _int(args, "size", default_size)
    page = _int(args, "page", 1)
    assert page is not None and size is not None
    return SearchRequest(
        q=args.get("q", ""),
        filters=filters,
        sort=args.get("sort", "relevance").strip() or "relevance",
        page=page,
        page_size=size,
        lang=args.get("lang", "").strip() or None,  # read the query in this language only
        collapse=_bool(args, "collapse", True),  # false: every copy of a story, not one
        half_life_days=half_life_days,
    )
