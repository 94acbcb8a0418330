"""The publication date of an HTML page: a written cascade, a vote, and the local day.

Candidates, in cascade order (each source gives at most one):
JSON-LD datePublished (dateCreated when absent) -> <meta> article:published_time,
og:published_time, itemprop datePublished, DC.date.issued / DC.date / dcterms.created,
parsely-pub-date, sailthru.date, pubdate, publishdate, date ... -> <time datetime> (pubdate or
itemprop) -> the URL path (/2024/09/13/, /2019-11-20-slug) -> the first <time datetime>.

1. Dates later than `not_after` (the crawl: now, or the file's time) are dropped.
2. The calendar day named by the most candidates wins; a tie goes to the earliest in the
   cascade, whose value is returned. A CMS that writes a stale JSON-LD date is outvoted
   by the page's own meta tags and URL.
3. A UTC timestamp is moved to the page's own zone when the page says which: the same
   instant written with an offset, a zone-less local time a whole number of quarter-hours
   away, or a URL day one day off (the instant is kept; only its offset changes).

Without any candidate: a short visible "Published September 13, 2024" line, then htmldate
(original date, extensive search) bounded by `not_after`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass

import htmldate
from lxml.html import HtmlElement

from indexer.dates import UTC, date_from_url, parse_date, parse_written_date
from indexer.htmlpage import JsonObject, first_meta, first_string
from indexer.maintext import HEAVY_HTML_CHARS
from indexer.normalize import clean_line

DATE_META = (
    "article:published_time", "og:published_time", "og:article:published_time",
    "datepublished", "dc.date.issued", "dcterms.issued", "dc.date.created", "dcterms.created",
    "dc.date", "dcterms.date", "parsely-pub-date", "sailthru.date", "article.published",
    "pubdate", "publishdate", "publish-date", "publish_date", "date", "article_date_original",
    "cxenseparse:recs:publishtime", "originalpublicationdate", "displaydate",
)  # fmt: skip
_PUBLISHED_LINE = re.compile(r"^(?:published|posted|first published|updated)\b", re.I)
_HAS_ZONE = re.compile(r"(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})\s*$", re.I)
MAX_OFFSET = dt.timedelta(hours=14)
VISIBLE_SCAN = 5000


@dataclass(frozen=True)
class _Candidate:
    source: str
    value: dt.datetime
    zoned: bool  # the page wrote a zone (Z, +02:00); otherwise UTC was assumed


def published_date(
    tree: HtmlElement,
    meta: dict[str, list[str]],
    article: JsonObject,
    url: str | None,
    html: str,
    not_after: dt.datetime,
) -> dt.datetime | None:
    """Return the page's publication date (timezone-aware), or None."""
    candidates = [c for c in _candidates(tree, meta, article, url) if c.value <= not_after]
    if candidates:
        return _local(_vote(candidates), candidates)
    found = _visible_date(tree)
    if found:  # the page says when; a date after the crawl is wrong, not a cue to guess
        return found if found <= not_after else None
    if len(html) > HEAVY_HTML_CHARS:  # htmldate's regex scans grow too slow
        return None
    # htmldate digs through what is left (scripts, text patterns). It gets the text, not
    # our tree, because it prunes the tree it is given. It downloads a str that starts with
    # "http" and has no space: the leading space keeps a page holding only a URL a page.
    try:
        guess = htmldate.find_date(
            " " + html,
            extensive_search=True,
            original_date=True,
            url=url,
            max_date=not_after.strftime("%Y-%m-%d"),
        )
    except (ValueError, TypeError, RecursionError):
        guess = None
    found = parse_date(guess)
    return found if found and found <= not_after else None


