"""Plain-text page dumps (copy-paste, `w3m -dump`) to an article.

A dump is the whole page as text: menus, share bars, cookie notes and the article, with
nothing to say which is which. The rules, in order:

1. Lines are cleaned and re-joined where a text browser wrapped them at a fixed width.
2. Each line becomes a unit, classified as boilerplate (menus, bullet lists of short links,
   "Share this", "Like this", "Click here to subscribe", "Contact Us", copyright lines,
   photo credits such as "(File Photo)" or "Photo: ...", cookie notes, form widgets),
   metadata ("Published ...", "Updated ...", "By ...", an "<Outlet> <SECTION>" line for a
   known outlet, a bare date line) or text, scored by how much it reads like prose.
3. The body is the contiguous run of units with the highest total score (a maximum
   subsequence): long prose counts for it, boilerplate against it, and metadata lines
   weigh so much that the body never spans them.
4. Above the body: metadata lines give published date, authors, source and section; the
   nearest prose paragraph between them and a headline-like line is the summary
   (standfirst); the headline-like line is the title.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from indexer.boilerplate import (
    BOILERPLATE_LINE,
    BOILERPLATE_PHRASE,
    COMMENT_HEAD,
    COMMENTS,
    SECTION_END,
    TEASER_MARK,
)
from indexer.dates import find_written_date, parse_written_date
from indexer.errors import ExtractionError
from indexer.fields import ArticleFields
from indexer.metadata import clean_authors, outlet_names, section_label
from indexer.normalize import clean_lines

_BULLET = re.compile(r"^(?:[•◦▪▫■□●○‣∙·*☆★►▸▶→»✓✔]|-\s|\d{1,2}[.)]\s)\s*")
# w3m writes images as their alt text in brackets, "[logo-small]"; they are not text.
_IMAGE_ALT = re.compile(r"\[[^\]\s]{1,40}\]")
_WIDGET = re.compile(r"\[[ *x]?\]|\[\s{3,}\]|^\[[^\]]{0,40}\]$|^[━─═_=\-~*·.]{5,}$")
_META_DATE = re.compile(
    r"^(?P<label>published|updated|posted|last updated|first published|date|modified)\b"
    r"\s*:?\s*(?P<rest>.*)$",
    re.I,
)
_META_SEPARATOR = re.compile(r"\s+[|·•/]\s+")
_BYLINE = re.compile(r"^by\s+(?P<names>[^.!?]{2,80})$", re.I)
_SENTENCE_END = re.compile(r"[.!?…。！？][\"”’»)]?$")
# Tuned on textdumps/aeb (token F1 of the body): see tests/test_textdump.py.
SHORT_PENALTY = 25.0
LENGTH_HALF = 80.0
PROSE_THRESHOLD = 0.5
LEAD_WINDOW = 4
LEAD_BONUS = 200.0
AFTER_END_DISCOUNT = 0.1
# Headline choice (see `_title_and_summary`), checked against the HTML titles of the
# same aeb pages.
HEADLINE_WINDOW = 12
DISTANCE_COST = 0.1
BEFORE_META_BONUS = 2.0
REPEATED_BONUS = 1.0
# Captions, credits, share bars, handles, clock times and reading times are not headlines.
_NOT_HEADLINE = re.compile(
    r"\b(?:photo|photograph|image|picture|caption|file photo|credit|logo|mugshot|getty|afp|"
    r"reuters|associated press|share|email|print|newsletters?|external links?)\b|©|https?://|"
    r"\(ap\)|\S@\w|\b\d{1,2}:\d{2}\b|\b\d+\s*min(?:ute)?s?\s+read\b|\btempo de leitura\b",
    re.I,
)
# Lines holding a date among a few other words (see `_dated_line`).
DATED_LINE_WEIGHT = -60.0
DATED_LINE_LEFTOVER = 4
_DATED_LINE_NOISE = re.compile(
    r"\b(?:published|updated|posted|last updated|first published|date|on|at|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|mon|tue|wed|thu|fri|sat|sun|"
    r"am|pm|[ecmp][sd]t|utc|gmt|bst|cet|cest|ist|et|pt|ct|"
    r"\d+\s+(?:min(?:ute)?s?|hours?|hrs?|days?)\s+ago|an? (?:hour|minute|day) ago)\b|"
    r"[|/•·,:;–—-]",
    re.I,
)
# "by Jane Roe", "BY: Jane Roe, MS" inside a line; the name runs to a separator.
_BY_NAME = re.compile(r"\bby:?\s+(?P<name>(?-i:[A-ZÀ-Þ])[^|/•·;]{1,60}?)(?=\s*(?:[|/•·;]|$))", re.I)
# Weight of a line the body never spans (metadata, "Comments", "Related stories").
BARRIER = -1e9
# Real dumps are 5-300 kB (a whole page, menus and comments included); the line scoring
# costs about 2 s per million characters, so a budget keeps one document to seconds.
MAX_DUMP_CHARS = 5_000_000


@dataclass(frozen=True)
class _Unit:
    """One line of the dump with what we know about it."""

    text: str
    kind: str  # "text", "boilerplate" or "meta"
    weight: float


def extract_textdump(text: str) -> ArticleFields:
    """Turn a plain-text page dump into article fields, or raise ExtractionError.

    The parse budget: a dump over MAX_DUMP_CHARS is refused before any line is read.
    """
    if len(text) > MAX_DUMP_CHARS:
        raise ExtractionError(
            f"text dump too large ({len(text) // 1_000_000} million characters > "
            f"{MAX_DUMP_CHARS // 1_000_000} million): not one article"
        )
    units = _units(text)
    start, end = _best_run(units)
    if start >= end:
        raise ExtractionError("no article text found in text dump")
    body_units = [u for u in units[start:end] if u.kind == "text"]
    body = "\n\n".join(u.text for u in body_units)
    header = units[:start]
    trailer = units[end:]
    published, authors, source, section = _metadata(header + trailer, prefer=len(header))
    title, summary = _title_and_summary(header, body_units)
    return ArticleFields(
        title=title,
        body=body,
        summary=summary,
        source=source,
        section=section,
        authors=authors,
        published=published,
    )


def _units(text: str) -> list[_Unit]:
    lines = _unwrap(_lines_keeping_indent(text))
    repeated = Counter(line.casefold() for line in lines if line)
    units: list[_Unit] = []
    since_meta = LEAD_WINDOW + 1
    after_end = False
    for line in lines:
        if not line:
            continue
        kind, weight = _classify(line, repeated[line.casefold()] > 2)
        if weight == BARRIER and (COMMENTS.match(line) or COMMENT_HEAD.search(line)):
            after_end = True
        elif after_end and weight > 0:
            # Below "Comments", long text is what readers wrote, not the article.
            weight *= AFTER_END_DISCOUNT
        since_meta = 0 if kind == "meta" else since_meta + 1
        if 0 < since_meta <= LEAD_WINDOW and weight > 0 and _SENTENCE_END.search(line):
            # Text right under a byline or date is where articles start.
            weight += LEAD_BONUS
            since_meta = LEAD_WINDOW + 1
        units.append(_Unit(line, kind, weight))
    return units


def _lines_keeping_indent(text: str) -> list[str]:
    """Clean lines but keep their indentation, which tells wrapping from lists."""
    # Split on the line breaks `clean_lines` knows, so both lists stay line for line.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n\n")
    raw = text.split("\n")
    cleaned = clean_lines(text)
    return [
        (raw_line[: len(raw_line) - len(raw_line.lstrip())] + line) if line else ""
        for raw_line, line in zip(raw, cleaned, strict=True)
    ]


def _unwrap(lines: list[str]) -> list[str]:
    """Join lines a text browser broke at its page width (the next word did not fit)."""
    lengths = sorted(_width(line) for line in lines if line)
    if not lengths:
        return []
    width = lengths[int(len(lengths) * 0.99) - 1 if len(lengths) > 100 else -1]
    wrapped = width <= 160 and sum(1 for n in lengths if n >= width - 20) >= 3
    out: list[str] = []
    previous_raw = ""
    for line in lines:
        stripped = _IMAGE_ALT.sub("", line).strip() if "[" in line else line.strip()
        first_word = stripped.split(" ", 1)[0] if stripped else ""
        joins = (
            wrapped
            and out
            and out[-1]
            and stripped
            and _width(previous_raw) + 1 + _width(first_word) > width - 2
            and not _BULLET.match(stripped)
        )
        if joins:
            out[-1] = out[-1] + ("" if out[-1].endswith("-") and first_word[:1].islower() else " ")
            out[-1] += stripped
        else:
            out.append(stripped)
        previous_raw = line.rstrip()
    return [_BULLET.sub("• ", line, count=1) if _BULLET.match(line) else line for line in out]


def _width(text: str) -> int:
    """Columns a text browser gives `text`: East Asian wide characters take two."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _word_count(text: str) -> int:
    """Count words, taking two CJK characters (written without spaces) as one word."""
    wide = sum(1 for c in text if unicodedata.east_asian_width(c) in "WF" and c.isalpha())
    return len(re.findall(r"\w+", text)) + wide // 2


