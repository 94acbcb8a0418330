"""What every extractor hands back, and the one place it becomes an `Article`.

Extractors fill `ArticleFields` with whatever they found; `to_article` cleans every field
the same way and derives the id and content hash, so the rules live in one place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from indexer.dates import aware
from indexer.langid import detect_language
from indexer.metadata import article_id, canonical_url, content_hash, normalize_language
from indexer.normalize import clean_line, join_paragraphs, paragraphs_of
from search.models import Article

SUMMARY_MAX_CHARS = 500


@dataclass(frozen=True)
class ArticleFields:
    """Raw findings of one extractor, before cleaning and identity."""

    title: str = ""
    body: str = ""  # paragraphs separated by blank lines
    url: str | None = None
    summary: str = ""
    source: str | None = None
    section: str | None = None
    authors: tuple[str, ...] = ()
    published: dt.datetime | None = None
    language: str | None = None
    # Title, summary and body already went through `clean_line` / `join_paragraphs`
    # (`records.record_fields` cleans them to decide what a record holds): not again.
    cleaned: bool = False


def to_article(fields: ArticleFields, path: str, not_after: dt.datetime | None = None) -> Article:
    """Clean `fields` (NFC, whitespace, paragraphs) and give the article its id and hash.

    A publication date later than `not_after` (the crawl time) is dropped.
    """
    if fields.cleaned:
        title, body, summary = fields.title, fields.body, fields.summary
    else:
        title = clean_line(fields.title)
        body = join_paragraphs(paragraphs_of(fields.body))
        summary = clean_line(fields.summary)
    summary = _shorten(summary or _first_paragraph(body))
    url = canonical_url(fields.url)
    source = clean_line(fields.source) or None
    section = clean_line(fields.section) or None
    authors = tuple(a for a in (clean_line(a) for a in fields.authors) if a)
    published = aware(fields.published) if fields.published else None
    if published and not_after and published > not_after:
        published = None
    # Detected from the text only when the source declares none (or nothing usable).
    language = normalize_language(fields.language) or detect_language(f"{title}\n{body}")
    digest = content_hash(
        [
            title,
            summary,
            body,
            url,
            source,
            section,
            "; ".join(authors),
            published.isoformat() if published else None,
            language,
        ]
    )
    return Article(
        id=article_id(url, title, body),
        title=title,
        body=body,
        url=url,
        summary=summary,
        source=source,
        section=section,
        authors=authors,
        published=published,
        language=language,
        path=path,
        content_hash=digest,
    )


def _first_paragraph(body: str) -> str:
    """Use the lead paragraph as summary when the source gives none."""
    paragraphs = paragraphs_of(body)
    return clean_line(paragraphs[0]) if paragraphs else ""


def _shorten(summary: str) -> str:
    """Cut a long summary at a word boundary: it is shown under a title, not read in full."""
    if len(summary) <= SUMMARY_MAX_CHARS:
        return summary
    return summary[:SUMMARY_MAX_CHARS].rsplit(" ", 1)[0] + "…"
