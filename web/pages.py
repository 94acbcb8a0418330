"""HTML pages: home, search results with timeline and facets, article. All state lives in the URL.

Page-only parameters (the API ignores them): `timeline=share` draws the
timeline as a share of all articles in each period; `more=<facet>` shows a
facet's long list; `<facet>_prefix=<text>` keeps the facet values with a word
starting with the text (the facet filter box without JavaScript).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

from flask import Blueprint, current_app, g, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from search import engine, storymap
from search.errors import QueryError, SearchError
from search.highlight import highlight_all
from search.models import Bucket, FacetOptions, SearchRequest, Timeline
from search.similar import more_like_this
from search.wordiff import DELETE, INSERT, diff_words
from web import requests
from web.params import request_from_args

bp = Blueprint("pages", __name__)

# Facets listed in the sidebar, with their headings, in order.
LIST_FACETS = (("source", "Source"), ("section", "Section"), ("language", "Language"),
               ("author", "Author"))
FACET_SHOWN = 10  # values shown before "show more"
FACET_MORE = 200  # values shown after it
PREFIX_PARAMS = tuple(f"{name}_prefix" for name, _ in LIST_FACETS)
RELATED = 5

# Parameters that define a search; anything else in the URL is ignored.
SEARCH_PARAMS = ("q", "source", "section", "language", "author", "year", "month", "from", "to",
                 "sort", "page", "page_size", "timeline", "more", "collapse", "lang", *PREFIX_PARAMS)


T = TypeVar("T")

URL_SAFE = "!$'()*,/:;?@"  # what Werkzeug's url_for leaves unescaped in a query string
PATH_SAFE = "!$&'()*+,/:;=@"  # ... and in a path variable (its converters' `to_url`)


def _per_request(key: str, make: Callable[[], T]) -> T:
    """Return `make()`, made once per request and kept on `g` under `key`: a results page
    builds a link for every facet value, page and sort from the same few pieces."""
    found: T | None = g.get(key)
    if found is None:
        found = make()
        setattr(g, key, found)
    return found


def _args() -> dict[str, tuple[str, ...]]:
    """Return this request's search parameters, {name: values} in first-seen order.

    Read from the query string once per request. Values are tuples, so callers may
    change a copy of the dict without touching the request's.
    """
    return _per_request("search_args", _read_args)


def _read_args() -> dict[str, tuple[str, ...]]:
    lists: dict[str, list[str]] = {}
    for k, v in request.args.items(multi=True):
        if k in SEARCH_PARAMS and v:
            lists.setdefault(k, []).append(v)
    return {k: tuple(v) for k, v in lists.items()}


def search_url(remove: tuple[str, ...] = (), keep_page: bool = False, **changes: Any) -> str:
    """Return /search with the current parameters, some changed or removed.

    `changes` values: None removes a parameter, a list sets all its values.
    Changing anything but `page` goes back to page 1. The query string is
    encoded as `url_for` encodes it (Werkzeug's safe characters), the path built
    once per request: `url_for` itself costs ~25 us, and a page has ~60 links.
    """
    args = dict(_args())
    for name in remove:
        args.pop(name, None)
    if not keep_page and "page" not in changes:
        args.pop("page", None)
    for name, value in changes.items():
        args.pop(name, None)
        if value is None:
            continue
        values = tuple(str(v) for v in (value if isinstance(value, (list, tuple)) else [value]))
        if values:
            args[name] = values
    base = _per_request("search_path", lambda: url_for("pages.search"))
    if not args:
        return base
    quoted = _quoted()
    return base + "?" + "&".join(
        f"{quoted[k]}={quoted[v]}" for k, values in args.items() for v in values)


class _Quoted(dict[str, str]):
    """A parameter name or value -> its query-string form, as `urlencode` writes it with
    Werkzeug's safe characters; each string quoted once per request (a page's links repeat
    the same few names and values, and quoting was most of building them)."""

    def __missing__(self, text: str) -> str:
        found = self[text] = quote_plus(text, safe=URL_SAFE)
        return found


def _quoted() -> _Quoted:
    return _per_request("url_quoted", _Quoted)


def _under(endpoint: str, variable: str) -> str:
    """Return an endpoint's path up to its one trailing path variable (once per request)."""
    placeholder: dict[str, Any] = {variable: "_"}
    return _per_request(f"path_{endpoint}", lambda: url_for(endpoint, **placeholder)[:-1])


def article_url(article_id: str, q: str | None = None) -> str:
    """`url_for("pages.article", article_id=..., q=q or None)` at a fraction of its cost
    (a results page links every hit)."""
    path = _under("pages.article", "article_id") + quote(article_id, safe=PATH_SAFE)
    return f"{path}?q={_quoted()[q]}" if q else path


def story_url(story_id: str) -> str:
    """`url_for("pages.story", story_id=...)`, as `article_url`."""
    return _under("pages.story", "story_id") + quote(story_id, safe=PATH_SAFE)


def toggle_url(name: str, value: str) -> str:
    """Return the URL that adds `value` to facet `name`, or removes it if selected."""
    current = list(_args().get(name, ()))
    if value in current:
        current.remove(value)
    else:
        current.append(value)
    changes: dict[str, Any] = {name: current or None}
    if name == "year":
        changes = {"year": value if value not in _args().get("year", ()) else None, "month": None}
    if name == "month":
        changes = {"month": value if value not in _args().get("month", ()) else None}
    return search_url(**changes)


