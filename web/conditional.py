"""Conditional GET for API and feed responses: ETag and Last-Modified from the index generation.

A response of these endpoints is a function of the served generation, the
request (path and query string, less `api_key`) and this code's revision, so
the validators come from those alone, before any searching: a client that
sends `If-None-Match` (or `If-Modified-Since`) for an unchanged generation
gets `304 Not Modified` without the search being run. ETags are weak because
bodies carry timings (`took_ms`) that differ between equivalent responses.

Last-Modified is when the served generation was published (the modification
time of INDEX_DIR/CURRENT, which publishing and rollback both replace), read
when the request is answered; it is left out when the searcher serves another
generation than CURRENT names (a publish in between, or a new generation that
cannot be opened yet), so it never claims a time newer than the content.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Hashable
from dataclasses import dataclass

from flask import Response, request
from werkzeug.datastructures import MultiDict

from search.index import POINTER, Generation
from web import requests

# Bump when a response body changes shape for the same generation and request,
# so validators handed out by the previous code stop matching.
API_REVISION = "2"  # 2: v1 search, export and feeds collapse by story; facet story counts
IGNORED_PARAMS = frozenset({"api_key"})


@dataclass(frozen=True)
class Validators:
    etag: str
    last_modified: dt.datetime | None


def _published_at() -> tuple[str | None, dt.datetime | None]:
    """Return (name in CURRENT, its modification time), or (None, None)."""
    path = requests.pool().location.root / POINTER
    try:
        mtime = path.stat().st_mtime
        name = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None, None
    return name, dt.datetime.fromtimestamp(int(mtime), dt.timezone.utc)


def canonical_args(args: MultiDict[str, str]) -> list[tuple[str, str]]:
    """Return the query parameters that select a response, in a fixed order."""
    return sorted((k, v) for k, v in args.items(multi=True) if k not in IGNORED_PARAMS)


def validators(gen: Generation, *variant: Hashable) -> Validators:
    """Return the validators of this request's response when served from `gen`.

    `variant` adds anything else the body depends on (a configured cap).
    """
    name, published = _published_at()
    payload = [API_REVISION, gen.name, request.path, canonical_args(request.args),
               [repr(v) for v in variant]]  # fmt: skip
    digest = hashlib.sha256(json.dumps(payload, ensure_ascii=True).encode("ascii")).hexdigest()
    last_modified = published if name == gen.name else None
    return Validators(etag=digest[:32], last_modified=last_modified)


def is_fresh(v: Validators) -> bool:
    """True when the client's cached copy is still current (answer 304)."""
    if request.if_none_match:
        return request.if_none_match.contains_weak(v.etag)
    since = request.if_modified_since
    return since is not None and v.last_modified is not None and v.last_modified <= since


def apply(response: Response, v: Validators) -> Response:
    """Add the validators and ask caches to revalidate before reusing the response."""
    response.set_etag(v.etag, weak=True)
    if v.last_modified is not None:
        response.last_modified = v.last_modified
    response.cache_control.no_cache = True
    return response


def not_modified(v: Validators) -> Response:
    """Return an empty 304 carrying the same validators."""
    return apply(Response(status=304), v)
