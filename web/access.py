"""Who may call the API, and from where: CORS allow-list, API keys, per-key rate limits.

Both are off by default, and the app then behaves as if this module did not exist.

- `CORS_ORIGINS`: origins (scheme://host[:port]) whose pages may read API and
  feed responses from a browser, as a list or a comma-separated string; "*"
  allows any. Requests from other origins get no CORS headers, so browsers
  keep the response from the page. No credentials are ever allowed.
- `API_KEYS`: {key: rate limit} (Flask-Limiter notation: "600/minute",
  "10/second;1000/hour"; "" or null for no limit), or a list (or comma-separated
  string) of keys that share `API_KEY_LIMIT`. With keys configured, every
  API and feed request is counted against its key (sent as `X-API-Key: KEY`,
  `Authorization: Bearer KEY` or, for links that cannot send headers,
  `?api_key=KEY`); requests without a key share `API_ANONYMOUS_LIMIT` per
  client address ("60/minute" by default; "" for none), or get 401 when
  `API_REQUIRE_KEY` is true. An unknown key gets 401. Over a limit: 429 with
  `Retry-After` (seconds) and `X-RateLimit-*` headers. Health checks, the
  OpenAPI document and its page are never limited.

Counters live in each process's memory (`RATELIMIT_STORAGE_URI`, default
`memory://`): with N gunicorn workers a client can get up to N times a limit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_limiter import ApplicationLimit, Limiter

from search.errors import SearchError

GUARDED = ("/api/", "/feeds/")
UNGUARDED = ("/api/health", "/api/v1/health", "/api/v1/openapi.json", "/api/v1/docs")
EXPOSED_HEADERS = ("ETag, Last-Modified, Retry-After, Content-Disposition, X-RateLimit-Limit, "
                   "X-RateLimit-Remaining, X-RateLimit-Reset, X-Result-Total, X-Result-Truncated")
ALLOWED_HEADERS = "Authorization, X-API-Key, If-None-Match, If-Modified-Since"


class KeyRejected(SearchError):
    status = 401
    code = "invalid_api_key"


def _origins(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    return tuple(o.strip().rstrip("/") for o in items if o and o.strip())


def _guarded() -> bool:
    p = request.path
    return p.startswith(GUARDED) and not p.startswith(UNGUARDED) and request.method != "OPTIONS"


def _add_cors(response: Response) -> Response:
    origins = current_app.extensions["dateline_cors"]
    if not origins or not request.path.startswith(GUARDED):
        return response
    response.vary.add("Origin")
    origin = request.headers.get("Origin", "")
    if not origin or ("*" not in origins and origin.rstrip("/") not in origins):
        return response
    response.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def presented_key() -> str | None:
    """Return the API key the request carries, if any."""
    key = request.headers.get("X-API-Key", "").strip()
    auth = request.headers.get("Authorization", "")
    if not key and auth[:7].lower() == "bearer ":
        key = auth[7:].strip()
    return key or request.args.get("api_key", "").strip() or None


def _identify() -> None:
    """Find who is calling (g.rate_bucket, g.rate_limit); 401 for an unknown key."""
    if not _guarded():
        return
    keys: Mapping[str, str | None] = current_app.extensions["dateline_api_keys"]
    key = presented_key()
    if key is not None:
        if key not in keys:
            raise KeyRejected("Unknown API key.", parameter="api_key")
        g.rate_bucket = "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]
        g.rate_limit = keys[key] or ""
        return
    if current_app.config.get("API_REQUIRE_KEY"):
        raise KeyRejected("This API needs a key: send it as X-API-Key or Authorization: Bearer.",
                          parameter="api_key")
    g.rate_bucket = "anon:" + (request.remote_addr or "unknown")
    g.rate_limit = current_app.config.get("API_ANONYMOUS_LIMIT") or ""


def _limit() -> str:
    return str(g.get("rate_limit", ""))


def _bucket() -> str:
    return str(g.get("rate_bucket", "none"))


def _exempt() -> bool:
    return not _guarded() or not g.get("rate_limit")


def _message() -> str:
    who = "this API key" if _bucket().startswith("key:") else "requests without an API key"
    return f"Rate limit {_limit()} exceeded for {who}; retry after Retry-After seconds."


def init_app(app: Flask) -> None:
    """Set up CORS and, when API_KEYS is configured, keys and rate limits."""
    app.extensions["dateline_cors"] = _origins(app.config.get("CORS_ORIGINS"))
    app.after_request(_add_cors)
    keys = app.config.get("API_KEYS") or {}
    if isinstance(keys, str):  # DATELINE_API_KEYS=k1,k2 (not JSON)
        keys = [k.strip() for k in keys.split(",") if k.strip()]
    if isinstance(keys, (list, tuple)):  # keys without their own limit
        keys = dict.fromkeys(keys, app.config.get("API_KEY_LIMIT") or "")
    app.extensions["dateline_api_keys"] = dict(keys)
    if not keys:
        return
    app.before_request(_identify)  # registered before the limiter's own check
    Limiter(
        key_func=_bucket,
        app=app,
        storage_uri=app.config.get("RATELIMIT_STORAGE_URI") or "memory://",
        headers_enabled=True,
        application_limits=[
            ApplicationLimit(_limit, exempt_when=_exempt, error_message=_message),
        ],
    )
