"""Text analysis shared by indexing, querying and highlighting.

Indexing and searching must turn text into the same terms, so this is the one
place that does it: Unicode word tokens -> folding (case, Turkish dotted and
dotless i, accents) -> English stop words dropped -> NLTK Snowball stem.
Per-token work is memoised because news vocabularies repeat heavily; an
unbounded-ish LRU is much faster than Whoosh's own LFU stem cache (see
../shared/notes/whoosh-performance.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache

from nltk.stem.snowball import SnowballStemmer
from whoosh.analysis import Analyzer, Filter, RegexTokenizer, Token

from search.stopwords import ENGLISH

# Bump when analysis changes: terms in an old index would no longer match.
ANALYSIS_VERSION = 1

# Words, including the combining marks that Python's \w leaves out (Arabic
# harakat, Hebrew points, Devanagari and Thai vowel signs), so a vowelled
# Arabic word stays one token and folds to its bare form.
TOKEN_PATTERN = (
    r"(?:\w|[\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f"
    r"\u0670\u06d6-\u06ed\u0900-\u0903\u093a-\u094f\u0e31\u0e34-\u0e3a\u0e47-\u0e4e])+"
)
_TOKEN_RE = re.compile(TOKEN_PATTERN)

# Letters NFKD does not decompose, or that must fold differently from Unicode's
# default lowercasing ("İ".lower() is "i" + combining dot; Turkish "ı" has no
# ASCII decomposition at all).
_SPECIAL = str.maketrans(
    {
        "İ": "i",
        "ı": "i",
        "ß": "ss",
        "ẞ": "ss",
        "ø": "o",
        "Ø": "o",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "đ": "d",
        "Đ": "d",
        "ł": "l",
        "Ł": "l",
        "þ": "th",
        "Þ": "th",
        "ð": "d",
        "ħ": "h",
        "ـ": "",  # Arabic tatweel: a stretching mark, not a letter
    }
)

_stemmer = SnowballStemmer("english")


@lru_cache(maxsize=1 << 18)
def fold(word: str) -> str:
    """Lowercase and strip accents so `Kalın`, `KALIN` and `kalin` are one word."""
    w = word.translate(_SPECIAL).lower()
    if w.isascii():
        return w
    w = unicodedata.normalize("NFKD", w)
    return "".join(c for c in w if not unicodedata.combining(c))


@lru_cache(maxsize=1 << 20)
def term_for(word: str) -> str | None:
    """Return the index term for one token, or None for a stop word."""
    w = fold(word)
    if not w or w in ENGLISH:
        return None
    if w.isascii() and w.isalpha():
        return _stemmer.stem(w)
    return w


def terms(text: str) -> list[str]:
    """Analyse a text into index terms (for tests, spelling and debugging)."""
    out = []
    for m in _TOKEN_RE.finditer(text):
        t = term_for(m.group())
        if t is not None:
            out.append(t)
    return out


def iter_tokens(text: str) -> Iterator[tuple[int, int, str]]:
    """Yield (start, end, term) for every non-stop word: the highlighter's view."""
    for m in _TOKEN_RE.finditer(text):
        t = term_for(m.group())
        if t is not None:
            yield m.start(), m.end(), t


class TermFilter(Filter):
    """Whoosh filter applying `term_for`; renumbers positions across dropped stop words.

    Renumbering keeps phrase queries working when the page says "Türkiye's
    intelligence" (the `s` is dropped) and the user types the same phrase.
    Module-level class because Whoosh pickles the analyzer into the index.
    """

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TermFilter)

    def __hash__(self) -> int:
        return hash(TermFilter)

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:  # type: ignore[override]
        pos = 0
        for t in tokens:
            term = term_for(t.text)
            if term is None:
                continue
            t.text = term
            if t.positions:
                t.pos = pos
            pos += 1
            yield t


def make_analyzer() -> Analyzer:
    """Return the analyzer used for every full-text field."""
    return RegexTokenizer(TOKEN_PATTERN) | TermFilter()
