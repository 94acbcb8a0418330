"""HTML pages to article fields: the main text, and metadata by a written cascade.

The body comes from `indexer.maintext` (trafilatura, then a readability-like fallback).
Each metadata field takes the first value found, in this order:

- title: JSON-LD headline -> og:title -> twitter:title -> first <h1> -> <title>; a
  " | Site" / " - Site" tail naming the site (or a short "| Section" tail) is removed.
- published: JSON-LD datePublished -> <meta> article:published_time, og:published_time,
  itemprop datePublished, DC.date.issued / DC.date / dcterms.created, parsely-pub-date,
  sailthru.date, pubdate, publishdate, date ... -> <time datetime> (pubdate or itemprop
  first) -> URL path (/2024/09/13/) -> a visible "Published ..." line -> htmldate
  (original date, extensive search). Timezone-aware; UTC when the page gives no zone.
- authors: JSON-LD author(s) -> <meta> author, article:author (names, not URLs),
  parsely-author, sailthru.author, DC.creator, byl -> byline elements (rel/itemprop/class
  "author" or "byline"); "By", role words ("Staff Writer") and e-mails are removed.
- source: og:site_name -> JSON-LD publisher.name -> `outlet_for_url` table -> bare domain.
- section: article:section -> JSON-LD articleSection -> breadcrumb (JSON-LD, then HTML).
- language: <html lang> -> og:locale -> Content-Language -> JSON-LD inLanguage -> DC.language.
- summary: og:description -> <meta> description -> twitter:description -> JSON-LD
  description -> (later) the first paragraph of the body.
- url: <link rel=canonical> -> og:url -> JSON-LD url / mainEntityOfPage.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urljoin

import htmldate
from lxml.html import HtmlElement

from indexer.dates import date_from_url, parse_date, parse_written_date
from indexer.errors import ExtractionError
from indexer.fields import ArticleFields
from indexer.htmlpage import (
    JsonObject,
    article_object,
    first_meta,
    first_string,
    jsonld_objects,
    meta_values,
    names_in,
    parse_html,
    resolve,
    text_of,
    types_of,
)
from indexer.maintext import main_text
from indexer.metadata import (
    canonical_url,
    clean_authors,
    host_of,
    outlet_for_url,
    same_name,
    section_label,
    strip_site_suffix,
)
from indexer.normalize import clean_line, paragraphs_of

_DATE_META = (
    "article:published_time", "og:published_time", "og:article:published_time",
    "datepublished", "dc.date.issued", "dcterms.issued", "dc.date.created", "dcterms.created",
    "dc.date", "dcterms.date", "parsely-pub-date", "sailthru.date", "article.published",
    "pubdate", "publishdate", "publish-date", "publish_date", "date", "article_date_original",
    "cxenseparse:recs:publishtime", "originalpublicationdate", "displaydate",
)  # fmt: skip
_AUTHOR_META = (
    "author", "article:author", "parsely-author", "sailthru.author", "dc.creator",
    "dcterms.creator", "byl", "twitter:creator:name",
)  # fmt: skip
_LOWER = 'translate(@class, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")'
_BYLINE_XPATH = (
    '//*[@rel="author" or @itemprop="author" or ((contains(LOWER, "byline") or '
    'contains(LOWER, "author") or contains(LOWER, "autor")) and not(contains(LOWER, "avatar") '
    'or contains(LOWER, "bio") or contains(LOWER, "desc") or contains(LOWER, "info") or '
    'contains(LOWER, "image") or contains(LOWER, "img") or contains(LOWER, "photo") or '
    'contains(LOWER, "social") or contains(LOWER, "contact") or contains(LOWER, "box")))]'
).replace("LOWER", _LOWER)
_PUBLISHED_LINE = re.compile(r"^(?:published|posted|first published|updated)\b", re.I)
_HOME = re.compile(
    r"^(?:home|homepage|start|startseite|accueil|inicio|portada|anasayfa|news)$", re.I
)


def extract_html(text: str) -> ArticleFields:
    """Turn a decoded HTML page into article fields, or raise ExtractionError."""
    tree = parse_html(text)
    meta = meta_values(tree)
    objects = jsonld_objects(tree)
    article = article_object(objects) or {}
    url = _url(tree, meta, article)
    source = _source(meta, article, objects, url)
    sites = [source, host_of(url)]  # names that are the site, not a title/author/section
    headlines = _headlines(tree, meta, article, sites)
    title = headlines[0] if headlines else ""
    paragraphs = paragraphs_of(main_text(text, tree, url))
    # trafilatura may keep the <h1>; the headline is the title, not the body's first line.
    seen = {h.casefold() for h in headlines}
    while paragraphs and clean_line(paragraphs[0]).casefold() in seen:
        paragraphs = paragraphs[1:]
    if not paragraphs:
        raise ExtractionError("no article text found in HTML")
    return ArticleFields(
        title=title,
        body="\n\n".join(paragraphs),
        url=url,
        summary=_summary(meta, article),
        source=source,
        section=_section(tree, meta, article, objects, title, sites),
        authors=_authors(tree, meta, article, objects, sites),
        published=_published(tree, meta, article, url, text),
        language=_language(tree, meta, article),
    )


def _url(tree: HtmlElement, meta: dict[str, list[str]], article: JsonObject) -> str | None:
    og_url = first_meta(meta, "og:url")
    candidates = [
        *(link.get("href") for link in tree.xpath('//link[@rel="canonical"]')),
        og_url,
        first_string(article.get("url")),
        first_string(_id_of(article.get("mainEntityOfPage"))),
    ]
    for candidate in candidates:
        if not candidate:
            continue
        absolute = urljoin(og_url, candidate) if og_url else candidate
        if canonical_url(absolute):
            return absolute.strip()
    return None


def _id_of(value: Any) -> Any:
    return value.get("@id") if isinstance(value, dict) else value


def _source(
    meta: dict[str, list[str]], article: JsonObject, objects: list[JsonObject], url: str | None
) -> str | None:
    publisher = names_in(article.get("publisher"), objects)
    site_name = clean_line(first_meta(meta, "og:site_name"))
    if site_name.startswith("@"):  # a social handle, not a name
        site_name = ""
    return site_name or (publisher[0] if publisher else None) or outlet_for_url(url) or host_of(url)


def _headlines(
    tree: HtmlElement, meta: dict[str, list[str]], article: JsonObject, sites: list[str | None]
) -> list[str]:
    """Return the page's headline candidates, best first (the title is the first)."""
    h1 = next((text_of(h) for h in tree.iter("h1") if len(text_of(h)) > 3), None)
    title_tag = tree.find(".//title")
    candidates = [
        first_string(article.get("headline")),
        first_meta(meta, "og:title"),
        first_meta(meta, "twitter:title"),
        h1,
        text_of(title_tag) if title_tag is not None else None,
    ]
    site_names = {(s or "").casefold() for s in sites}
    titles = (strip_site_suffix(candidate or "", sites) for candidate in candidates)
    return [title for title in titles if title and title.casefold() not in site_names]


