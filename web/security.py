"""Security headers on every response, and the checks that refuse an unsafe start.

Sessions: the app sets no cookies and uses no Flask session, so SECRET_KEY is not
needed; `check_config` still refuses a production start with DEBUG on, because the
Werkzeug debugger runs arbitrary code for whoever reaches it.

Index files: Whoosh's TOC and segment files are pickles, so whoever can write them
can run code in the web process. At start the index directory, its generations and
their files must not be writable by group or others and must belong to the current
user or root; a generation published later is checked the same way when the searcher
pool first opens it (`search/trust.py`), and refused while the open one keeps serving.
INDEX_PERMISSION_CHECK=False turns both off, e.g. for a shared test box.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response, current_app, g

from search import limits, trust

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    )
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class UnsafeStart(RuntimeError):
    """The configuration or the index files make starting the app unsafe."""


def add_headers(response: Response) -> Response:
    """Set the security headers, keeping any a view chose itself."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def check_config(app: Flask) -> None:
    """Refuse DEBUG outside testing unless DATELINE_DEV explicitly allows it."""
    if app.debug and not app.testing and not app.config.get("DEV"):
        raise UnsafeStart(
            "DEBUG is on outside testing: the debugger would let anyone run code. "
            "Turn DEBUG off, or set DATELINE_DEV=true on a development machine."
        )


def check_index_permissions(root: str | os.PathLike[str]) -> None:
    """Raise UnsafeStart when anyone but us (or root) could rewrite the index's pickles."""
    root = Path(root)
    if not root.exists():
        return  # nothing built yet: the app reports "no index" per request
    found = trust.problems(trust.index_paths(root))
    if found:
        raise UnsafeStart(
            "Refusing to open the index: its files hold pickles, so only this user or root "
            "may be able to write them. "
            + trust.summary(found)
            + f". Fix with `chmod -R go-w {root}`, or set INDEX_PERMISSION_CHECK=False."
        )


def start_budget() -> None:
    """Give this request its search budgets (MAX_EXPANSIONS, SEARCH_DEADLINE_S)."""
    cfg = current_app.config
    g.search_budget = limits.start(
        int(cfg.get("MAX_EXPANSIONS", limits.MAX_EXPANSIONS)),
        cfg.get("SEARCH_DEADLINE_S", limits.DEADLINE_S),
    )


def end_budget(exc: BaseException | None) -> None:
    token = g.pop("search_budget", None)
    if token is not None:
        limits.end(token)


def init_app(app: Flask) -> None:
    check_config(app)
    pool = app.extensions.get("dateline_pool")
    if app.config.get("INDEX_PERMISSION_CHECK", True):
        check_index_permissions(app.config["INDEX_DIR"])
    elif pool is not None:
        pool.trust = None  # generations published later are not checked either
    app.before_request(start_budget)
    app.teardown_request(end_budget)
    app.after_request(add_headers)
