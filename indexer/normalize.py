"""Text hygiene shared by every extractor: NFC, whitespace, paragraphs, invisible characters.

Every string that reaches an `Article` passes through here (`fields.to_article` cleans
every field with `clean_line`), so the same article yields the same id and content hash
whichever format it came in, and no field keeps a control or a bidi override.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections.abc import Iterable

# Soft hyphens, zero-width spaces and word joiners carry no text; they only split words
# for search. The zero-width (non-)joiners U+200C/U+200D stay: Persian and Indic scripts
# (and emoji sequences) need them to render words correctly.
_ZERO_WIDTH = "\u00ad\u200b\u2060\ufeff"
# Bidi embeddings, overrides and isolates (LRE, RLE, PDF, LRO, RLO; LRI, RLI, FSI, PDI)
# open a direction that lasts until their terminator or the end of the paragraph: in a
# title on the results page an unterminated RLO shows the text after it backwards (a
# spoofing vector), and real Arabic titles carry unbalanced RLEs. Dropping them leaves
# the order to the Unicode bidi algorithm, which is right for ordinary RTL text. The
# marks LRM, RLM and ALM (U+200E, U+200F, U+061C) stay: they are zero-width letters of one
# direction that settle the punctuation and digits next to them in Arabic and Hebrew
# text, reach nothing beyond, and cannot reverse letters.
_BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
# Other invisible format characters with no place in news text: invisible math operators,
# deprecated shaping controls, interlinear annotation marks.
_OTHER_FORMAT = "\u2061-\u2064\u206a-\u206f\ufff9-\ufffb"
_INVISIBLE = re.compile(f"[{_ZERO_WIDTH}{_BIDI_CONTROLS}{_OTHER_FORMAT}]")
# C0/C1 controls except tab and newline (which `_SPACES` and line logic handle), and lone
# surrogates, which JSON strings can carry ("\ud800") but no UTF-8 output can.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n")


def clean_line(value: str | None) -> str:
    """Return `value` as one NFC line with single spaces (for titles, names, labels)."""
    if not value:
        return ""
    value = unicodedata.normalize("NFC", value)
    if not value.isascii():
        value = _INVISIBLE.sub("", value)
    # str.split() knows every Unicode space (NBSP, thin, ideographic) and every line break.
    return " ".join(_CONTROLS.sub(" ", value).split())


def clean_lines(text: str) -> list[str]:
    """Split `text` into NFC lines with tidy spaces, keeping blank lines (paragraph marks)."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = text.replace("\u2029", "\n\n")
    return [_SPACES.sub(" ", _CONTROLS.sub(" ", line)).strip() for line in text.split("\n")]


def join_paragraphs(paragraphs: Iterable[str]) -> str:
    """Join cleaned, non-empty paragraphs with one blank line, the body convention."""
    return "\n\n".join(p for p in (clean_line(p) for p in paragraphs) if p)


def paragraphs_of(text: str) -> list[str]:
    """Split an already clean body back into its paragraphs."""
    return [p for p in _BLANK_LINES.split(text) if p.strip()]


def reflow(text: str) -> str:
    """Return a body with paragraphs separated by blank lines, whatever the input layout.

    Records arrive in three layouts: blank-line paragraphs (kept), one paragraph per line
    (each line becomes a paragraph) and hard-wrapped newswire text where a new paragraph
    starts with an indented line (Reuters); the wrapped lines are joined back together.
    """
    raw_lines = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    blocks: list[list[str]] = [[]]
    for line in raw_lines.split("\n"):
        if line.strip():
            blocks[-1].append(line.rstrip())
        elif blocks[-1]:
            blocks.append([])
    paragraphs: list[str] = []
    for block in blocks:
        if not block:
            continue
        if _looks_hard_wrapped(block):
            paragraphs.extend(_unwrap_indented(block))
        else:
            paragraphs.extend(block)
    return join_paragraphs(paragraphs)


def _looks_hard_wrapped(lines: list[str]) -> bool:
    """Guess whether `lines` were wrapped at a fixed width (most lines nearly as long)."""
    if len(lines) < 3:
        return False
    lengths = [len(line.strip()) for line in lines[:-1]]
    width = max(lengths)
    if width > 120:
        return False
    return statistics.median(lengths) >= 0.6 * width


def _unwrap_indented(lines: list[str]) -> list[str]:
    """Join wrapped lines; an indented line, or a short previous line, starts a paragraph."""
    width = max(len(line.strip()) for line in lines)
    paragraphs: list[list[str]] = []
    previous = ""
    for line in lines:
        indented = line.startswith(("  ", "\t"))
        short_previous = len(previous) < 0.6 * width
        if not paragraphs or indented or short_previous or _is_table_row(line):
            paragraphs.append([])
        paragraphs[-1].append(line.strip())
        previous = line.strip()
    return [" ".join(p) for p in paragraphs]


def _is_table_row(line: str) -> bool:
    """Tell figures tables ("Net reserves.....644 vs 1,337") apart from prose lines."""
    return "..." in line or bool(re.search(r"\S {3,}\S", line.strip()))