def _classify(line: str, repeated: bool) -> tuple[str, float]:
    """Return the unit kind and its weight for the body run (positive reads like prose)."""
    if _is_meta(line):
        return "meta", BARRIER
    bare = line.removeprefix("• ").strip()
    if SECTION_END.match(bare) or (COMMENT_HEAD.search(bare) and len(bare) < 120):
        return "boilerplate", BARRIER
    if _dated_line(bare):
        # "By Jane Roe November 19, 2019, 07:47 PM EST": metadata, but not a wall the
        # body never crosses (a caption "November 18, 2019. REUTERS/..." looks the same).
        return "meta", DATED_LINE_WEIGHT
    words = _word_count(bare)
    if (
        _WIDGET.search(line)
        or BOILERPLATE_LINE.match(bare)
        or (BOILERPLATE_PHRASE.search(bare) and words < 40)
    ):
        return "boilerplate", -60.0 - len(line)
    if TEASER_MARK.search(bare):
        return "boilerplate", -100.0
    if repeated and words < 20:
        return "boilerplate", -40.0
    prose = _prose_score(bare)
    if line.startswith("• "):
        # Articles have bullet lists too, but menus are bullet lists of a few words.
        if words >= 10 and prose > 0.5 and re.search(r"[.!?…:;。！？]$", bare):
            return "text", len(bare) * 0.5
        return "boilerplate", -30.0 - len(bare) * 0.5
    if words < 4:
        return "text", -SHORT_PENALTY
    # Long lines count more than in proportion: article paragraphs are long, while
    # teaser lists (headline, one-line dek, "2H ago") are made of short ones.
    size = _width(bare)
    gain = size * size / (size + LENGTH_HALF)
    weight = gain * (prose - PROSE_THRESHOLD) * 2
    return "text", weight - (SHORT_PENALTY if words < 10 else 0.0)


