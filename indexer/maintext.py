"""The article's own text inside an HTML page, without menus, share bars or comments.

trafilatura does the main work (see `main_text` for how its two modes are used), and
articles split into same-class chunks are stitched together (`continued_text`). When it
finds nothing or fails on a hostile page, a small readability-like scorer over the lxml
tree takes over: the container whose paragraphs hold the most
unlinked text wins, and its paragraphs are the body. Pages over HEAVY_HTML_CHARS go to the
fallback directly, so a huge page costs seconds, not minutes.
"""

from __future__ import annotations

import functools
import re
from configparser import ConfigParser

import trafilatura
import trafilatura.settings
from lxml.html import HtmlElement

from indexer.boilerplate import is_boilerplate_paragraph
from indexer.normalize import clean_line

# Elements that never hold article text.
_DROP_TAGS = (
    "script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe",
    "svg", "button", "select", "textarea", "template", "menu",
)  # fmt: skip
_NEGATIVE = re.compile(
    r"comment|share|social|related|promo|sidebar|footer|header|nav|menu|cookie|consent|banner|"
    r"advert|\bads?\b|newsletter|subscribe|breadcrumb|popular|recommend|teaser|widget|modal",
    re.I,
)
# A class that also says "article" or "content" is a container, not furniture.
_POSITIVE = re.compile(r"article|body|content|entry|main|post|story|text", re.I)
_BLOCK_TAGS = ("p", "h2", "h3", "h4", "li", "blockquote", "pre")
MIN_PARAGRAPH_CHARS = 25
# trafilatura's time grows faster than the page (minutes for 20 MB); beyond this size
# (well above real articles, the largest of ours is 2.1 MB) only the linear fallback runs.
HEAVY_HTML_CHARS = 3_000_000
# Measured on extraction/{aeb,readability,fundus-dev}: see `python -m indexer evaluate`.
SHORT_BODY_CHARS = 1500
FULL_GAIN = 3
CHUNK_DEPTH = 4  # how far above the first paragraph a chunk container may be
PROSE_CHARS = 80


@functools.cache
def _config() -> ConfigParser:
    """trafilatura settings: no signal-based timeout (we may run in worker threads)."""
    config = trafilatura.settings.use_config()
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
    return config


def main_text(html: str, tree: HtmlElement, url: str | None = None) -> str:
    """Return the article body, paragraphs separated by blank lines ("" if none found).

    trafilatura runs in its precise mode first (no readability/jusText second opinions,
    which tend to add teasers and hidden text). A short result may be a truncated one:
    then the full cascade runs too, and wins when it finds much more text.
    """
    if len(html) > HEAVY_HTML_CHARS:
        return fallback_text(tree)
    body = _trafilatura(html, url, fast=True)
    if len(body) < SHORT_BODY_CHARS:
        full = _trafilatura(html, url, fast=False)
        if len(full) > FULL_GAIN * len(body):
            body = full
    if len(body) < 2 * MIN_PARAGRAPH_CHARS:
        return fallback_text(tree) or body
    return continued_text(tree, body)


def _trafilatura(html: str, url: str | None, *, fast: bool) -> str:
    try:
        extracted = trafilatura.extract(
            html,
            url=url,
            fast=fast,
            output_format="txt",
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=False,
            deduplicate=False,
            config=_config(),
        )
    except RecursionError:
        return ""
    return _paragraphs(extracted or "")