def _candidates(
    tree: HtmlElement, meta: dict[str, list[str]], article: JsonObject, url: str | None
) -> list[_Candidate]:
    marked = _time_element(tree, marked=True)
    stated: list[tuple[str, str | None]] = [
        ("jsonld", first_string(article.get("datePublished"))
         or first_string(article.get("dateCreated"))),
        *((key, first_meta(meta, key)) for key in DATE_META),
        ("time", marked),
    ]  # fmt: skip
    found = [c for source, text in stated if (c := _candidate(source, text))]
    from_url = date_from_url(url)
    if from_url is not None:
        found.append(_Candidate("url", from_url, False))
    if marked is None:  # any other <time> comes last: it may date a comment or a teaser
        first_time = _candidate("time", _time_element(tree, marked=False))
        found.extend([first_time] if first_time else [])
    return found


def _candidate(source: str, text: str | None) -> _Candidate | None:
    value = parse_date(text)
    if value is None or text is None:
        return None
    zoned = bool(_HAS_ZONE.search(text.strip())) or text.strip().isdigit()
    return _Candidate(source, value, zoned)


def _time_element(tree: HtmlElement, *, marked: bool) -> str | None:
    """Return a <time datetime> marked as the publication (or else the first one)."""
    times = tree.xpath("//time[@datetime]")
    if marked:
        times = [
            t for t in times if t.get("pubdate") is not None or t.get("itemprop") == "datePublished"
        ]
    for element in times if marked else times[:1]:
        if parse_date(element.get("datetime")):
            return str(element.get("datetime"))
    return None


def _vote(candidates: list[_Candidate]) -> _Candidate:
    """Return the first candidate on the day most candidates name."""
    days = Counter(c.value.date() for c in candidates)
    best = max(days.values())
    return next(c for c in candidates if days[c.value.date()] == best)


def _local(chosen: _Candidate, candidates: list[_Candidate]) -> dt.datetime:
    """Write a UTC instant in the page's own zone when another candidate reveals it."""
    value = chosen.value
    if value.utcoffset() != dt.timedelta(0) or not chosen.zoned:
        return value
    for other in candidates:
        offset = other.value.utcoffset()
        if other.zoned and offset and other.value == value:
            return other.value  # the same instant, written with its offset
    for other in candidates:
        if other.zoned or other.source == "url":
            continue
        gap = other.value.replace(tzinfo=None) - value.replace(tzinfo=None)
        quarter = dt.timedelta(minutes=15)
        if gap and abs(gap) <= MAX_OFFSET and gap % quarter == dt.timedelta(0):
            return value.astimezone(dt.timezone(gap))  # a local time of the same instant
    url_day = next((c.value.date() for c in candidates if c.source == "url"), None)
    if url_day is not None and abs((url_day - value.date()).days) == 1:
        return _on_day(value, url_day) or value
    return value


def _on_day(value: dt.datetime, day: dt.date) -> dt.datetime | None:
    """Return `value` at the smallest whole-hour offset that puts it on `day`, if any."""
    hour = dt.timedelta(hours=1)
    if day > value.date():  # a zone east of UTC: the smallest offset reaching `day`
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
        hours = -(-(midnight - value) // hour)
    else:  # west of UTC: the smallest offset leaving `value`'s own day
        start = dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
        hours = -((value - start) // hour + 1)
    offset = dt.timedelta(hours=hours)
    if abs(offset) > MAX_OFFSET:
        return None
    shifted = value.astimezone(dt.timezone(offset))
    return shifted if shifted.date() == day else None


def _visible_date(tree: HtmlElement) -> dt.datetime | None:
    """Find a short element reading "Published September 13, 2024" (or Posted, Updated)."""
    body = tree.find("body")
    if body is None:
        return None
    for count, element in enumerate(body.iter("p", "div", "span", "time", "li", "small")):
        if count > VISIBLE_SCAN:
            break
        head = clean_line(element.text or "")
        if not head or not _PUBLISHED_LINE.match(head):
            continue
        text = element.text_content()
        if len(text) < 120:
            found = parse_written_date(text)
            if found:
                return found
    return None