def _published(
    tree: HtmlElement,
    meta: dict[str, list[str]],
    article: JsonObject,
    url: str | None,
    text: str,
) -> dt.datetime | None:
    found = parse_date(first_string(article.get("datePublished"))) or parse_date(
        first_string(article.get("dateCreated"))
    )
    for key in _DATE_META:
        if found:
            break
        found = parse_date(first_meta(meta, key))
    found = found or _time_element(tree) or date_from_url(url) or _visible_date(tree)
    if not found:
        # htmldate digs through what is left (scripts, text patterns). It gets the text,
        # not our tree, because it prunes the tree it is given.
        try:
            guess = htmldate.find_date(text, extensive_search=True, original_date=True, url=url)
        except (ValueError, TypeError, RecursionError):
            guess = None
        found = parse_date(guess)
    return found


def _time_element(tree: HtmlElement) -> dt.datetime | None:
    times = tree.xpath("//time[@datetime]")
    preferred = [
        t for t in times if t.get("pubdate") is not None or t.get("itemprop") == "datePublished"
    ]
    for element in preferred + times:
        found = parse_date(element.get("datetime"))
        if found:
            return found
    return None


def _visible_date(tree: HtmlElement) -> dt.datetime | None:
    """Find a short element reading "Published September 13, 2024" (or Posted, Updated)."""
    body = tree.find("body")
    if body is None:
        return None
    for count, element in enumerate(body.iter("p", "div", "span", "time", "li", "small")):
        if count > 5000:
            break
        text = element.text_content()
        if len(text) < 120 and _PUBLISHED_LINE.match(clean_line(text)):
            found = parse_written_date(text)
            if found:
                return found
    return None


