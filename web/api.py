"""JSON endpoints over the same search library as the page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from search import engine
from search.errors import SearchError
from web import requests
from web.params import request_from_args

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/search")
def search() -> ResponseReturnValue:
    req = request_from_args(request.args, default_size=current_app.config["PAGE_SIZE"])
    result = engine.search(requests.searcher(), req)
    return jsonify(result.to_dict())


@bp.get("/articles/<article_id>")
def article(article_id: str) -> ResponseReturnValue:
    a = engine.get_article(requests.searcher(), article_id)
    return jsonify(a.to_dict())


@bp.get("/health")
def health() -> ResponseReturnValue:
    body: dict[str, Any]
    try:
        gen = requests.generation()
        s = requests.searcher()
        body = {
            "ok": True,
            "status": "ok",
            "generation": gen.name,
            "doc_count": s.doc_count(),
            "last_build": gen.built_at,
            "schema_version": gen.manifest.get("schema_version"),
        }
        return jsonify(body)
    except SearchError as e:
        body = {"ok": False, "status": "degraded", "error": e.to_dict()}
        return jsonify(body), 503
