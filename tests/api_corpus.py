"""A small synthetic corpus for the API, export and feed tests, written to produce ties.

Ties are what break naive paging: many articles share a publication time (a
date without a time is midnight), several share an identical text (so they
score the same for any query), and some have no date at all.
"""

from __future__ import annotations

import datetime as dt

from search.models import Article

UTC = dt.timezone.utc
ISTANBUL = dt.timezone(dt.timedelta(hours=3))

SOURCES = ("Reuters", "BBC", "CNN", "Anadolu Agency", "Le Monde")
SECTIONS = ("Politics", "Business", "World")
TOPICS = (
    ("Budget talks stall", "Lawmakers could not agree on the budget after long negotiations."),
    ("Oil prices rise", "Oil prices rose as producers cut output and negotiations stalled."),
    ("Election results", "The election results were announced after a long count."),
    ("Negotiations resume", "Negotiators resumed talks on the budget and on oil exports."),
)


def corpus(n: int = 60) -> list[Article]:
    """Return `n` articles: shared days, identical texts, offsets, three undated."""
    out = []
    for i in range(n):
        title, body = TOPICS[i % len(TOPICS)]
        day = dt.datetime(2017, 1, 1 + (i // 6), tzinfo=UTC)  # six articles a day, at midnight
        published: dt.datetime | None = day
        if i % 10 == 7:
            published = day.replace(hour=15, minute=30, tzinfo=ISTANBUL)  # an offset that is kept
        if i in (5, 23, 41):
            published = None
        out.append(
            Article(
                id=f"a{i:03d}",
                title=title,
                body=body,
                url=f"https://news.example/{i}" if i % 3 else None,
                summary="" if i % 4 else f"Summary of story {i}.",
                source=SOURCES[i % len(SOURCES)],
                section=SECTIONS[i % len(SECTIONS)],
                authors=("Jane Roe", "John Doe") if i % 5 == 0 else (("Ann Lee",) if i % 5 == 1 else ()),
                published=published,
                language="fr" if SOURCES[i % len(SOURCES)] == "Le Monde" else "en",
            )
        )
    return out


def extra(i: int, published: dt.datetime | None, title: str = "Oil prices rise") -> Article:
    """Return one more article for a later generation."""
    return Article(id=f"x{i:03d}", title=title, body=TOPICS[1][1], source="Reuters",
                   section="Business", published=published, language="en")
