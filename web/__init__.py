"""Flask application factory: nothing happens at import time."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from search.index import IndexLocation, SearcherPool

DEFAULTS: dict[str, Any] = {
    "INDEX_DIR": "var/index",
    "PAGE_SIZE": 10,
    # sort=recent: relevance times a recency factor that halves its distance to 0.5
    # every this many days before the newest article (search/ranking.py).
    "RECENT_HALF_LIFE_DAYS": 30.0,
    "JSON_SORT_KEYS": False,
    # API v1, exports and feeds (see web/access.py, web/export.py, web/feeds.py).
    "CORS_ORIGINS": [],
    "API_KEYS": {},
    "API_ANONYMOUS_LIMIT": "60/minute",
    "API_REQUIRE_KEY": False,
    "EXPORT_MAX_ROWS": 100_000,
    "EXPORT_CHUNK_ROWS": 500,
    "FEED_SIZE": 20,
    "FEED_TAG_AUTHORITY": None,
    "FEED_TAG_DATE": "2024",
    # Hardening (see web/security.py, search/limits.py).
    "INDEX_PERMISSION_CHECK": True,
    "DEV": False,
    "SEARCH_DEADLINE_S": 5.0,
    "MAX_EXPANSIONS": 200,
}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the app: defaults, then $DATELINE_SETTINGS file, then DATELINE_* env, then `config`."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    if os.environ.get("DATELINE_SETTINGS"):
        app.config.from_envvar("DATELINE_SETTINGS")
    app.config.from_prefixed_env("DATELINE")
    if config:
        app.config.update(config)
    app.json.sort_keys = False  # type: ignore[attr-defined]

    app.extensions["dateline_pool"] = SearcherPool(IndexLocation(app.config["INDEX_DIR"]))

    from web import access, api, api_v1, errors, export, feeds, openapi, pages, requests, security

    security.init_app(app)
    requests.init_app(app)
    errors.init_app(app)
    access.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    for bp in (api_v1.bp, export.bp, openapi.bp, feeds.bp):
        app.register_blueprint(bp)
    if not app.debug:
        logging.basicConfig(level=logging.INFO)
    return app