def _authors(
    tree: HtmlElement,
    meta: dict[str, list[str]],
    article: JsonObject,
    objects: list[JsonObject],
    sites: list[str | None],
) -> tuple[str, ...]:
    meta_names = next(
        (
            [v for v in meta[key] if not v.strip().startswith(("http://", "https://", "/", "@"))]
            for key in _AUTHOR_META
            if meta.get(key)
        ),
        [],
    )
    for names in (names_in(article.get("author"), objects), meta_names, _byline(tree)):
        # A publisher named as author says nothing about who wrote the piece.
        found = tuple(n for n in clean_authors(names) if not same_name(n, sites))
        if found:
            return found
    return ()


def _byline(tree: HtmlElement) -> list[str]:
    """Return the names in the first byline-like element, one piece of text per name."""
    for element in tree.xpath(_BYLINE_XPATH)[:8]:
        text = text_of(element)
        if not 2 < len(text) < 150:
            continue
        pieces = [clean_line(piece) for piece in element.itertext()]
        return ["; ".join(piece for piece in pieces if piece)]
    return []


def _section(
    tree: HtmlElement,
    meta: dict[str, list[str]],
    article: JsonObject,
    objects: list[JsonObject],
    title: str,
    sites: list[str | None],
) -> str | None:
    candidates = (
        lambda: first_meta(meta, "article:section", "section", "parsely-section"),
        lambda: first_string(article.get("articleSection")),
        lambda: _breadcrumb(objects, title),
        lambda: _html_breadcrumb(tree, title),
    )
    for candidate in candidates:
        found = candidate()
        if found and not same_name(found, sites):  # "gizmodo.com" is not a section
            return section_label(found)
    return None


def _breadcrumb(objects: list[JsonObject], title: str) -> str | None:
    """Return the deepest breadcrumb step above the article itself."""
    for obj in objects:
        if "BreadcrumbList" not in types_of(obj):
            continue
        items = obj.get("itemListElement")
        if not isinstance(items, list):
            continue
        steps = sorted((i for i in items if isinstance(i, dict)), key=_position)
        names = []
        for step in steps:
            item = resolve(step.get("item"), objects)
            name = step.get("name") or (item.get("name") if isinstance(item, dict) else None)
            if isinstance(name, str):
                names.append(clean_line(name))
        found = _deepest_step(names, title)
        if found:
            return found
    return None


def _position(step: JsonObject) -> int:
    position = step.get("position")
    return int(position) if isinstance(position, int | str) and str(position).isdigit() else 0


def _html_breadcrumb(tree: HtmlElement, title: str) -> str | None:
    trails = tree.xpath(
        '//*[contains(@class, "breadcrumb") or @aria-label="breadcrumb" or '
        '@aria-label="Breadcrumb"]'
    )
    for trail in trails[:3]:
        names = [text_of(a) for a in trail.iter("a")]
        found = _deepest_step(names, title)
        if found:
            return found
    return None


def _deepest_step(names: list[str], title: str) -> str | None:
    steps = [
        n
        for n in names
        if n and not _HOME.match(n) and n.casefold() != title.casefold() and len(n) <= 40
    ]
    return steps[-1] if steps else None


def _language(tree: HtmlElement, meta: dict[str, list[str]], article: JsonObject) -> str | None:
    return (
        tree.get("lang")
        or tree.get("xml:lang")
        or first_meta(meta, "og:locale", "content-language", "language", "dc.language")
        or first_string(article.get("inLanguage"))
    )


def _summary(meta: dict[str, list[str]], article: JsonObject) -> str:
    found = first_meta(meta, "og:description", "description", "twitter:description")
    return clean_line(found or first_string(article.get("description")))
