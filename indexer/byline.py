"""Who wrote an HTML page: names from a written cascade, cleaned into a list of people.

Sources, in order; the first that yields a name wins:

1. JSON-LD author(s) (names of Person objects, @id references resolved);
2. <meta> dc.creator, dcterms.creator, author, article:author (names, not profile URLs),
   parsely-author, sailthru.author, byl, twitter:creator:name;
3. byline elements: rel/itemprop "author", or a class naming "byline", "author", "autor"
   (not an avatar, a bio box or a photo credit);
4. links to author pages (/author/jane-roe, /autoren/..., /journalists/...);
5. a loose name under the headline: a short element of two to four capitalised words,
   right before an element holding a date ("<span>Jane Roe |</span><span>05.04.2025</span>").

"By", "Von", "Par", role words ("Staff Writer", "Games Editor"), e-mails and URLs are
removed by `clean_authors`. A name that is the site itself ("Le Monde" on lemonde.fr) is
used only when no source names a person: a personal blog's author is its site name.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from indexer.htmlpage import JsonObject, names_in, text_of
from indexer.metadata import clean_authors, same_name
from indexer.normalize import clean_line

AUTHOR_META = (
    "dc.creator", "dcterms.creator", "author", "article:author", "parsely-author",
    "sailthru.author", "byl", "twitter:creator:name",
)  # fmt: skip
_LOWER = 'translate(@class, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")'
_BYLINE_XPATH = (
    '//*[@rel="author" or @itemprop="author" or ((contains(LOWER, "byline") or '
    'contains(LOWER, "author") or contains(LOWER, "autor")) and not(contains(LOWER, "avatar") '
    'or contains(LOWER, "bio") or contains(LOWER, "desc") or contains(LOWER, "info") or '
    'contains(LOWER, "image") or contains(LOWER, "img") or contains(LOWER, "photo") or '
    'contains(LOWER, "social") or contains(LOWER, "contact") or contains(LOWER, "box")))]'
).replace("LOWER", _LOWER)
_AUTHOR_LINK_XPATH = (
    '//body//a[contains(@href, "/author/") or contains(@href, "/authors/") or '
    'contains(@href, "/autor/") or contains(@href, "/autoren/") or '
    'contains(@href, "/journalist/") or contains(@href, "/journalists/") or '
    'contains(@href, "/auteur/") or contains(@href, "/redakteur/")]'
)
MAX_BYLINE_ELEMENTS = 8
MAX_AUTHOR_LINKS = 4
# How many elements after the <h1> a loose byline may be.
LOOSE_BYLINE_REACH = 40
_NAME = re.compile(r"^(?:[^\W\d_][\w'’.-]*\s+){1,3}[^\W\d_][\w'’-]*$")
_DATE_TEXT = re.compile(
    r"\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b|\b(?:19|20)\d{2}\b"
)


def page_authors(
    tree: HtmlElement,
    meta: dict[str, list[str]],
    article: JsonObject,
    objects: list[JsonObject],
    sites: list[str | None],
) -> tuple[str, ...]:
    """Return the authors of a page, people before a site-named byline."""
    site_named: tuple[str, ...] = ()
    sources = (
        lambda: names_in(article.get("author"), objects),
        lambda: _meta_names(meta),
        lambda: _byline(tree),
        lambda: _author_links(tree),
        lambda: _loose_byline(tree),
    )
    for source in sources:
        names = clean_authors(source())
        people = tuple(n for n in names if not same_name(n, sites))
        if people:
            return people
        site_named = site_named or names
    return site_named


def _meta_names(meta: dict[str, list[str]]) -> list[str]:
    for key in AUTHOR_META:
        names = [v for v in meta.get(key, ()) if not v.strip().startswith(("http", "/", "@"))]
        if names:
            return names
    return []


def _byline(tree: HtmlElement) -> list[str]:
    """Return the names in the first byline-like element, one piece of text per name."""
    for element in tree.xpath(_BYLINE_XPATH)[:MAX_BYLINE_ELEMENTS]:
        text = text_of(element)
        if not 2 < len(text) < 150:
            continue
        pieces = [clean_line(piece) for piece in element.itertext()]
        return ["; ".join(piece for piece in pieces if piece)]
    return []


def _author_links(tree: HtmlElement) -> list[str]:
    """Return the names in the first links to author pages ("/author/jane-roe").

    Only links next to the first one count (one byline); later ones may credit the
    authors of other stories in a sidebar.
    """
    links = tree.xpath(_AUTHOR_LINK_XPATH)
    if not links:
        return []
    first = links[0].getparent()
    byline = first.getparent() if first is not None and first.tag == "li" else first
    names: list[str] = []
    for link in links:
        if byline is not None and byline not in link.iterancestors():
            continue
        text = text_of(link)
        if 2 < len(text) < 60 and text not in names:
            names.append(text)
        if len(names) >= MAX_AUTHOR_LINKS:
            break
    return names


def _loose_byline(tree: HtmlElement) -> list[str]:
    """Return a name written just under the headline, right before the date."""
    heading = next(tree.iter("h1"), None)
    if heading is None:
        return []
    for element in heading.xpath(f"following::*[position() <= {LOOSE_BYLINE_REACH}]"):
        if element.tag not in ("span", "div", "p", "strong", "b", "a", "li") or len(element):
            continue
        name = text_of(element).strip(" |·•-–—,")
        if not _NAME.match(name) or not all(w[:1].isupper() for w in name.split()):
            continue
        after = element.getnext()
        if after is not None and _DATE_TEXT.search(text_of(after)):
            return [name]
    return []