def continued_text(tree: HtmlElement, body: str) -> str:
    """Extend a body that stops after the first of several same-class article chunks.

    Some CMSs (wired.com and other Condé Nast sites) cut an article into blocks of one
    class, each in a wrapper of one class, split by ads; trafilatura keeps the first block
    only. When the whole body sits in one such block, the prose paragraphs (<p> of at least
    PROSE_CHARS) of the blocks after it are appended.
    """
    paragraphs = body.split("\n\n")
    lead = next((p for p in paragraphs if len(p) >= PROSE_CHARS), None)
    anchor = None
    if lead is not None:
        anchor = next((p for p in tree.iter("p") if clean_line(p.text_content()) == lead), None)
    for block in list(anchor.iterancestors())[:CHUNK_DEPTH] if anchor is not None else ():
        wrapper = block.getparent()
        marker = block.get("class") or ""
        if not _POSITIVE.search(marker) or wrapper is None or block.tag in ("body", "html"):
            continue  # a layout class ("row", "col-12") repeats without splitting text
        chunks = [
            chunk
            for chunk in tree.iter(block.tag)
            if chunk.get("class") == block.get("class")
            and chunk.getparent() is not None
            and chunk.getparent().get("class") == wrapper.get("class")
        ]
        if len(chunks) < 2:
            continue
        inside = set(_prose(block))
        if not all(p in inside for p in paragraphs if len(p) >= PROSE_CHARS):
            return body  # the body already spans more than one block
        later = chunks[chunks.index(block) + 1 :] if block in chunks else []
        known = set(paragraphs)
        extra = [p for chunk in later if not _excluded(chunk) for p in _prose(chunk)]
        return "\n\n".join([*paragraphs, *(p for p in extra if p not in known)])
    return body


def _prose(container: HtmlElement) -> list[str]:
    """Return the texts of a container's prose paragraphs (<p>, PROSE_CHARS or longer)."""
    texts = (clean_line(p.text_content()) for p in container.iter("p") if _link_density(p) < 0.5)
    return [t for t in texts if len(t) >= PROSE_CHARS and not is_boilerplate_paragraph(t)]


def _paragraphs(text: str) -> str:
    """trafilatura writes one paragraph per line; keep those that are not page furniture."""
    lines = (_table_row(clean_line(line)) for line in text.split("\n"))
    return "\n\n".join(line for line in lines if line and not is_boilerplate_paragraph(line))


def _table_row(line: str) -> str:
    """Write a table row "| a | b |" as "a | b": data tables are content, the frame is not."""
    if line.startswith("|") and line.endswith("|"):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        return " | ".join(cell for cell in cells if cell)
    return line


def fallback_text(tree: HtmlElement) -> str:
    """Pick the container with the most unlinked paragraph text and return its paragraphs."""
    body = tree.find("body")
    if body is None:
        return ""
    scores: dict[HtmlElement, float] = {}
    for paragraph in body.iter("p", "pre", "blockquote", "div"):
        if _excluded(paragraph):
            continue
        text = clean_line(paragraph.text if paragraph.tag == "div" else paragraph.text_content())
        if len(text) < MIN_PARAGRAPH_CHARS:
            continue
        score = 1 + text.count(",") + min(len(text) / 100, 3)
        parent = paragraph.getparent()
        if parent is not None:
            scores[parent] = scores.get(parent, 0.0) + score
            grandparent = parent.getparent()
            if grandparent is not None:
                scores[grandparent] = scores.get(grandparent, 0.0) + score / 2
    if not scores:
        return ""
    best = max(scores, key=lambda element: scores[element] * (1 - _link_density(element)))
    paragraphs = []
    for element in best.iter(*_BLOCK_TAGS):
        if _excluded(element) or any(a.tag in _BLOCK_TAGS for a in element.iterancestors()):
            continue
        text = clean_line(element.text_content())
        if len(text) >= MIN_PARAGRAPH_CHARS and _link_density(element) < 0.5:
            if not is_boilerplate_paragraph(text):
                paragraphs.append(text)
    return "\n\n".join(paragraphs)


def _excluded(element: HtmlElement) -> bool:
    """Tell whether an element sits inside navigation, comments, share bars and the like."""
    for node in (
        element,
        *element.iterancestors("div", "section", "ul", "aside", "p", *_DROP_TAGS),
    ):
        if node.tag in _DROP_TAGS:
            return True
        marker = f"{node.get('class', '')} {node.get('id', '')} {node.get('role', '')}"
        if _NEGATIVE.search(marker) and not _POSITIVE.search(marker):
            return True
    return False


def _link_density(element: HtmlElement) -> float:
    """Share of an element's text that sits inside links."""
    total = len(element.text_content() or "")
    if not total:
        return 1.0
    linked = sum(len(a.text_content() or "") for a in element.iter("a"))
    return linked / total
