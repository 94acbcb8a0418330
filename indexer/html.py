"""HTML pages to article fields: the main text, and metadata by a written cascade.

The body comes from `indexer.maintext` (trafilatura, chunked articles stitched together,
then a readability-like fallback). Metadata, field by field:

- title: `indexer.headline`: JSON-LD headline -> dc.title -> og:title -> twitter:title ->
  parsely/sailthru/<meta name=title> -> <title>, each without its " | Site" tail; the first
  one that agrees with the visible <h1> wins, else the first; the <h1> alone comes last.
- published: `indexer.pubdate`: JSON-LD datePublished -> <meta> article:published_time and
  20 other date tags -> <time pubdate/itemprop> -> URL path (/2024/09/13/) -> the first
  <time>; the day most of them name wins; never later than the crawl; a UTC stamp is moved
  to the page's own zone when the page reveals it. Then a visible "Published ..." line,
  then htmldate. Timezone-aware; UTC when the page gives no zone.
- authors: `indexer.byline`: JSON-LD author(s) -> <meta> dc.creator, author, ... ->
  byline elements -> links to author pages; a person before the site's own name.
- source: og:site_name (a domain mapped through the outlet table) -> JSON-LD
  publisher.name -> `outlet_for_url` table -> bare domain.
- section: article:section -> JSON-LD articleSection -> breadcrumb (JSON-LD, then HTML).
- language: <html lang> -> og:locale -> Content-Language -> JSON-LD inLanguage ->
  DC.language -> (in `indexer.fields`) detected from the text by `indexer.langid`.
- summary: og:description -> <meta> description -> twitter:description -> JSON-LD
  description -> (later) the first paragraph of the body.
- url: <link rel=canonical> -> og:url -> JSON-LD url / mainEntityOfPage.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Any
from urllib.parse import urljoin

from lxml.html import HtmlElement

from indexer.byline import page_authors
from indexer.errors import ExtractionError
from indexer.fields import ArticleFields
from indexer.headline import rank_headlines, same_headline
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
    host_of,
    outlet_for_url,
    same_name,
    section_label,
)
from indexer.normalize import clean_line, paragraphs_of
from indexer.pubdate import published_date

_HOME = re.compile(
    r"^(?:home|homepage|start|startseite|accueil|inicio|portada|anasayfa|news)$", re.I
)


def extract_html(text: str, not_after: dt.datetime) -> ArticleFields:
    """Turn a decoded HTML page into article fields, or raise ExtractionError.

    `not_after` is the crawl time: no publication date is later than it.
    """
    tree = parse_html(text)
    fields, headlines = _metadata(tree, text, not_after)
    paragraphs = paragraphs_of(main_text(text, tree, fields.url))
    # trafilatura may keep the <h1>: a headline (the title or another candidate, such as
    # a display headline beside an SEO one) is not the body's first line.
    while paragraphs and any(same_headline(paragraphs[0], h) for h in headlines):
        paragraphs = paragraphs[1:]
    if not paragraphs:
        raise ExtractionError("no article text found in HTML")
    return replace(fields, body="\n\n".join(paragraphs))


def html_metadata(text: str, not_after: dt.datetime) -> ArticleFields:
    """Return a page's metadata without its body (the body is the costly part)."""
    return _metadata(parse_html(text), text, not_after)[0]


def _metadata(
    tree: HtmlElement, text: str, not_after: dt.datetime
) -> tuple[ArticleFields, list[str]]:
    """Return the metadata fields and every headline candidate, best first."""
    meta = meta_values(tree)
    objects = jsonld_objects(tree)
    article = article_object(objects) or {}
    url = _url(tree, meta, article)
    source = _source(meta, article, objects, url)
    sites = [source, host_of(url)]  # names that are the site, not a title/author/section
    headlines = _headlines(tree, meta, article, sites)
    title = headlines[0] if headlines else ""
    fields = ArticleFields(
        title=title,
        url=url,
        summary=_summary(meta, article),
        source=source,
        section=_section(tree, meta, article, objects, title, sites),
        authors=page_authors(tree, meta, article, objects, sites),
        published=published_date(tree, meta, article, url, text, not_after),
        language=_language(tree, meta, article),
    )
    return fields, headlines


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
    if re.fullmatch(r"[\w-]+(\.[\w-]+)+", site_name):  # "DW.COM" -> "DW" when the table knows it
        site_name = outlet_for_url(site_name) or site_name
    return site_name or (publisher[0] if publisher else None) or outlet_for_url(url) or host_of(url)


def _headlines(
    tree: HtmlElement, meta: dict[str, list[str]], article: JsonObject, sites: list[str | None]
) -> list[str]:
    """Return the page's headline candidates, best first (the title is the first)."""
    title_tag = tree.find(".//title")
    stated = [
        first_string(article.get("headline")) or first_string(article.get("name")),
        first_meta(meta, "dc.title", "dcterms.title"),
        first_meta(meta, "og:title"),
        first_meta(meta, "twitter:title"),
        first_meta(meta, "parsely-title", "sailthru.title", "title", "headline"),
        text_of(title_tag) if title_tag is not None else None,
    ]
    visible = [text for text in (text_of(h) for h in tree.iter("h1")) if len(text) > 3]
    return rank_headlines(stated, visible, sites)


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