def _prose_score(text: str) -> float:
    """Score in [0, 1] how much `text` reads like running prose rather than a label."""
    words = re.findall(r"\w+", text)
    if not words:
        return 0.0
    score = 0.4
    if re.search(r"[.!?…:;\"”’»)。！？」』]$", text):
        score += 0.3
    if re.search(r"[,;] |[、，]", text):
        score += 0.1
    alpha = [w for w in words if w[:1].isalpha()]
    if alpha:
        capitalised = sum(1 for w in alpha if w[:1].isupper()) / len(alpha)
        if capitalised < 0.5 or len(alpha) > 25:
            score += 0.2
        elif capitalised > 0.8:
            score -= 0.2
    if _width(text) > 200:
        score += 0.2
    # Running text is punctuated; a long unpunctuated run is a tag cloud or a menu.
    marks = len(re.findall(r"[.,;:!?。、，！？]", text))
    if len(words) > 20 and marks < len(words) / 30:
        score -= 0.6
    if "|" in text or text.count("»") > 1:
        score -= 0.3
    return max(0.0, min(1.0, score))


def _is_meta(line: str) -> bool:
    """Tell metadata lines: "Published ...", "By ...", "<Outlet> <SECTION>", a bare date."""
    bare = line.removeprefix("• ").strip()
    if len(bare) > 120:
        return False
    if _is_meta_part(bare):
        return True
    parts = [p for p in _META_SEPARATOR.split(bare) if p]
    # "September 10, 2018 | by Catherine"
    return len(parts) > 1 and all(_is_meta_part(part) for part in parts)


def _is_meta_part(text: str) -> bool:
    labelled = _META_DATE.match(text)
    if labelled and parse_written_date(labelled.group("rest")):
        return True
    if _BYLINE.match(text) and len(text.split()) <= 10:
        return True
    return bool(_outlet_line(text)) or _is_date_line(text)


def _dated_line(text: str) -> bool:
    """A short line made of a date plus labels, a weekday, a zone or a byline."""
    if len(text) > 120:
        return False
    found = find_written_date(text)
    if found is None:
        return False
    leftover = _DATED_LINE_NOISE.sub(" ", text[: found[1]] + " " + text[found[2] :])
    leftover = _BY_NAME.sub(" ", leftover)
    return len(re.findall(r"\w+", leftover)) <= DATED_LINE_LEFTOVER


