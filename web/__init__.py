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
    "JSON_SORT_KEYS": False,
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

    from web import api, errors, pages, requests

    requests.init_app(app)
    errors.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    if not app.debug:
        logging.basicConfig(level=logging.INFO)
    return app
