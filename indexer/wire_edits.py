"""The edits outlets make to wire copy, applied to real articles to make known reprints.

Used by the story evaluation (`indexer.story_eval`) to turn one real article
into versions whose story is known without inventing any text: the words all
come from the article, plus the datelines, credit lines and substitutions an
outlet adds. Pure and seeded: the same `random.Random` state gives the same
versions.
"""

from __future__ import annotations

import random
import re
import textwrap
from dataclasses import dataclass

EDITS = ("headline", "trim", "dateline", "credit", "rewrap", "substitute")
_EDIT_ODDS = (0.7, 0.5, 0.5, 0.4, 0.5, 0.6)  # how often each is applied to a version

# Datelines and credit lines as outlets print them, by language.
_DATELINES = {
    "en": (
        "LONDON (Reuters) - ",
        "WASHINGTON, {day} (AP) - ",
        "NEW YORK - ",
        "PARIS (AFP) - ",
        "By Staff Writer\n\n",
    ),
    "ar": ("الرياض - واس: ", "جدة - ", "الرياض: ", "القاهرة - أ ف ب: "),
}
_CREDITS = {
    "en": (
        "(Reporting by Staff; Editing by Desk)",
        "Reuters",
        "- AFP",
        "Source: Reuters",
        "Copyright 1987 The Associated Press. All rights reserved.",
    ),
    "ar": ("(واس)", "المصدر: واس", "- أ ف ب", "رابط الخبر"),
}
# Newsroom substitutions (style guides differ on these), applied in either direction.
_SWAPS_EN = (
    ("said", "says"),
    ("pct", "percent"),
    ("percent", "per cent"),
    ("mln", "million"),
    ("dlrs", "dollars"),
    ("U.S.", "US"),
    ("government", "administration"),
    ("told", "informed"),
    ("announced", "said"),
    ("company", "firm"),
    ("tonnes", "tons"),
    ("about", "around"),
    ("expected", "forecast"),
    ("also", "additionally"),
    ("officials", "authorities"),
)
_SWAPS_AR = (("قال", "أكد"), ("أمس", "اليوم"), ("الذي", "والذي"), ("أن", "بأن"), ("وقال", "وأوضح"))
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Version:
    """An edited version of an article and the edits that made it."""

    title: str
    body: str
    edits: tuple[str, ...]


def paragraphs(body: str) -> list[str]:
    """Split a body into paragraphs (blank lines, indented lines, else groups of sentences)."""
    parts = [p for p in re.split(r"\n\s*\n|\n(?=[ \t]+\S)", body) if p.strip()]
    if len(parts) > 1:
        return parts
    sentences = re.split(r"(?<=[.!?؟])\s+", body.strip())
    return [" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)]


def trim(body: str, rng: random.Random, keep_words: float = 0.4) -> str:
    """Drop 1-3 last paragraphs, keeping the first and at least `keep_words` of the words."""
    paras = paragraphs(body)
    total = len(body.split())
    cut = len(paras)
    for _ in range(rng.randint(1, 3)):
        if cut <= 1 or sum(len(p.split()) for p in paras[: cut - 1]) < keep_words * total:
            break
        cut -= 1
    return "\n\n".join(paras[:cut])


def rewrap(body: str, rng: random.Random) -> str:
    """Re-flow every paragraph at another line width."""
    width = rng.randint(50, 90)
    return "\n\n".join(textwrap.fill(" ".join(p.split()), width) for p in paragraphs(body))


def substitute(body: str, rng: random.Random, language: str, rate: float = 0.03) -> str:
    """Swap a few words for their house-style alternatives (at least one when possible)."""
    swaps = _SWAPS_AR if language == "ar" else _SWAPS_EN
    table = {a: b for a, b in swaps} | {b: a for a, b in swaps}
    words = list(_WORD.finditer(body))
    hits = [m for m in words if m.group().strip(".,;:\"'()«»") in table]
    if not hits:
        return body
    n = max(1, round(rate * len(words)))
    chosen = sorted(rng.sample(hits, min(n, len(hits))), key=lambda m: m.start())
    out, pos = [], 0
    for m in chosen:
        w = m.group()
        core = w.strip(".,;:\"'()«»")
        start = m.start() + w.index(core)
        out.append(body[pos:start])
        out.append(table[core])
        pos = start + len(core)
    out.append(body[pos:])
    return "".join(out)


def headline(title: str, rng: random.Random) -> str:
    """Re-headline: another case, a shortened head or an 'UPDATE' tag."""
    choice = rng.randrange(3)
    if choice == 0:
        return title.title() if title.isupper() else title.upper()
    if choice == 1:
        words = title.split()
        return " ".join(words[: max(3, len(words) * 2 // 3)])
    return f"UPDATE 1-{title}"


def make_version(
    title: str, body: str, language: str, rng: random.Random, day: str = "March 3"
) -> Version:
    """Apply a random subset of the outlet edits (at least one that changes the body)."""
    lang = "ar" if language == "ar" else "en"
    while True:
        edits = [e for e, p in zip(EDITS, _EDIT_ODDS, strict=True) if rng.random() < p]
        if set(edits) - {"headline"}:
            break
    if "headline" in edits:
        title = headline(title, rng)
    if "trim" in edits:
        body = trim(body, rng)
    if "substitute" in edits:
        body = substitute(body, rng, lang)
    if "rewrap" in edits:
        body = rewrap(body, rng)
    if "dateline" in edits:
        body = rng.choice(_DATELINES[lang]).format(day=day) + body
    if "credit" in edits:
        body = body.rstrip() + "\n\n" + rng.choice(_CREDITS[lang])
    return Version(title, body, tuple(edits))
