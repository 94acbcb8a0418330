"""/api/v1/export: every match of a search as CSV or JSON Lines, streamed.

Takes the search parameters (q, filters, sort, collapse; no paging) plus
`format` (csv or jsonl), `fields` (columns, in order) and `limit`. Rows come in
the search's sort order, up to EXPORT_MAX_ROWS (100,000 by default); like the
page, one row per story (its earliest matching version) unless `collapse=false`.
The headers say how many rows matched (`X-Result-Total`: stories when collapsed)
and whether the export was cut (`X-Result-Truncated`). Memory stays flat: only document numbers and sort
keys are held for the result set, and each article's stored fields are read
as its row is written, in chunks of EXPORT_CHUNK_ROWS rows.

CSV cells that a spreadsheet would run as a formula (starting with = + - @,
a tab or a carriage return) get a leading apostrophe; JSON Lines is unchanged.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue

from search import engine, storymap
from search.errors import QueryError
from search.models import Article
from web import conditional, requests
from web.api_v1 import choice_arg, int_arg, list_arg, search_request

bp = Blueprint("export", __name__, url_prefix="/api/v1")

FIELDS = ("id", "url", "title", "summary", "body", "source", "section", "authors", "published",
          "language")
DEFAULT_FIELDS = ("id", "published", "source", "section", "title", "url")
FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def chosen_fields() -> tuple[str, ...]:
    names = list_arg("fields")
    for name in names:
        if name not in FIELDS:
            raise QueryError(f"fields must be among {', '.join(FIELDS)}; {name[:40]!r} is not.",
                             parameter="fields")
    return tuple(dict.fromkeys(names)) or DEFAULT_FIELDS


def row(a: Article, fields: tuple[str, ...]) -> dict[str, Any]:
    """Return one article's exported values (authors as a list, dates as ISO 8601)."""
    d = a.to_dict()
    return {f: d[f] for f in fields}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = "; ".join(value) if isinstance(value, list) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_chunks(articles: Iterator[Article], fields: tuple[str, ...], chunk: int) -> Iterator[str]:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(fields)
    n = 0
    for a in articles:
        values = row(a, fields)
        out.writerow([_cell(values[f]) for f in fields])
        n += 1
        if n % chunk == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def jsonl_chunks(articles: Iterator[Article], fields: tuple[str, ...], chunk: int) -> Iterator[str]:
    lines: list[str] = []
    for a in articles:
        lines.append(json.dumps(row(a, fields), ensure_ascii=False) + "\n")
        if len(lines) == chunk:
            yield "".join(lines)
            lines.clear()
    yield "".join(lines)


def filename(q: str, generation: str, fmt: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", q).strip("-")[:40].lower() or "all"
    return f"dateline-{slug}-{generation}.{fmt}"


EXPORT_PARAMS = ("q", "source", "section", "language", "author", "year", "month", "from", "to",
                 "lang", "sort", "collapse")


def export_url(fmt: str) -> str:
    """Return the export of the current page's search (its query, filters and sort)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k in EXPORT_PARAMS and v]
    return url_for("export.export") + "?" + urlencode([("format", fmt), *args])


@bp.app_context_processor
def helpers() -> dict[str, Any]:
    return {"export_url": export_url}


@bp.get("/export")
def export() -> ResponseReturnValue:
    fmt = choice_arg("format", tuple(FORMATS), "csv")
    fields = chosen_fields()
    cap = int(current_app.config["EXPORT_MAX_ROWS"])
    limit = int_arg("limit", cap, 1, cap)
    req = dataclasses.replace(search_request(), page=1, facets=False)
    # The stream outlives the request's own searcher (released at teardown, before
    # the body is sent), so it borrows one of its own until the response closes.
    lease = ExitStack()
    s, gen = lease.enter_context(requests.pool().searcher())
    try:
        v = conditional.validators(gen, cap)
        if conditional.is_fresh(v):
            lease.close()
            return conditional.not_modified(v)
        total, articles = engine.iter_matches(s, req, limit=limit,
                                              stories=storymap.load(gen.path))
    except BaseException:
        lease.close()
        raise
    chunk = int(current_app.config["EXPORT_CHUNK_ROWS"])
    body = (csv_chunks if fmt == "csv" else jsonl_chunks)(articles, fields, chunk)
    response = Response(stream_with_context(body), content_type=FORMATS[fmt])
    response.call_on_close(lease.close)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{filename(req.q, gen.name, fmt)}"'
    )
    response.headers["X-Result-Total"] = str(total)
    response.headers["X-Result-Truncated"] = "true" if total > limit else "false"
    return conditional.apply(response, v)