def bucket_label(b: Bucket, granularity: str) -> str:
    """Return a period as people say it: `3 Jan 2017`, `2-8 Jan 2017`, `January 2017`, `2017`."""
    if granularity == "day":
        return f"{b.start.day} {b.start:%b %Y}"
    if granularity == "week":
        if b.start.month == b.end.month:
            return f"{b.start.day}\u2013{b.end.day} {b.end:%b %Y}"
        if b.start.year == b.end.year:
            return f"{b.start.day} {b.start:%b}\u2013{b.end.day} {b.end:%b %Y}"
        return f"{b.start.day} {b.start:%b %Y}\u2013{b.end.day} {b.end:%b %Y}"
    if granularity == "month":
        return f"{b.start:%B %Y}"
    return f"{b.start.year}"


def bucket_text(b: Bucket, t: Timeline) -> str:
    """Return what a bar says when hovered or focused."""
    n = f"{b.count:,} article{'' if b.count == 1 else 's'}"
    if t.mode == "share" and b.total is not None:
        return f"{bucket_label(b, t.granularity)}: {n}, {b.share:.1%} of {b.total:,} published"
    return f"{bucket_label(b, t.granularity)}: {n}"


def bar_url(b: Bucket) -> str:
    """Return the search narrowed to one bar's period."""
    return search_url(year=None, month=None, **{"from": b.start.isoformat(), "to": b.end.isoformat()})


@bp.app_template_filter("date_long")
def date_long(d: dt.date) -> str:
    return f"{d.day} {d:%b %Y}"


@bp.app_context_processor
def helpers() -> dict[str, Any]:
    return {
        "search_url": search_url,
        "toggle_url": toggle_url,
        "article_url": article_url,
        "story_url": story_url,
        "bucket_label": bucket_label,
        "bucket_text": bucket_text,
        "bar_url": bar_url,
        "list_facets": LIST_FACETS,
        "facet_shown": FACET_SHOWN,
        "facet_more": FACET_MORE,
        "search_params": SEARCH_PARAMS,
    }


def page_request(args: MultiDict[str, str]) -> SearchRequest:
    """Build the page's SearchRequest: the API's parameters plus the page-only ones."""
    req = request_from_args(args, default_size=current_app.config["PAGE_SIZE"],
                            half_life_days=float(current_app.config["RECENT_HALF_LIFE_DAYS"]))
    mode = args.get("timeline", "").strip() or "count"
    if mode not in ("count", "share"):
        raise QueryError("timeline must be count or share.", parameter="timeline")
    names = {name for name, _ in LIST_FACETS}
    options = FacetOptions(
        limit=FACET_SHOWN,
        expanded=tuple(m for m in args.getlist("more") if m in names),
        expanded_limit=FACET_MORE,
        prefixes=tuple(
            (name, args.get(f"{name}_prefix", "").strip()[:60])
            for name in sorted(names) if args.get(f"{name}_prefix", "").strip()
        ),
    )
    return dataclasses.replace(req, facet_options=options, timeline=mode, suggest=True)


@bp.get("/")
def home() -> ResponseReturnValue:
    stats = None
    try:
        s = requests.searcher()
        gen = requests.generation()
        stats = {"doc_count": s.doc_count(), "built_at": gen.built_at}
    except SearchError:  # the home page shows the search box even without an index
        stats = None
    return render_template("index.html", stats=stats)


@bp.get("/search")
def search() -> ResponseReturnValue:
    req = page_request(request.args)
    result = engine.search(requests.searcher(), req, requests.story_map())
    # An older generation stands in for one that cannot be opened: say so, but not why
    # (the reason names server paths; /api/health gives it to operators).
    stale = requests.generation().name if requests.pool().open_error else None
    return render_template("search.html", result=result, req=req, stale_generation=stale,
                           facets={f.name: f for f in result.facets})


@bp.get("/article/<article_id>")
def article(article_id: str) -> ResponseReturnValue:
    s = requests.searcher()
    a = engine.get_article(s, article_id)
    q = request.args.get("q", "")
    wanted = engine.highlight_terms(s, q) if q else frozenset()
    paragraphs = [highlight_all(p, wanted) for p in a.body.split("\n\n") if p.strip()]
    return render_template(
        "article.html",
        article=a,
        q=q,
        title=highlight_all(a.title, wanted),
        summary=highlight_all(a.summary, wanted) if a.summary else Markup(""),
        paragraphs=paragraphs,
        related=more_like_this(s, a.id, limit=RELATED),
    )


@bp.get("/story/<story_id>")
def story(story_id: str) -> ResponseReturnValue:
    """List a story's versions in time order; each later one as a word diff against the first."""
    found = storymap.versions(requests.searcher(), requests.story_map(), story_id)
    first = found[0]
    diffs = [diff_words(first.body, a.body) for a in found[1:]]
    return render_template("story.html", story_id=story_id, first=first, later=found[1:],
                           diffs=diffs, INSERT=INSERT, DELETE=DELETE)
