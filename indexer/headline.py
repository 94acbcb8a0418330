"""The headline of an HTML page, chosen by agreement with what the reader sees.

Pages state their headline several times: JSON-LD `headline`, Dublin Core `dc.title`,
`og:title`, `twitter:title`, Parse.ly and other <meta> titles, the <title> element and the
visible <h1>. They often disagree: an SEO headline in JSON-LD, a shorter social title in
og:title, a site name glued to <title>. Each candidate loses its " | Site" tail, then:

1. the first stated candidate (in the order above) that one of the first three <h1>
   repeats wins: the visible headline settles which of the stated ones is displayed;
2. else the first stated candidate (metadata before <title>): a page's first <h1> is
   sometimes its logo or a section name;
3. else the first <h1>.

Titles are compared ignoring case, spacing, quote style and a trailing period. Counting
how many sources state a candidate was tried and measured worse: og:title, twitter:title
and <title> are often copies of one CMS field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from indexer.metadata import strip_site_suffix
from indexer.normalize import clean_line

_QUOTES = str.maketrans({c: "'" for c in "‘’‚‛′`´"} | {c: '"' for c in "“”„‟″«»"})


def _key(title: str) -> str:
    """Compare titles ignoring case, spacing, quote style and a trailing period."""
    return re.sub(r"\s+", " ", title.translate(_QUOTES)).strip(" .").casefold()


def same_headline(text: str, title: str) -> bool:
    """Tell whether a line of text repeats the title (quotes, case and spacing ignored)."""
    return bool(title) and _key(clean_line(text)) == _key(title)


def rank_headlines(
    stated: Sequence[str | None], visible: Sequence[str], sites: Sequence[str | None]
) -> list[str]:
    """Return distinct headline candidates, best first.

    `stated` holds the metadata titles and <title>, in cascade order; `visible` the page's
    <h1> texts, in document order.
    """
    site_keys = {_key(s) for s in sites if s}

    def cleaned(values: Sequence[str | None]) -> list[str]:
        titles = (strip_site_suffix(clean_line(value), sites) for value in values)
        return [title for title in titles if title and _key(title) not in site_keys]

    candidates = cleaned(stated)
    shown = {_key(title) for title in cleaned(visible[:3])}
    agreeing = [title for title in candidates if _key(title) in shown]
    first_visible = cleaned(visible[:1])
    ranked: dict[str, str] = {}  # first spelling of each distinct title, in rank order
    for title in agreeing + candidates + first_visible:
        ranked.setdefault(_key(title), title)
    return list(ranked.values())
