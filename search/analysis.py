"""Text analysis shared by indexing, querying and highlighting.

Indexing and searching must turn text into the same terms, so this is the one place
that does it: Unicode word tokens -> language-aware term function -> index terms.

The term function depends on the fields' language (see `search.languages`):

- `GENERIC` (the shared `title`/`summary`/`body`): each word by its script. Latin:
  folding (case, Turkish dotted and dotless i, accents) -> English stop words dropped
  -> NLTK Snowball English stem. Arabic script: `search.arabic` (normalisation, stop
  words, Snowball light stem). Cyrillic: Russian stop words and Snowball stem. Other scripts:
  folded only.
- A language with its own fields (`de`, `tr`, ...): its Latin words are lowercased (the
  Turkish way for Turkish: `I` -> `ı`), checked against its stop words, stemmed with its
  Snowball stemmer (NLTK; PyStemmer for Turkish, which NLTK lacks) and folded; its other
  words are analysed as in the shared fields.

Beside the terms, `exact_form` gives a word as written, only folded (Arabic: normalised,
not stemmed), for the exact-form fields that ranking alone reads (`search.schema.ExactText`).

Per-token work is memoised because news vocabularies repeat heavily; an unbounded-ish
LRU is much faster than Whoosh's own LFU stem cache (see
../shared/notes/whoosh-performance.md).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache

import Stemmer
from nltk.stem.snowball import SnowballStemmer
from whoosh.analysis import Analyzer, Filter, RegexTokenizer, Token

from search import arabic
from search.languages import GENERIC, OWN_FIELDS
from search.stoplists import STOP_WORDS
from search.stopwords import ENGLISH

# Bump when analysis changes: terms in an old index would no longer match.
# 2: Arabic normalisation and stems, Russian stems, per-language analysers.
ANALYSIS_VERSION = 2

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
_TURKISH_LOWER = str.maketrans({"I": "ı", "İ": "i"})
TURKISH_PREFIX = 5

_english = SnowballStemmer("english")
_snowball = {code: SnowballStemmer(name.lower()) for code, name in OWN_FIELDS.items()
             if code != "tr"}
_snowball["ru"] = SnowballStemmer("russian")
# PyStemmer objects keep per-call state in C: one per process, used under a lock
# (the web app analyses queries on several threads).
_turkish = Stemmer.Stemmer("turkish")
_turkish_lock = threading.Lock()

# Small on purpose: the callers that see a whole vocabulary (`term_for`, `variants`, the
# indexing memos below) remember their own results, so this only catches a word looked up
# twice in a row (a token's index term, then its exact form). At 1 << 18 it held every
# word an index worker saw a second time (~50 MB a worker, no measurable time saved).
FOLD_CACHE_SIZE = 1 << 14


@lru_cache(maxsize=FOLD_CACHE_SIZE)
def fold(word: str) -> str:
    """Lowercase and strip accents so `Kalın`, `KALIN` and `kalin` are one word."""
    w = word.translate(_SPECIAL).lower()
    if w.isascii():
        return w
    w = unicodedata.normalize("NFKD", w)
    return "".join(c for c in w if not unicodedata.combining(c))


# Stop words compared after folding, like the words themselves.
_STOP = {code: frozenset(fold(w) for w in words) for code, words in STOP_WORDS.items()}

LATIN, ARABIC, CYRILLIC, OTHER = "latin", "arabic", "cyrillic", "other"


def script(word: str) -> str:
    """Return the script of a word's first letter: latin, arabic, cyrillic or other."""
    for c in word:
        if not c.isalpha():
            continue
        o = ord(c)
        if o < 0x250 or 0x1E00 <= o <= 0x1EFF:
            return LATIN
        if 0x600 <= o <= 0x8FF or 0xFB50 <= o <= 0xFDFF or 0xFE70 <= o <= 0xFEFF:
            return ARABIC
        if 0x400 <= o <= 0x52F:
            return CYRILLIC
        return OTHER
    return OTHER


def _russian(word: str) -> str | None:
    low = word.lower()
    if fold(low) in _STOP["ru"]:
        return None
    return fold(_snowball["ru"].stem(low)) if low.isalpha() else fold(low)


