"""Reading a parsed HTML page: the tree, its <meta> tags and its JSON-LD objects.

Only lxml is used, iteratively, so a hostile page (100k nested tags) cannot exhaust the
Python stack; libxml2 itself caps the depth it builds.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

import lxml.etree
import lxml.html
from lxml.html import HtmlElement

from indexer.errors import ExtractionError
from indexer.normalize import clean_line

JsonObject = dict[str, Any]

_XML_PROLOG = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
STRIP_SCRIPTS_CHARS = 8_000_000
# Inline scripts (but not JSON-LD metadata), styles, and attribute values of a megabyte or
# more (inline data: images): libxml2 stops reading at a value over 10 MB.
_BULK = re.compile(
    r"<script\b(?![^>]*ld\+json)[^>]*>.*?</script\s*>|<style\b[^>]*>.*?</style\s*>|"
    r"""(?<=\s)[\w:.-]+\s*=\s*(?:"[^"]{1000000,}"|'[^']{1000000,}')""",
    re.I | re.S,
)
_ARTICLE_TYPES = re.compile(
    r"(?:news|analysis|opinion|review|report|satirical|scholarly|tech|background)?article$|"
    r"^(?:blogposting|liveblogposting|posting|socialmediaposting|reportagenews|report)$",
    re.I,
)


def parse_html(text: str) -> HtmlElement:
    """Parse a page into an lxml tree, or raise ExtractionError when it is not HTML.

    libxml2 stops reading after 10 MB (its guard against huge documents, kept on because
    lifting it also lifts the depth cap that makes 100k nested tags cheap): a bigger
    page first loses its scripts, styles and huge attribute values (inline images), which
    is where such pages keep their bulk.
    """
    text = _XML_PROLOG.sub("", text, count=1)
    if len(text) > STRIP_SCRIPTS_CHARS:
        text = _BULK.sub("", text)
    if not text.strip():
        raise ExtractionError("empty HTML document")
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
    try:
        try:
            tree = lxml.html.document_fromstring(text, parser=parser)
        except ValueError as error:
            if "encoding declaration" not in str(error):
                raise
            # A broken XML prolog the pattern above missed ("<?xml encoding='utf-8'>"):
            # lxml refuses such a str, so hand it bytes in a known encoding instead.
            utf8 = lxml.html.HTMLParser(
                remove_comments=True, remove_pis=True, collect_ids=False, encoding="utf-8"
            )
            tree = lxml.html.document_fromstring(text.encode("utf-8"), parser=utf8)
    except (lxml.etree.ParserError, ValueError) as error:
        raise ExtractionError(f"unparsable HTML ({error})") from error
    if tree is None:
        raise ExtractionError("unparsable HTML")
    return tree


def unescape(value: str) -> str:
    """Undo a second level of HTML escaping ("&amp;quot;") that CMSs leave in metadata."""
    return html.unescape(value) if "&" in value else value


def text_of(element: HtmlElement) -> str:
    """Return the visible text of an element as one clean line."""
    return clean_line(element.text_content())


def meta_values(tree: HtmlElement) -> dict[str, list[str]]:
    """Map every <meta> name, property, itemprop and http-equiv (lowercased) to its contents.

    `property` values come before `name` values of the same key (RDFa is the more
    deliberate markup), a space-separated property ("dc:title og:title") counts for each
    of its keys, and Dublin Core keys are written with dots ("dc:title" -> "dc.title").
    """
    values: dict[str, list[str]] = {}
    metas = [m for m in tree.iter("meta") if (m.get("content") or "").strip()]
    for attribute in ("property", "name", "itemprop", "http-equiv"):
        for meta in metas:
            for key in (meta.get(attribute) or "").lower().split():
                if key.startswith(("dc:", "dcterms:")):
                    key = key.replace(":", ".", 1)
                values.setdefault(key, []).append(meta.get("content").strip())
    # itemprop also lives on non-meta elements (<time itemprop="datePublished" datetime=...>).
    for element in tree.xpath("//*[@itemprop][@datetime or @content]"):
        if element.tag == "meta":
            continue
        value = element.get("datetime") or element.get("content")
        if value and value.strip():
            values.setdefault(element.get("itemprop").strip().lower(), []).append(value.strip())
    return values


def first_meta(meta: dict[str, list[str]], *keys: str) -> str | None:
    """Return the first non-empty value among `keys`, in the order given."""
    for key in keys:
        for value in meta.get(key, ()):
            if clean_line(value):
                return unescape(value)
    return None


def jsonld_objects(tree: HtmlElement) -> list[JsonObject]:
    """Return every JSON-LD object on the page, with lists and @graph flattened."""
    objects: list[JsonObject] = []
    for script in tree.xpath('//script[contains(translate(@type, "LDJSON", "ldjson"), "ld+json")]'):
        raw = (script.text or "").strip()
        raw = re.sub(r"^\s*(?:<!--|<!\[CDATA\[)|(?:-->|\]\]>)\s*$", "", raw).strip().rstrip(";")
        if not raw:
            continue
        try:
            data = json.loads(raw, strict=False)
        except (ValueError, RecursionError):
            continue
        objects.extend(_flatten(data))
    return objects


def _flatten(data: Any) -> Iterator[JsonObject]:
    stack = [data]
    while stack:
        item = stack.pop(0)
        if isinstance(item, list):
            stack[:0] = item
        elif isinstance(item, dict):
            graph = item.get("@graph")
            if isinstance(graph, list | dict):
                stack[:0] = graph if isinstance(graph, list) else [graph]
            if "@type" in item:
                yield item


def types_of(obj: JsonObject) -> list[str]:
    """Return the @type of a JSON-LD object as a list of strings."""
    value = obj.get("@type")
    values = value if isinstance(value, list) else [value]
    return [v.rsplit("/", 1)[-1] for v in values if isinstance(v, str)]


def article_object(objects: list[JsonObject]) -> JsonObject | None:
    """Pick the JSON-LD object describing the article (NewsArticle before WebPage)."""
    for obj in objects:
        if any(_ARTICLE_TYPES.search(t) for t in types_of(obj)):
            return obj
    for obj in objects:
        if "WebPage" in types_of(obj) and (obj.get("headline") or obj.get("datePublished")):
            return obj
    return None


def resolve(value: Any, objects: list[JsonObject]) -> Any:
    """Replace an {"@id": ...} reference by the object it names, when the page has it."""
    if isinstance(value, dict) and set(value) <= {"@id", "@type"} and "@id" in value:
        for obj in objects:
            if obj.get("@id") == value["@id"] and obj is not value:
                return obj
    return value


def names_in(value: Any, objects: list[JsonObject]) -> list[str]:
    """Return the names in a JSON-LD person/organisation value (string, object or list)."""
    items = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in items:
        item = resolve(item, objects)
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict):
            name = item.get("name")
            if isinstance(name, list):
                name = name[0] if name else None
            if isinstance(name, str):
                names.append(name)
    return [clean_line(unescape(n)) for n in names if clean_line(n)]


def first_string(value: Any) -> str | None:
    """Return `value` if it is a string, or the first string of a list."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    return unescape(value.strip()) if isinstance(value, str) and value.strip() else None
