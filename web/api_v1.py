"""The versioned JSON API, /api/v1: one envelope, stable names, cursors, conditional GET.

Every success is `{"ok": true, "data": ..., "meta": {"api_version", "generation",
"took_ms"}}`; every error is `{"ok": false, "error": {"code", "message",
"parameter"}}` (web/errors.py renders it for any /api/ path). Datetimes are ISO
8601 with their UTC offset; timeline buckets are UTC calendar days. The shapes
are written down in web/openapi.json, which the tests hold the responses to.
Export (web/export.py) and the OpenAPI document (web/openapi.py) share the prefix.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, make_response, request
from flask.typing import ResponseReturnValue

from search import completion, cursor, engine, storymap
from search.errors import QueryError
from search.facets import count_column
from search.index import Generation
from search.models import INTERVALS, TIMELINE_MODES, FacetOptions, SearchRequest
from search.wordiff import changed_share, diff_words
from web import api, conditional, requests
from web.params import request_from_args

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

API_VERSION = "1"
FACET_NAMES = ("source", "section", "language", "author", "year", "month")
PREFIXED_FACETS = ("source", "section", "language", "author")
MAX_FACET_VALUES = 1000
MAX_COMPLETIONS = 20


@bp.before_request
def _start_clock() -> None:
    g.v1_started = time.perf_counter()


def ok(data: Any, gen: Generation | str | None = None, status: int = 200) -> Response:
    """Return the success envelope."""
    name = gen.name if isinstance(gen, Generation) else gen
    took = (time.perf_counter() - g.get("v1_started", time.perf_counter())) * 1000
    body = {"ok": True, "data": data,
            "meta": {"api_version": API_VERSION, "generation": name, "took_ms": round(took, 2)}}
    response = jsonify(body)
    response.status_code = status
    return response


def cached(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """Answer 304 when the client's copy is current; otherwise add ETag and Last-Modified."""

    @functools.wraps(view)
    def wrapper(**kwargs: Any) -> ResponseReturnValue:
        gen = requests.generation()
        v = conditional.validators(gen)
        if conditional.is_fresh(v):
            return conditional.not_modified(v)
        response = make_response(view(gen, **kwargs))
        return conditional.apply(response, v) if response.status_code == 200 else response

    return wrapper


# --- Parameters beyond the page's (web/params.py) ---------------------------------------


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"{name} must be a whole number, not {raw[:40]!r}.", parameter=name) from None
    if not lo <= value <= hi:
        raise QueryError(f"{name} must be between {lo} and {hi}.", parameter=name)
    return value


def choice_arg(name: str, choices: tuple[str, ...], default: str) -> str:
    value = request.args.get(name, "").strip() or default
    if value not in choices:
        raise QueryError(f"{name} must be one of {', '.join(choices)}.", parameter=name)
    return value


def bool_arg(name: str, default: bool) -> bool:
    raw = request.args.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes"):
        return True
    if raw in ("0", "false", "no"):
        return False
    raise QueryError(f"{name} must be true or false.", parameter=name)


def list_arg(name: str) -> list[str]:
    """Return a list parameter given repeated (`a=x&a=y`) or comma-separated (`a=x,y`)."""
    return [v.strip() for raw in request.args.getlist(name) for v in raw.split(",") if v.strip()]


def search_request() -> SearchRequest:
    return request_from_args(request.args, default_size=current_app.config["PAGE_SIZE"],
                             half_life_days=float(current_app.config["RECENT_HALF_LIFE_DAYS"]))


# --- Endpoints ----------------------------------------------------------------------------


@bp.get("/search")
@cached
def search(gen: Generation) -> ResponseReturnValue:
    req = dataclasses.replace(search_request(), facets=bool_arg("facets", True))
    fingerprint = cursor.fingerprint(req)
    given = None
    if request.args.get("cursor", "").strip():
        given = cursor.decode(request.args["cursor"])
        if request.args.get("page", "").strip() not in ("", "1"):
            raise QueryError("Use either a cursor or a page number, not both.", parameter="page")
        if given.fingerprint != fingerprint:
            raise QueryError("cursor was made for another query, filters, sort or collapse; "
                             "start again without it.", parameter="cursor")  # fmt: skip
        req = dataclasses.replace(req, after=given.position)
    result = engine.search(requests.searcher(), req, requests.story_map())
    data = result.to_dict()
    if given is not None:
        data["page"] = None  # reached by cursor, not by page number
    nxt = result.next_position
    data["next_cursor"] = cursor.Cursor(nxt, gen.name, fingerprint).encode() if nxt else None
    data["generation_changed"] = given is not None and given.generation != gen.name
    return ok(data, gen)


@bp.get("/articles/<article_id>")
@cached
def article(gen: Generation, article_id: str) -> ResponseReturnValue:
    return ok(engine.get_article(requests.searcher(), article_id).to_dict(), gen)