def _generic(word: str) -> str | None:
    w = fold(word)
    if not w or w in ENGLISH:
        return None
    if w.isascii():
        return _english.stem(w) if w.isalpha() else w
    kind = script(w)
    if kind == ARABIC:
        return arabic.term(word)
    if kind == CYRILLIC:
        return _russian(word)
    return w


def _turkish_stem(low: str) -> str:
    """Stem a Turkish-lowercased word with Snowball, fold it and keep at most five letters.

    Snowball's Turkish stemmer is inconsistent about the last letters it keeps: a bare
    word's final vowel is read as a case ending (`müzakere` -> `müzaker`) but kept
    before a further suffix (`müzakereler` -> `müzakere`), and `istasyonu` loses more
    than `istasyonları`. The first five letters of the stem are what the forms share;
    five is also the prefix length that Turkish retrieval studies (Can et al., 2008)
    found as effective as full lemmatisation. Stems under two letters (`aydın` -> `a`)
    say nothing: the word is used instead.
    """
    with _turkish_lock:
        stem = _turkish.stemWord(low)
    s = fold(stem)
    if len(s) < 2:
        s = fold(low)
    return s[:TURKISH_PREFIX]


def _own(word: str, lang: str) -> str | None:
    if script(word) != LATIN:
        return _generic(word)
    low = word.translate(_TURKISH_LOWER).lower() if lang == "tr" else word.lower()
    folded = fold(low)
    if not folded or folded in _STOP.get(lang, ()):
        return None
    if not low.isalpha():
        return folded
    if lang == "tr":
        return _turkish_stem(low)
    return fold(_snowball[lang].stem(low)) or folded


@lru_cache(maxsize=1 << 20)
def term_for(word: str, lang: str = GENERIC) -> str | None:
    """Return the index term for one token in `lang`'s fields, or None for a stop word."""
    if lang == GENERIC:
        return _generic(word)
    return _own(word, lang)


@lru_cache(maxsize=1 << 18)
def variants(word: str, lang: str = GENERIC) -> tuple[str, ...]:
    """Return the terms indexed for one token: `term_for`'s, then any alternative.

    Turkish is stemmed with its letters (`ı`, `ğ`, `ş` steer the suffix rules), but
    people often type it without them; the word is also indexed as stemmed from its
    folded spelling, so `muzakerelerde` finds `müzakerelerde`. A query word is
    analysed to `term_for` alone, which is one of the two either way.
    """
    return _variants(word, lang, term_for)


def _variants(
    word: str, lang: str, term: Callable[[str, str], str | None]
) -> tuple[str, ...]:
    first = term(word, lang)
    if first is None:
        return ()
    if lang == "tr" and script(word) == LATIN:
        plain = fold(word.translate(_TURKISH_LOWER))
        if plain != word.lower():
            alt = term(plain, lang)
            if alt is not None and alt != first:
                return (first, alt)
    return (first,)


_term_uncached = term_for.__wrapped__

# Per-language token -> terms memo for `index_positions`: a plain dict lookup is the
# cheapest per-token step there is; cleared when full so a worker's memory stays bounded.
_INDEX_MEMO: dict[str, dict[str, tuple[str, ...]]] = {}
INDEX_MEMO_SIZE = 1 << 18  # per memo; 1 << 19 took ~120 MB a worker for the same build time


def index_memo(lang: str = GENERIC) -> dict[str, tuple[str, ...]]:
    """Return `index_positions`' token -> terms memo for `lang` (the same dict for good:
    it is cleared, never replaced), so code reading text just indexed reuses its stems."""
    memo = _INDEX_MEMO.get(lang)
    if memo is None:
        memo = _INDEX_MEMO[lang] = {}
    return memo


def index_variants(word: str, lang: str = GENERIC) -> tuple[str, ...]:
    """Return `variants(word, lang)` uncached (a writer analysing a segment's words)."""
    return _variants(word, lang, _term_uncached)


# Where `index_positions` records the words it indexes with their terms, per language,
# while a segment writer collects its segment's written forms (search/lexicon.py);
# None: not recording. Per thread: a Dask worker writes shards on several threads.
Words = dict[str, dict[str, tuple[str, ...]]]  # language -> word -> its terms
_RECORDING = threading.local()


