"""Text hygiene shared by every extractor: NFC, whitespace, paragraphs.

Every string that reaches an `Article` passes through here, so the same article yields
the same id and content hash whichever format it came in.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections.abc import Iterable

# Zero-width characters and soft hyphens carry no text; they only split words for search.
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
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
