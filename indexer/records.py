"""Already-extracted articles stored as JSON (one object or a list) or JSON Lines.

Collections name their fields differently; each Article field takes the first key present:

- title: title, headline, name (else the body's first line, shortened)
- body: body, text, content, articleBody, article, full_text (hard-wrapped newswire text is
  reflowed into paragraphs)
- summary: summary, subtitle, description, abstract, lead, standfirst
- published: published, publish_date, published_at, datePublished, date, pubDate,
  created_at, timestamp (ISO 8601, date-only or naive taken as UTC, epoch seconds)
- authors: authors (list), author, byline, creator
- source: source, outlet, publisher, site, source_name (domains and slugs become outlet
  names through `outlet_for_url`; "Reuters" stays "Reuters")
- section: section, category, topic, department (first of a list or of "a,b")
- url: url, link, canonical_url; language: language, lang, locale

A record with neither title nor body, or a line that is not JSON, becomes a `Skipped`
naming its line, so one bad record never costs the whole file.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from indexer.dates import parse_date
from indexer.errors import ExtractionError, Skipped
from indexer.fields import ArticleFields, to_article
from indexer.metadata import clean_authors, source_name
from indexer.normalize import clean_line, reflow
from search.models import Article

TITLE_KEYS = ("title", "headline", "name")
BODY_KEYS = ("body", "text", "content", "articleBody", "article", "full_text")
SUMMARY_KEYS = ("summary", "subtitle", "description", "abstract", "lead", "standfirst")
DATE_KEYS = (
    "published", "publish_date", "published_at", "datePublished", "date", "pubDate",
    "created_at", "timestamp",
)  # fmt: skip
AUTHOR_KEYS = ("authors", "author", "byline", "creator")
SOURCE_KEYS = ("source", "outlet", "publisher", "site", "source_name")
SECTION_KEYS = ("section", "category", "topic", "department")
URL_KEYS = ("url", "link", "canonical_url")
LANGUAGE_KEYS = ("language", "lang", "locale")
# Keys under which a JSON file may wrap its list of records.
WRAPPER_KEYS = ("articles", "items", "records", "data", "results")
DERIVED_TITLE_CHARS = 100


def iter_records(
    path: str, text: str, *, lines: bool, not_after: dt.datetime | None = None
) -> Iterator[Article | Skipped]:
    """Yield an Article or a Skipped for each record of a JSON or JSON Lines text.

    A Skipped's path names the record ("file.jsonl:12"); its reason does not repeat it,
    so job reports can group skips by reason.
    """
    if lines:
        yield from _iter_lines(path, text, not_after)
        return
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ExtractionError(f"invalid JSON: {error}") from error
    except RecursionError as error:
        raise ExtractionError("JSON nested too deeply") from error
    records = _unwrap(data)
    if not records:
        raise ExtractionError("no records in JSON file")
    for number, record in enumerate(records, start=1):
        yield _from_record(f"{path}:{number}", record, not_after)


def _lines(text: str) -> Iterator[str]:
    """Yield the lines of `text` one at a time (as `str.splitlines` would list them).

    An archive of 100 MB of Arabic text is ~200 MB as a str; a list of its lines
    would double that for the whole time the file is being indexed.
    """
    return iter(io.StringIO(text, newline=None)) if "\r" in text else _split_lf(text)


def _split_lf(text: str) -> Iterator[str]:
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            if start < len(text):
                yield text[start:]
            return
        yield text[start:end]
        start = end + 1


def _iter_lines(path: str, text: str, not_after: dt.datetime | None) -> Iterator[Article | Skipped]:
    return iter_lines(path, _lines(text), not_after=not_after)


def iter_lines(
    path: str, lines: Iterable[str], *, not_after: dt.datetime | None = None
) -> Iterator[Article | Skipped]:
    """Yield an Article or a Skipped for each line of a JSON Lines file given as its lines.

    The same as `iter_records(..., lines=True)` over the joined text, for files read
    a line at a time (`indexer.sources.LineSource`).
    """
    seen = False
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        seen = True
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield Skipped(where, f"invalid JSON: {error.msg}")
            continue
        except (ValueError, RecursionError):
            yield Skipped(where, "invalid JSON: nested too deeply")
            continue
        yield _from_record(where, record, not_after)
    if not seen:
        raise ExtractionError("no records in JSON Lines file")


def _unwrap(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in WRAPPER_KEYS:
            if isinstance(data.get(key), list) and not _first(data, TITLE_KEYS + BODY_KEYS):
                return list(data[key])
        return [data]
    return [data]


def _from_record(where: str, record: Any, not_after: dt.datetime | None) -> Article | Skipped:
    if not isinstance(record, dict):
        return Skipped(where, "record is not a JSON object")
    try:
        fields = record_fields(record)
    except ValueError as error:
        return Skipped(where, str(error))
    return to_article(fields, where, not_after)


def record_fields(record: dict[str, Any]) -> ArticleFields:
    """Map one record's keys onto article fields; ValueError if it has no title nor body."""
    body = reflow(_text(_first(record, BODY_KEYS)))
    title = clean_line(_text(_first(record, TITLE_KEYS)))
    if not title and not body:
        raise ValueError("record has neither title nor body")
    if not title:
        title = _title_from(body)
    url = _text(_first(record, URL_KEYS)) or None
    return ArticleFields(
        title=title,
        body=body,
        url=url,
        summary=clean_line(_text(_first(record, SUMMARY_KEYS))),
        source=source_name(_name(_first(record, SOURCE_KEYS)), url),
        section=_section(_first(record, SECTION_KEYS)),
        authors=clean_authors(_names(_first(record, AUTHOR_KEYS))),
        published=parse_date(_first(record, DATE_KEYS)),
        language=_text(_first(record, LANGUAGE_KEYS)) or None,
        cleaned=True,
    )


def _first(record: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = record.get(key)
        if value not in (None, "", [], {}):
            return value
    return None


def _text(value: Any) -> str:
    """Return a field as text: a string, a number, a list of paragraphs, or {"text": ...}."""
    if isinstance(value, list):
        return "\n\n".join(_scalar(v) for v in value if v)
    return _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("text") or value.get("value") or value.get("name")
    return str(value) if isinstance(value, str | int | float) else ""


def _name(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("name")
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _names(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [name for item in items if (name := _name(item))]


def _section(value: Any) -> str | None:
    """Return one section; "grain,oat" (a topic list without spaces) gives "grain"."""
    first = _name(value)
    if not first:
        return None
    if "," in first and ", " not in first:
        first = first.split(",", 1)[0]
    return clean_line(first) or None


def _title_from(body: str) -> str:
    """Make a title from the body's first line, shortened at a word boundary."""
    first = clean_line(body.split("\n", 1)[0])
    if len(first) <= DERIVED_TITLE_CHARS:
        return first
    return first[:DERIVED_TITLE_CHARS].rsplit(" ", 1)[0] + "…"
