"""The one place that turns document text into HTML: escaped text plus <mark>.

Instead of Whoosh's highlighter (which re-analyses whole bodies, is about half
of query time, and whose formatters do not escape quotes), we scan the stored
text with the same tokenizer and term function the index uses, so the words
shown are the original words (not stems) and every other character is escaped.

Words are analysed in the language of the text's fields (`lang`, from the hit's
`analyzed_as`); without it, in each language the query was read in (`Wanted.languages`),
a word being marked when any of those readings wants it.

When the index knows each term's written forms (search/lexicon.py, given as
`Wanted.forms`), a text is not tokenised at all: one Aho-Corasick automaton of the
query's forms per language (pyahocorasick, C) finds them in one pass, each kept where
it is a whole token. The spans are the same: a whole token equal to a form analyses
to its term, and every word indexed under a wanted term is one of its forms.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping

import ahocorasick
from markupsafe import Markup, escape

from search.analysis import TOKEN_PATTERN, variants
from search.languages import GENERIC

MARK_OPEN = Markup("<mark>")
MARK_CLOSE = Markup("</mark>")
ELLIPSIS = "\u2026"

# News articles put their matches early: the first FIRST_SCAN_CHARS are scanned,
# and the rest (up to MAX_SCAN_CHARS) only when they hold no match, in windows each
# twice as long as the one before, stopping at the first that holds one (a rare name
# met once, deep in a long article, no longer costs a scan of all of it). This bounds
# the cost of one snippet (every token is read; a word is analysed the first time it
# is met).
FIRST_SCAN_CHARS = 5_000
MAX_SCAN_CHARS = 60_000

_TOKEN_RE = re.compile(TOKEN_PATTERN)
_TOKEN_CHAR_RE = re.compile(TOKEN_PATTERN.removesuffix("+"))  # one token character


# Past this many terms (a wide prefix query's expansion), looking each one's forms up
# costs more than tokenising the few texts shown.
MAX_FORM_TERMS = 64

Forms = Callable[[str], "Mapping[str, str] | None"]  # language -> {form: term}, or None


class Wanted(frozenset[str]):
    """The terms to mark, the languages whose fields they were found in and, when the
    index knows them, a way to their written forms (`forms(lang)`: form -> term, or
    None: tokenise)."""

    languages: tuple[str, ...] = (GENERIC,)
    forms: Forms | None = None
    _finders: dict[str, Finder | None]

    def __new__(cls, terms: Iterable[str] = (), languages: Iterable[str] = (GENERIC,),
                forms: Forms | None = None) -> Wanted:
        self = super().__new__(cls, terms)
        self.languages = tuple(dict.fromkeys(languages)) or (GENERIC,)
        self.forms = forms if len(self) <= MAX_FORM_TERMS else None
        self._finders = {}
        return self

    def finder(self, lang: str) -> Finder | None:
        """Return the automaton of this query's forms in `lang` (built once per query);
        None: the forms are not known, tokenise."""
        try:
            return self._finders[lang]
        except KeyError:
            pass
        known = self.forms(lang) if self.forms is not None else None
        found = self._finders[lang] = None if known is None else Finder(known)
        return found


class Finder:
    """The written forms of a query's terms in one language, found in a text in one pass."""

    def __init__(self, forms: Mapping[str, str]) -> None:
        self.automaton: ahocorasick.Automaton | None = None
        if forms:
            automaton = ahocorasick.Automaton()
            for form, term in forms.items():
                automaton.add_word(form, (len(form), term))
            automaton.make_automaton()
            self.automaton = automaton

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """Return (start, end, term) of every whole token of `text` that is a form."""
        if self.automaton is None:
            return []
        spans = []
        for last, (size, term) in self.automaton.iter(text):
            if _whole_token(text, last + 1 - size, last + 1):
                spans.append((last + 1 - size, last + 1, term))
        spans.sort()
        return spans


