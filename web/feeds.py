"""Saved searches as Atom feeds: /feeds/search.atom takes any search's parameters.

The feed holds the newest matching articles that have a publication date
(undated articles are never "new"), `limit` of them (FEED_SIZE by default,
at most 100); like the page, one per story (its earliest matching version)
unless `collapse=false`, so a wire story reprinted by ten outlets is one entry. Entry ids are tag URIs built from article ids, so they stay the
same across reindexing; the feed id is built from the search parameters.
Set FEED_TAG_AUTHORITY to a domain you own to keep ids stable when the host
name changes (by default the request's host). Each entry's `published` and
`updated` are the article's publication time; the feed's `updated` is its
newest entry's. Responses carry ETag and Last-Modified and answer 304.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from search import engine
from search.errors import SearchError
from search.models import Article
from web import conditional, requests
from web.api_v1 import int_arg, search_request

bp = Blueprint("feeds", __name__, url_prefix="/feeds")

ATOM_NS = "http://www.w3.org/2005/Atom"
MAX_ENTRIES = 100
SUMMARY_CHARS = 400
FEED_PARAMS = ("q", "source", "section", "language", "author", "year", "month", "from", "to",
               "lang", "collapse")
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DNS_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def xml_text(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (control characters from old pages)."""
    return _NOT_XML.sub("", text)


def tag_prefix() -> str:
    """Return `tag:AUTHORITY,DATE:` (RFC 4151) for this installation's ids."""
    authority = current_app.config.get("FEED_TAG_AUTHORITY") or request.host.rsplit(":", 1)[0]
    if not _DNS_NAME.fullmatch(authority):
        authority = "localhost"  # e.g. an IPv6 literal
    return f"tag:{authority.lower()},{current_app.config['FEED_TAG_DATE']}:"


def search_args() -> list[tuple[str, str]]:
    return [(k, v) for k, v in conditional.canonical_args(request.args) if k in FEED_PARAMS and v]


def feed_title(args: list[tuple[str, str]]) -> str:
    q = next((v for k, v in args if k == "q"), "")
    filters = ", ".join(f"{k}: {v}" for k, v in args if k != "q")
    what = f"“{q}”" if q else "all articles"
    return f"Dateline: {what}" + (f" ({filters})" if filters else "")


def summary(a: Article) -> str:
    text = a.summary or " ".join(a.body.split())
    if len(text) <= SUMMARY_CHARS:
        return text
    return text[:SUMMARY_CHARS].rsplit(" ", 1)[0] + " …"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        el.text = xml_text(text)
    return el


def entry(feed: ET.Element, a: Article, prefix: str) -> None:
    assert a.published is not None
    e = _sub(feed, "entry")
    _sub(e, "id", f"{prefix}article:{a.id}")
    _sub(e, "title", a.title or "(untitled)", type="text")
    page = url_for("pages.article", article_id=a.id, _external=True)
    _sub(e, "link", rel="alternate", type="text/html", href=a.url or page)
    if a.url:
        _sub(e, "link", rel="related", type="text/html", href=page)
    when = a.published.isoformat()
    _sub(e, "published", when)
    _sub(e, "updated", when)
    for name in a.authors:
        _sub(_sub(e, "author"), "name", name)
    if a.source:
        _sub(e, "category", term=a.source, label=a.source, scheme=f"{prefix}source")
    if a.section:
        _sub(e, "category", term=a.section, label=a.section, scheme=f"{prefix}section")
    text = summary(a)
    if text:
        _sub(e, "summary", text, type="text")


@bp.errorhandler(SearchError)
def search_error(e: SearchError) -> ResponseReturnValue:
    """Feed readers and scripts get the API's JSON error envelope, not an HTML page."""
    return jsonify({"ok": False, "error": e.to_dict()}), e.status


@bp.errorhandler(HTTPException)
def http_error(e: HTTPException) -> ResponseReturnValue:
    response = e.get_response()
    code = (e.name or "error").lower().replace(" ", "_")
    body = {"ok": False, "error": {"code": code, "message": e.description, "parameter": None}}
    response.set_data(json.dumps(body))
    response.content_type = "application/json"
    return response


def feed_url() -> str:
    """Return the feed of the current page's search (its query and filters)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k in FEED_PARAMS and v]
    return url_for("feeds.search_feed") + ("?" + urlencode(args) if args else "")


@bp.app_context_processor
def helpers() -> dict[str, Any]:
    return {"feed_url": feed_url}


@bp.get("/search.atom")
def search_feed() -> ResponseReturnValue:
    limit = int_arg("limit", int(current_app.config["FEED_SIZE"]), 1, MAX_ENTRIES)
    req = dataclasses.replace(search_request(), sort="newest", page=1, facets=False)
    gen = requests.generation()
    v = conditional.validators(gen, current_app.config.get("FEED_TAG_AUTHORITY"),
                               current_app.config["FEED_TAG_DATE"], limit, request.host)
    if conditional.is_fresh(v):
        return conditional.not_modified(v)
    _, articles = engine.iter_matches(requests.searcher(), req, limit=limit,
                                      stories=requests.story_map())
    newest = []
    for a in articles:
        if a.published is None:
            break  # undated articles sort last
        newest.append(a)

    args = search_args()
    prefix = tag_prefix()
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(feed, "id", f"{prefix}search?{urlencode(args)}")
    _sub(feed, "title", feed_title(args), type="text")
    updated = max((a.published for a in newest if a.published), default=v.last_modified or _EPOCH)
    _sub(feed, "updated", updated.isoformat())
    own = urlencode(conditional.canonical_args(request.args))  # without api_key
    _sub(feed, "link", rel="self", type="application/atom+xml",
         href=request.base_url + ("?" + own if own else ""))
    _sub(feed, "link", rel="alternate", type="text/html",
         href=url_for("pages.search", _external=True) + ("?" + urlencode(args) if args else ""))
    _sub(_sub(feed, "author"), "name", "Dateline")
    _sub(feed, "generator", "Dateline")
    for a in newest:
        entry(feed, a, prefix)
    xml = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    response = Response(xml, content_type="application/atom+xml; charset=utf-8")
    return conditional.apply(response, v)
