"""HTML pages: home, search results with facets, article. All state lives in the URL."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from search import engine
from search.errors import SearchError
from search.highlight import highlight_all
from web import requests
from web.params import request_from_args

bp = Blueprint("pages", __name__)

# Parameters that define a search; anything else in the URL is ignored.
SEARCH_PARAMS = ("q", "source", "section", "language", "year", "month", "from", "to", "sort",
                 "page", "page_size")


def _args() -> MultiDict[str, str]:
    return MultiDict([(k, v) for k, v in request.args.items(multi=True) if k in SEARCH_PARAMS and v])


def search_url(remove: tuple[str, ...] = (), keep_page: bool = False, **changes: Any) -> str:
    """Return /search with the current parameters, some changed or removed.

    `changes` values: None removes a parameter, a list sets all its values.
    Changing anything but `page` goes back to page 1.
    """
    args = _args()
    for name in remove:
        args.poplist(name)
    if not keep_page and "page" not in changes:
        args.poplist("page")
    for name, value in changes.items():
        args.poplist(name)
        if value is None:
            continue
        for v in value if isinstance(value, (list, tuple)) else [value]:
            args.add(name, str(v))
    return url_for("pages.search", **args.to_dict(flat=False))


def toggle_url(name: str, value: str) -> str:
    """Return the URL that adds `value` to facet `name`, or removes it if selected."""
    current = [v for v in _args().getlist(name)]
    if value in current:
        current.remove(value)
    else:
        current.append(value)
    changes: dict[str, Any] = {name: current or None}
    if name == "year":
        changes = {"year": value if value not in _args().getlist("year") else None, "month": None}
    if name == "month":
        changes = {"month": value if value not in _args().getlist("month") else None}
    return search_url(**changes)


@bp.app_context_processor
def helpers() -> dict[str, Any]:
    return {"search_url": search_url, "toggle_url": toggle_url}


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
    req = request_from_args(request.args, default_size=current_app.config["PAGE_SIZE"])
    result = engine.search(requests.searcher(), req)
    return render_template("search.html", result=result, req=req)


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
    )