def record_words(sink: Words | None) -> Words | None:
    """Make `index_positions` on this thread add every word it indexes, with its terms,
    to `sink[lang]` (None: stop); return the sink in place before, to restore."""
    before: Words | None = getattr(_RECORDING, "sink", None)
    _RECORDING.sink = sink
    return before


def index_positions(text: str, lang: str = GENERIC) -> dict[str, list[int]]:
    """Return each index term of `text` with its word positions, as `make_analyzer` indexes it.

    The indexing fast path (`search.schema.AnalyzedText`): one regex pass and one dict
    lookup per word, instead of a Whoosh `Token` mutated through a tokenizer and a
    filter generator and then collected again. The result is the analyzer's, term for
    term and position for position (tests/test_analysis.py holds them equal).
    """
    memo = index_memo(lang)
    out: dict[str, list[int]] = {}
    pos = 0
    # Recording (a segment writer's words): the segment's own word -> terms dict is the
    # first memo, so each token still costs one lookup, and the worker's memo is only
    # asked for words new to the segment.
    sink: Words | None = getattr(_RECORDING, "sink", None)
    local = memo if sink is None else sink.setdefault(lang, {})
    for word in tokens(text):
        found = local.get(word)
        if found is None:
            found = memo.get(word)
            if found is None:
                if len(memo) >= INDEX_MEMO_SIZE:
                    memo.clear()
                # Not through `variants`/`term_for`: their caches would hold the same
                # vocabulary a second and third time in every indexing process.
                found = memo[word] = _variants(word, lang, _term_uncached)
            local[word] = found
        if not found:
            continue
        for term in found:
            where = out.get(term)
            if where is None:
                out[term] = [pos]
            else:
                where.append(pos)
        pos += 1
    return out


@lru_cache(maxsize=1 << 18)
def exact_form(word: str) -> str | None:
    """Return a word as written, only folded, or None: the exact-form term.

    The `*_exact` fields (`search.schema.ExactText`) hold these, so ranking can prefer
    an article with the query's own form of a word (`negotiations`, `المفاوضات`) over
    one with only another inflection. Case, accents and Turkish i are folded as
    everywhere; Arabic gets its normalisation (`search.arabic.normalize`), not its stem.

    None for stop words, words with digits (never stemmed) and words that are their
    own stem in the shared fields' analysis (`gaza`, `talk`): only the forms that
    stemming changes are kept. Boosting the bare forms too cost `entity` queries
    (names are mostly bare forms) and they are a third of the postings (quality/
    RESULTS.md). The rule depends on the form alone, the same for every language
    (the fields are shared), so index and query always agree.
    """
    return _exact_form(word, None)


def _exact_form(word: str, stems: dict[str, tuple[str, ...]] | None) -> str | None:
    """`exact_form`, uncached; `stems` (the shared fields' index memo) may already hold
    a Latin or Arabic word's stem: the body's analysis has just stemmed it."""
    if script(word) == ARABIC:
        w = arabic.normalize(word)
        if not w.isalpha() or w in arabic.STOP_WORDS:
            return None
        # `arabic.term` normalises first, so a word and its normalised form stem alike
        # (checked on the ~300k distinct Arabic words of the shared corpus).
        reuse = True
    else:
        w = fold(word)
        if not w.isalpha() or w in ENGLISH or (script(w) == CYRILLIC and w in _STOP["ru"]):
            return None
        reuse = script(w) == LATIN  # `_generic` folds first: a word and its folded form alike
    if reuse and stems is not None:
        known = stems.get(word)
        if known is not None:
            return None if not known or known[0] == w else w
    stem = _generic(w)  # uncached: indexing calls this once per distinct word already
    return None if stem is None or stem == w else w


# Token -> exact form ("": none) memo for `index_exact`, bounded like `_INDEX_MEMO`.
_EXACT_MEMO: dict[str, str] = {}


def index_exact(text: str) -> set[str]:
    """Return the exact-form terms of `text`, as `make_exact_analyzer` indexes them."""
    memo = _EXACT_MEMO
    words = set(tokens(text))  # each distinct word once: bodies repeat theirs
    out: set[str | None] = set(map(memo.get, words))  # None: a word not seen yet
    if None in out:
        out.discard(None)
        stems = index_memo(GENERIC)
        for word in words:
            if word not in memo:
                if len(memo) >= INDEX_MEMO_SIZE:
                    memo.clear()
                found = memo[word] = _exact_form(word, stems) or ""
                out.add(found)
    out.discard("")
    return out  # type: ignore[return-value]


