"""JSON endpoints over the same search library as the page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from search import engine, storymap
from search.errors import SearchError
from web import requests
from web.params import request_from_args

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/search")
def search() -> ResponseReturnValue:
    req = request_from_args(request.args, default_size=current_app.config["PAGE_SIZE"],
                            half_life_days=float(current_app.config["RECENT_HALF_LIFE_DAYS"]))
    result = engine.search(requests.searcher(), req, requests.story_map())
    return jsonify(result.to_dict())


@bp.get("/stories/<story_id>")
def story(story_id: str) -> ResponseReturnValue:
    """Return a story's versions in time order, the first version first."""
    found = storymap.versions(requests.searcher(), requests.story_map(), story_id)
    return jsonify({"id": story_id, "versions": [a.to_dict() for a in found]})


@bp.get("/articles/<article_id>")
def article(article_id: str) -> ResponseReturnValue:
    a = engine.get_article(requests.searcher(), article_id)
    return jsonify(a.to_dict())


@bp.get("/health")
def health() -> ResponseReturnValue:
    """Report the served generation and the last indexer job.

    "ok": CURRENT is served. "degraded" with 200: an older generation is served
    because CURRENT cannot be opened (`reason` says why). "degraded" with 503:
    nothing can be served.
    """
    body: dict[str, Any]
    job = requests.pool().location.last_job() or {}
    last_job = {k: job.get(k) for k in ("job", "outcome", "finished_at", "error")} if job else None
    success_at = (job.get("last_success") or {}).get("finished_at")
    try:
        gen = requests.generation()
        s = requests.searcher()
        reason = requests.pool().open_error
        body = {
            "ok": True,
            # Serving, but not the newest generation: an older one stands in for it.
            "status": "degraded" if reason else "ok",
            "generation": gen.name,
            "doc_count": s.doc_count(),
            "last_build": gen.built_at,
            "schema_version": gen.manifest.get("schema_version"),
            "last_job": last_job,
            "last_success_age_s": _age_s(success_at),
            "current_generation": _current_name() if reason else gen.name,
            "reason": reason,
            "warning": reason,  # the earlier name of `reason`, kept for existing clients
        }
        # Replicas (README "Replicas"): a balancer that checks status codes only asks
        # ?generation=NAME and drains a node serving anything else until it is synced.
        expected = request.args.get("generation")
        if expected and expected != gen.name:
            body.update(ok=False, status="stale", expected_generation=expected)
            return jsonify(body), 503
        return jsonify(body)
    except SearchError as e:
        body = {
            "ok": False,
            "status": "degraded",
            "error": e.to_dict(),
            "last_job": last_job,
            "last_success_age_s": _age_s(success_at),
        }
        return jsonify(body), 503


def _current_name() -> str | None:
    """Return the generation CURRENT names (None when it cannot be read)."""
    try:
        return requests.pool().location.current_name()
    except SearchError:
        return None


def _age_s(iso: str | None) -> float | None:
    """Seconds since an ISO 8601 time, or None when unknown."""
    if not iso:
        return None
    try:
        then = dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    return round((dt.datetime.now(dt.timezone.utc) - then).total_seconds(), 1)