def _is_date_line(text: str) -> bool:
    """A line that is only a date and time ("October 9, 2018 at 9:40 am")."""
    if len(text) > 60 or not parse_written_date(text):
        return False
    leftover = re.sub(
        r"\d+|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?|"
        r"\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\b|\b(?:at|am|pm|utc|gmt|et|est|edt|bst|cet)\b|"
        r"[\s,.:|/–-]+",
        "",
        text,
        flags=re.I,
    )
    return len(leftover) <= 3


def _outlet_line(text: str) -> tuple[str, str | None] | None:
    """Match "<Outlet> <SECTION>" (or the outlet alone) for an outlet we know."""
    for name in outlet_names():
        if text == name:
            return name, None
        if text.startswith(name + " "):
            rest = text[len(name) + 1 :].strip(" |-–—:")
            if rest and rest.isupper() and len(rest.split()) <= 4:
                return name, section_label(rest)
    return None


def _best_run(units: list[_Unit]) -> tuple[int, int]:
    """Return [start, end) of the maximum-weight contiguous run (Kadane's algorithm)."""
    best_sum, best = 0.0, (0, 0)
    running, start = 0.0, 0
    for index, unit in enumerate(units):
        if running <= 0:
            running, start = 0.0, index
        running += unit.weight
        if running > best_sum:
            best_sum, best = running, (start, index + 1)
    return best


def _metadata(
    units: list[_Unit], prefer: int
) -> tuple[dt.datetime | None, tuple[str, ...], str | None, str | None]:
    """Read date, authors, outlet and section from metadata lines, nearest the body first.

    "Published"/"Posted" beats "Updated" and bare date lines; lines such as
    "September 10, 2018 | by Catherine" are read part by part.
    """
    ordered = list(reversed(units[:prefer])) + units[prefer:]
    published: dt.datetime | None = None
    other_date: dt.datetime | None = None
    bylines: list[str] = []
    source = section = None
    for unit in ordered:
        if unit.kind != "meta":
            continue
        for part in _META_SEPARATOR.split(unit.text.removeprefix("• ").strip()):
            labelled = _META_DATE.match(part)
            if labelled:
                found = parse_written_date(labelled.group("rest"))
                label = labelled.group("label").lower()
                if label in ("published", "posted", "first published", "date"):
                    published = published or found
                else:
                    other_date = other_date or found
            elif _BYLINE.match(part):
                bylines = bylines or [part]
            elif outlet := _outlet_line(part):
                if source is None:
                    source, section = outlet
            else:
                other_date = other_date or parse_written_date(part)
        byline = _BY_NAME.search(unit.text)
        if byline and not bylines:  # "Monday November 18, 2019 7:45 am PST by Joe Rossignol"
            bylines = [_strip_date(byline.group("name"))]
    return published or other_date, clean_authors(bylines), source, section


def _strip_date(text: str) -> str:
    """Cut a date (and what follows) off a name: "Joseph Tsidulko November 19, 2019"."""
    found = find_written_date(text)
    return text[: found[1]] if found else text


def _title_and_summary(header: list[_Unit], body: list[_Unit]) -> tuple[str, str]:
    """Pick the headline and standfirst among the text lines above the body.

    The headline is the best-scoring headline-like line among the last HEADLINE_WINDOW
    units above the body: one right above a byline or date line scores most, a line the
    page repeats (title bar and heading) scores more, and each unit of distance from the
    body a little less. Photo captions and credits are not headlines. The standfirst is
    a long prose line between the headline and the body.
    """
    window = header[-HEADLINE_WINDOW:]
    counts = Counter(u.text.casefold() for u in header)
    best, best_score = -1, float("-inf")
    for index, unit in enumerate(window):
        if not _headline_like(unit):
            continue
        score = -DISTANCE_COST * (len(window) - index)
        if any(u.kind == "meta" for u in window[index + 1 : index + 4]):
            score += BEFORE_META_BONUS
        if counts[unit.text.casefold()] > 1:
            score += REPEATED_BONUS
        if score > best_score:
            best, best_score = index, score
    title = window[best].text if best >= 0 else ""
    summary = ""
    for unit in window[best + 1 :]:
        prose = unit.kind == "text" and not unit.text.startswith("• ")
        if prose and len(unit.text.split()) >= 15 and unit.text[-1:] in '.!?”"':
            summary = unit.text
    if not title and body:
        title = body[0].text if len(body[0].text.split()) <= 30 else ""
    return title, summary


def _headline_like(unit: _Unit) -> bool:
    text = unit.text
    if (
        unit.kind != "text"
        or text.startswith("• ")
        or text[-1:] in ".:,;"
        or _NOT_HEADLINE.search(text)
    ):
        return False
    return 3 <= _word_count(text) <= 30