def forget_index_memos() -> None:
    """Empty the indexing memos (each stays the same dict): a worker about to write its
    last segment needs the memory more than the words."""
    for memo in _INDEX_MEMO.values():
        memo.clear()
    _EXACT_MEMO.clear()


# The last few texts tokenised for the index and their tokens: a document's `body` and
# `body_exact` (and `title`, `title_exact`) are the same string, analysed one after
# the other (Whoosh adds fields in name order), and an index worker fingerprints the
# body right after (search/fingerprint.py). Replaced whole, so threads never see a text
# with another's tokens; found by identity, not equality (cheap, and never wrong).
_RECENT_TOKENS: tuple[tuple[str, list[str]], ...] = ()
RECENT_TEXTS = 4


def tokens(text: str) -> list[str]:
    """Return the words of `text` (TOKEN_PATTERN), the same list for a text just seen."""
    global _RECENT_TOKENS
    recent = _RECENT_TOKENS
    for seen, found in recent:
        if seen is text:
            return found
    found = _TOKEN_RE.findall(text)
    _RECENT_TOKENS = ((text, found), *recent[: RECENT_TEXTS - 1])
    return found


def terms(text: str, lang: str = GENERIC) -> list[str]:
    """Analyse a text into query terms (for tests, spelling and debugging)."""
    out = []
    for m in _TOKEN_RE.finditer(text):
        t = term_for(m.group(), lang)
        if t is not None:
            out.append(t)
    return out


def iter_tokens(text: str, lang: str = GENERIC) -> Iterator[tuple[int, int, str]]:
    """Yield (start, end, term) for every non-stop word: the highlighter's view.

    A Turkish word indexed under two terms is yielded once per term.
    """
    for m in _TOKEN_RE.finditer(text):
        for t in variants(m.group(), lang):
            yield m.start(), m.end(), t


class TermFilter(Filter):
    """Whoosh filter applying `term_for` for one language; renumbers positions across stop words.

    Renumbering keeps phrase queries working when the page says "Türkiye's
    intelligence" (the `s` is dropped) and the user types the same phrase.
    When indexing, a word's alternative terms (`variants`) share its position.
    Module-level class because Whoosh pickles the analyzer into the index.
    """

    def __init__(self, lang: str = GENERIC) -> None:
        self.lang = lang

    @property
    def _lang(self) -> str:
        return getattr(self, "lang", GENERIC)  # filters pickled before languages existed

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TermFilter) and other._lang == self._lang

    def __hash__(self) -> int:
        return hash((TermFilter, self._lang))

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:  # type: ignore[override]
        lang = self._lang
        pos = 0
        for t in tokens:
            if t.mode == "index":
                found = variants(t.text, lang)
            else:
                one = term_for(t.text, lang)
                found = () if one is None else (one,)
            if not found:
                continue
            for term in found[1:]:
                extra = t.copy()
                extra.text = term
                if t.positions:
                    extra.pos = pos
                yield extra
            t.text = found[0]
            if t.positions:
                t.pos = pos
            pos += 1
            yield t


def make_analyzer(lang: str = GENERIC) -> Analyzer:
    """Return the analyzer of the full-text fields of one language (default: the shared ones)."""
    return RegexTokenizer(TOKEN_PATTERN) | TermFilter(lang)


class ExactFilter(Filter):
    """Whoosh filter applying `exact_form`: the exact-form fields' analysis (ranking only).

    Module-level class because Whoosh pickles the analyzer into the index.
    """

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExactFilter)

    def __hash__(self) -> int:
        return hash(ExactFilter)

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:  # type: ignore[override]
        for t in tokens:
            form = exact_form(t.text)
            if form is not None:
                t.text = form
                yield t


def make_exact_analyzer() -> Analyzer:
    """Return the analyzer of the exact-form fields (`title_exact`, `body_exact`)."""
    return RegexTokenizer(TOKEN_PATTERN) | ExactFilter()