@bp.get("/stories/<article_id>")  # a story's id is its first version's article id
@cached
def story(gen: Generation, article_id: str) -> ResponseReturnValue:
    """A story's versions in time order; each later one with its word diff against the first."""
    story_id = article_id
    found = storymap.versions(requests.searcher(), requests.story_map(), story_id)
    first = found[0]
    versions = [{**first.to_dict(), "diff": None, "changed_share": None}]
    for a in found[1:]:
        ops = diff_words(first.body, a.body)
        versions.append({**a.to_dict(), "diff": [{"op": op, "text": text} for op, text in ops],
                         "changed_share": round(changed_share(ops), 4)})
    data = {
        "id": story_id,
        "version_count": len(found),
        "first_source": first.source,
        "first_published": first.published.isoformat() if first.published else None,
        "versions": versions,
    }
    return ok(data, gen)


@bp.get("/facets")
@cached
def facets(gen: Generation) -> ResponseReturnValue:
    names = list_arg("facet") or list(FACET_NAMES)
    for name in names:
        if name not in FACET_NAMES:
            raise QueryError(f"facet must be one of {', '.join(FACET_NAMES)}.", parameter="facet")
    common = request.args.get("prefix", "").strip()[:60]
    prefixes = tuple(
        (name, p) for name in PREFIXED_FACETS
        if (p := request.args.get(f"{name}_prefix", "").strip()[:60] or (common if name in names else ""))
    )  # fmt: skip
    options = FacetOptions(limit=int_arg("limit", 30, 1, MAX_FACET_VALUES), prefixes=prefixes)
    req = dataclasses.replace(search_request(), page=1, page_size=1, facet_options=options)
    result = engine.search(requests.searcher(), req, requests.story_map())
    data = {
        "query": req.q,
        "total": result.total,
        "total_stories": result.total_stories,
        "facets": {
            f.name: {"values": f.to_dict(), "value_count": f.value_count,
                     "truncated": f.truncated, "prefix": f.prefix or None}
            for f in result.facets if f.name in names
        },
    }
    return ok(data, gen)


@bp.get("/timeline")
@cached
def timeline(gen: Generation) -> ResponseReturnValue:
    mode = choice_arg("mode", TIMELINE_MODES, "count")
    interval = choice_arg("interval", ("auto", *INTERVALS), "auto")
    req = dataclasses.replace(
        search_request(), page=1, page_size=1, facets=False, timeline=mode,
        timeline_interval=None if interval == "auto" else interval,
    )  # fmt: skip
    result = engine.search(requests.searcher(), req)
    chart = result.timeline.to_dict() if result.timeline else {
        "granularity": None, "mode": mode, "undated": result.total, "buckets": []}  # fmt: skip
    return ok({"query": req.q, "total": result.total, **chart}, gen)


@bp.get("/suggest")
@cached
def suggest(gen: Generation) -> ResponseReturnValue:
    limit = int_arg("limit", 8, 1, MAX_COMPLETIONS)
    req = dataclasses.replace(search_request(), page=1, page_size=1, facets=False, suggest=True)
    s = requests.searcher()
    did_you_mean = None
    if req.q.strip():
        found = engine.search(s, req).suggestion
        did_you_mean = found.to_dict() if found else None
    within = None
    if not req.filters.is_empty():
        _, within = engine.matching(s, dataclasses.replace(req, q=""))
    completions = completion.complete(s, req.q, within=within, limit=limit)
    data = {
        "query": req.q,
        "did_you_mean": did_you_mean,
        "completions": [
            {"id": c.id, "title": c.title, "source": c.source,
             "published": c.published.isoformat() if c.published else None}
            for c in completions
        ],
    }
    return ok(data, gen)


@bp.get("/health")
def health() -> ResponseReturnValue:
    """The unversioned /api/health report in the v1 envelopes (its logic lives in web/api.py)."""
    answer = api.health()
    response, status = answer if isinstance(answer, tuple) else (answer, 200)
    body = dict(response.get_json())
    body.pop("ok", None)
    error = body.pop("error", None)
    if status == 200:
        return ok(body, body.get("generation"))
    error = error or {"code": "index_unavailable", "message": "No index can be served.",
                      "parameter": None}  # fmt: skip
    return jsonify({"ok": False, "error": error, "data": body}), status


@bp.get("/stats")
@cached
def stats(gen: Generation) -> ResponseReturnValue:
    s = requests.searcher()
    reader = s.reader()
    docs = list(reader.all_doc_ids())
    keys = cursor.date_keys(reader, "oldest")
    dated = [keys[d] for d in docs if keys[d] != cursor.UNDATED]

    def when(ts: int | None) -> str | None:
        return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat() if ts is not None else None

    def values(field: str) -> list[dict[str, Any]]:
        counts = count_column(reader, field, docs)
        return [{"value": v, "count": n} for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

    sources = values("source")
    data = {
        "documents": s.doc_count(),
        "source_count": len(sources),
        "sources": sources,
        "languages": values("language"),
        "date_span": {"earliest": when(min(dated, default=None)),
                      "latest": when(max(dated, default=None)),
                      "dated": len(dated), "undated": len(docs) - len(dated)},
        "generation": {"name": gen.name, "built_at": gen.built_at,
                       "schema_version": gen.manifest.get("schema_version"),
                       "doc_count": gen.doc_count},
    }
    return ok(data, gen)
