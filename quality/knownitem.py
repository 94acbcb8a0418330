"""Known-item queries: what a person types to find an article they read before.

Drawn from the indexed text with a seeded generator, independently of any engine's
analysis: lowercase Unicode words (letters with their combining marks, so a vowelled
Arabic word is one word), typed without Arabic vowel marks and tatweel, as people type
them. Stop words are never picked: people do not remember an article by "the".
Three kinds, each at most once per target article:

- `words`: three distinctive words of the body, as written: words in at least 2 and
  at most 2% of the sampled articles, so they are memorable but not unique ids.
- `title`: a run of three to five consecutive words of the headline (lowercased, no
  quotes), edges not being stop words; headlines of fewer than four words are skipped.
- `entity`: a name plus a topic word. The name: a capitalised word (or run of up to three)
  inside a sentence of the body, for scripts with case; for Arabic, a rare word (at most
  0.5% of articles) of the headline that the body repeats. The topic: the body's most
  repeated word that is not a name and is in at most 10% of articles.

A target's relevant set is itself plus its exact duplicates (same text after case and
space folding): a newswire archive holds repeated stories, and finding either is right.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from search.arabic import STOP_WORDS as ARABIC_STOP
from search.stoplists import STOP_WORDS
from search.stopwords import ENGLISH

KINDS = ("words", "title", "entity")
_WORD = re.compile(r"(?:\w|[\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed])+")
_UNTYPED = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_STOP = ENGLISH | ARABIC_STOP | frozenset().union(*STOP_WORDS.values())
_NAME_RUN = re.compile(r"(?<=[a-z,;] )((?:[A-Z][a-z]+)(?: [A-Z][a-z]+){0,2})")


@dataclass(frozen=True)
class Doc:
    """One indexed article, as the engines all see it."""

    id: str
    title: str
    summary: str
    body: str
    language: str  # declared or detected; "und" when unknown
    collection: str


@dataclass(frozen=True)
class KnownItem:
    kind: str
    text: str  # the words, space-separated, as typed
    target: str
    relevant: frozenset[str]
    language: str
    collection: str


def words(text: str) -> list[str]:
    return [_UNTYPED.sub("", w).lower() for w in _WORD.findall(text)]


def _memorable(w: str) -> bool:
    return len(w) >= 3 and w.isalpha() and w not in _STOP


def fingerprint(d: Doc) -> str:
    text = " ".join(words(d.body or d.title))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class Generator:
    """Draws known-item queries over a fixed set of documents."""

    def __init__(self, docs: Iterable[Doc]) -> None:
        self.docs = list(docs)
        self.df: Counter[str] = Counter()
        groups: dict[str, set[str]] = {}
        for d in self.docs:
            self.df.update(set(words(f"{d.title} {d.body}")))
            groups.setdefault(fingerprint(d), set()).add(d.id)
        self.same = {i: frozenset(g) for g in groups.values() for i in g}
        self.n = len(self.docs)

    def queries(self, targets: list[Doc], seed: int) -> list[KnownItem]:
        rng = random.Random(seed)
        out = []
        for d in targets:
            for kind in KINDS:
                text = getattr(self, f"_{kind}")(d, rng)
                if text:
                    out.append(KnownItem(kind, text, d.id, self.same[d.id], d.language,
                                         d.collection))
        return out

    def _words(self, d: Doc, rng: random.Random) -> str | None:
        top = max(2, self.n // 50)
        pool = sorted({w for w in words(d.body) if _memorable(w) and 2 <= self.df[w] <= top})
        if len(pool) < 3:
            return None
        return " ".join(rng.sample(pool, 3))

    def _title(self, d: Doc, rng: random.Random) -> str | None:
        ws = words(d.title)
        if len(ws) < 4:
            return None
        spans = [(i, n) for n in (3, 4, 5) for i in range(len(ws) - n + 1)
                 if ws[i] not in _STOP and ws[i + n - 1] not in _STOP]
        if not spans:
            return None
        i, n = rng.choice(spans)
        return " ".join(ws[i:i + n])

    def _entity(self, d: Doc, rng: random.Random) -> str | None:
        body = words(d.body)
        names: list[str] = []
        if d.language == "ar" or not any(c.isupper() for c in d.body[:2000]):
            limit = max(1, self.n // 200)
            names = sorted({w for w in words(d.title)
                            if _memorable(w) and self.df[w] <= limit and body.count(w) >= 2})
        else:
            found = [m.lower() for m in _NAME_RUN.findall(d.body)]
            names = sorted({n for n in found if all(w not in _STOP for w in n.split())})
        if not names:
            return None
        name = rng.choice(names)
        name_words = set(name.split())
        counts = Counter(w for w in body if _memorable(w) and w not in name_words
                         and self.df[w] <= max(2, self.n // 10))
        if not counts:
            return None
        best = max(counts.values())
        topic = rng.choice(sorted(w for w, c in counts.items() if c == best))
        return f"{name} {topic}"