def _whole_token(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is a whole token as the tokenizer cuts it (no token
    character just before or after)."""
    return (start == 0 or not _TOKEN_CHAR_RE.match(text, start - 1)) and (
        end == len(text) or not _TOKEN_CHAR_RE.match(text, end))


def mark(text: str, spans: Iterable[tuple[int, int]]) -> Markup:
    """Escape `text` and wrap each (start, end) span in <mark>."""
    out: list[str] = []
    add = out.append
    pos = 0
    for start, end in spans:
        add(escape(text[pos:start]))
        add(MARK_OPEN)
        add(escape(text[start:end]))
        add(MARK_CLOSE)
        pos = end
    add(escape(text[pos:]))
    return Markup("".join(out))  # every piece is escaped or one of our two tags


# Per language: every word met so far -> its terms, and each term -> the words that have it.
# With both, the words of a text that a query wants are a few set intersections (in C)
# instead of one analysis lookup per distinct word in Python. Replaced when full, so a
# long-running server's memory stays bounded; one lock because pages render on threads.
VOCABULARY_SIZE = 1 << 17  # words kept per language (~40 MB with their reverse entries)
_VOCABULARY: dict[str, tuple[dict[str, tuple[str, ...]], dict[str, set[str]]]] = {}
_VOCABULARY_LOCK = threading.Lock()


def _wanted_words(words: set[str], wanted: frozenset[str], lang: str) -> set[str]:
    """Return the words of `words` that have a term in `wanted` when analysed in `lang`."""
    with _VOCABULARY_LOCK:
        known = _VOCABULARY.get(lang)
        if known is None or len(known[0]) >= VOCABULARY_SIZE:
            known = _VOCABULARY[lang] = ({}, {})
        forward, reverse = known
        for word in words.difference(forward):  # C-speed for a dict: the words not met yet
            terms = forward[word] = variants(word, lang)
            for term in terms:
                having = reverse.get(term)
                if having is None:
                    reverse[term] = {word}
                else:
                    having.add(word)
        out: set[str] = set()
        for term in wanted:
            having = reverse.get(term)
            if having:
                out |= having & words
        return out


def match_spans(text: str, wanted: frozenset[str], lang: str | None = None
                ) -> list[tuple[int, int, str]]:
    """Return (start, end, term) of every token of `text` whose term is wanted."""
    if not wanted:
        return []
    if lang and isinstance(wanted, Wanted):
        finder = wanted.finder(lang)
        if finder is not None:
            return finder.spans(text)
    langs = (lang,) if lang else getattr(wanted, "languages", (GENERIC,))
    words = set(_TOKEN_RE.findall(text))
    found: dict[str, str] = {}
    for one in langs:  # the first language (then variant) that wants a word names its term
        for word in _wanted_words(words, wanted, one):
            if word not in found:
                found[word] = next(t for t in variants(word, one) if t in wanted)
    # Each wanted word's occurrences, kept where they are a whole token (as the tokenizer
    # cut them): str.find is cheaper than compiling a pattern of this hit's words.
    spans = []
    for word, term in found.items():
        size = len(word)
        start = text.find(word)
        while start != -1:
            if _whole_token(text, start, start + size):
                spans.append((start, start + size, term))
            start = text.find(word, start + 1)
    spans.sort()
    return spans


def highlight_all(text: str, wanted: frozenset[str], lang: str | None = None) -> Markup:
    """Return the whole text escaped, with every matching word marked (titles)."""
    return mark(text, [(s, e) for s, e, _ in match_spans(text, wanted, lang)])


def _cut_left(text: str, start: int, floor: int) -> int:
    """Move a fragment start back to a word boundary not before `floor`."""
    if start <= floor:
        return floor
    sp = text.rfind(" ", floor, start)
    return sp + 1 if sp != -1 else start


def _cut_right(text: str, end: int) -> int:
    if end >= len(text):
        return len(text)
    sp = text.find(" ", end)
    return sp if sp != -1 and sp - end < 30 else end


def _first_spans(text: str, wanted: frozenset[str], lang: str | None
                 ) -> list[tuple[int, int, str]]:
    """Return the matches in the first window of the text (up to MAX_SCAN_CHARS) that has any."""
    start, size = 0, FIRST_SCAN_CHARS
    end_of_scan = min(len(text), MAX_SCAN_CHARS)
    while start < end_of_scan:
        cut = min(_cut_right(text, start + size), end_of_scan)
        spans = match_spans(text[start:cut], wanted, lang)
        if spans:
            return [(s + start, e + start, t) for s, e, t in spans] if start else spans
        start, size = cut, size * 2
    return []


def snippet(
    text: str,
    wanted: frozenset[str],
    *,
    max_fragments: int = 3,
    fragment_chars: int = 180,
    fallback_chars: int = 280,
    lang: str | None = None,
) -> Markup:
    """Return the best 1-3 fragments of `text` around matches, escaped and marked.

    A fragment's score is the number of distinct query terms it holds (then
    the number of matches); the chosen fragments are shown in text order.
    Without any match, the start of the text is returned.
    """
    spans = _first_spans(text, wanted, lang)
    if not spans:
        end = _cut_right(text, min(len(text), fallback_chars))
        return escape(text[:end]) + (ELLIPSIS if end < len(text) else "")

    # Candidate windows: one starting shortly before each match. Spans are in text
    # order, so the matches inside a window are a run found by moving its end forward.
    candidates = []
    lead = fragment_chars // 4
    j = 0
    for i, (s, _e, _t) in enumerate(spans):
        w_start = max(0, s - lead)
        w_end = w_start + fragment_chars
        j = max(j, i)
        while j < len(spans) and spans[j][1] <= w_end:
            j += 1
        inside = spans[i:j] or [spans[i]]
        distinct = len({t for _, _, t in inside})
        candidates.append((distinct, len(inside), -s, w_start, w_end, inside))
    candidates.sort(reverse=True)

    chosen: list[tuple[int, int, list[tuple[int, int, str]]]] = []
    for _d, _n, _s, w_start, w_end, inside in candidates:
        if len(chosen) == max_fragments:
            break
        if any(w_start < c_end and c_start < w_end for c_start, c_end, _ in chosen):
            continue
        chosen.append((w_start, w_end, inside))
    chosen.sort()

    parts: list[Markup] = []
    prev_end = 0
    for w_start, w_end, inside in chosen:
        start = _cut_left(text, w_start, prev_end)
        end = max(_cut_right(text, w_end), inside[-1][1])
        frag = text[start:end]
        local = [(s - start, e - start) for s, e, _ in inside if s >= start and e <= end]
        prefix = ELLIPSIS if start > 0 else ""
        parts.append(Markup(prefix) + mark(frag, local))
        prev_end = end
    out = Markup(" ").join(parts)
    if prev_end < len(text):
        out += ELLIPSIS
    return out
