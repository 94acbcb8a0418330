"""Did-you-mean: correct misspelled query words from the index's own vocabulary.

The index holds stems, so a typed word is corrected two ways: words one edit
away whose stem is in the index (the correction is then that word), and index
stems up to two edits from the typed word's stem (Whoosh's `terms_within`),
mapped back to a word a person would type: the commonest spelling of that stem
in a few stored articles that contain it, nearest to what was typed.
Candidates rank by edit distance, then by how many articles hold them
(Whoosh's own corrector ranks by frequency alone). A suggestion is only made
when the corrected query finds clearly more articles.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections import Counter
from collections.abc import Callable

import numpy as np
from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from search.analysis import fold, iter_tokens, term_for
from search.models import Suggestion

FIELD = "body"  # the largest vocabulary; titles and summaries repeat it
MIN_WORD = 4  # shorter words have too many neighbours to guess from
RARE = 2  # a stem in at most this many articles may be a typo
SAMPLE_DOCS = 4  # stored articles read to find how a stem is spelled
SCAN_CHARS = 20_000

# Words outside quotes' syntax: not operators, not field names, not wildcards.
_WORD = re.compile(r"(?<![\w*?])([^\W\d_]+)(?![\w*?:])")
_OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"}
_TEXT_FIELD_PREFIXES = {"title", "summary", "body", "text"}


def distance(a: str, b: str) -> int:
    """Return the Damerau-Levenshtein (optimal string alignment) distance."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def candidate_words(q: str) -> list[tuple[int, int, str]]:
    """Return (start, end, word) of the query words a correction may replace."""
    out = []
    for m in _WORD.finditer(q):
        word = m.group(1)
        if word in _OPERATORS or len(word) < MIN_WORD:
            continue
        before = q[: m.start()]
        field = re.search(r"(\w+):$", before)
        if field and field.group(1).lower() not in _TEXT_FIELD_PREFIXES:
            continue  # source:, section:, author:... have their own vocabularies
        out.append((m.start(), m.end(), word))
    return out


def _doc_freq(searcher: Searcher, stem: str) -> int:
    return int(searcher.reader().doc_frequency(FIELD, stem))


def edits1(word: str) -> set[str]:
    """Return every string one deletion, transposition, replacement or insertion away."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return {
        *(a + b[1:] for a, b in splits if b),
        *(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1),
        *(a + c + b[1:] for a, b in splits if b for c in letters),
        *(a + c + b for a, b in splits for c in letters),
    }


class _Words:
    """The body field's terms sharing a first character, their code points in one array.

    Read once per reader and first character (`_words`): Whoosh's prefix walk
    merges every segment's term table in Python, ~40 ms for one letter of a
    57k-article index, and a misspelled word needed it on every search.
    """

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.known = frozenset(words)
        self.lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        self.starts = np.cumsum(self.lengths) - self.lengths
        self.flat = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32)

    def matrix(self, rows: np.ndarray) -> np.ndarray:
        """Return the code points of words `rows`, one row each, -1 past each end."""
        lengths = self.lengths[rows]
        out = np.full((len(rows), int(lengths.max(initial=0))), -1, dtype=np.int64)
        where = np.arange(out.shape[1]) < lengths[:, None]
        out[where] = self.flat[(self.starts[rows][:, None] + np.arange(out.shape[1]))[where]]
        return out


_WORDS: weakref.WeakKeyDictionary[IndexReader, dict[str, _Words]] = weakref.WeakKeyDictionary()
_WORDS_LOCK = threading.Lock()


def _words(searcher: Searcher, first: str) -> _Words:
    """Return the body terms starting with `first`, read once per reader."""
    reader = searcher.reader()
    with _WORDS_LOCK:
        found = _WORDS.setdefault(reader, {}).get(first)
    if found is None:
        field = searcher.schema[FIELD]
        found = _Words([field.from_bytes(b) for b in reader.expand_prefix(FIELD, first)])
        with _WORDS_LOCK:
            _WORDS.setdefault(reader, {})[first] = found
    return found


def _read_words(searcher: Searcher) -> dict[str, _Words]:
    """Return the first letters whose terms this reader has read so far (a copy)."""
    with _WORDS_LOCK:
        return dict(_WORDS.get(searcher.reader(), {}))


def _within(chars: np.ndarray, lengths: np.ndarray, target: str, limit: int) -> np.ndarray:
    """Return, for each padded word (rows of `chars`, -1 past each end), whether
    Whoosh's `damerau_levenshtein(word, target, limit) <= limit`: its restricted
    (optimal string alignment) distance, including its early stop once a whole row
    of the table exceeds the limit, computed for all the words at once.

    A row of the table is the minimum of deletion, substitution and transposition
    (all from earlier rows), then insertions: a running minimum along the row.
    """
    m = len(target)
    t = np.array([ord(c) for c in target], dtype=np.int64)
    n = len(lengths)
    steps = np.arange(m + 1)
    # Rows as Whoosh keeps them, with the left column last (Python's index -1).
    two: np.ndarray | None = None
    one = np.broadcast_to(np.r_[np.arange(1, m + 1), 0], (n, m + 1))
    done = np.zeros(n, dtype=np.int64)
    stopped = np.zeros(n, dtype=bool)
    prev_ch: np.ndarray | None = None
    for x in range(int(lengths.max(initial=0))):
        ch = chars[:, x]
        left = np.full(n, x + 1, dtype=np.int64)
        shifted = np.concatenate((one[:, m:], one[:, :m - 1]), axis=1)  # one[y - 1]
        base = np.minimum(one[:, :m] + 1, shifted + (ch[:, None] != t[None, :]))
        if x > 0 and m > 1 and two is not None and prev_ch is not None:
            swap = ((ch[:, None] == t[None, :-1]) & (prev_ch[:, None] == t[None, 1:])
                    & (ch[:, None] != t[None, 1:]))
            back = np.concatenate((two[:, m:], two[:, :m - 2]), axis=1) + 1  # two[y - 2] + 1
            base[:, 1:] = np.where(swap, np.minimum(base[:, 1:], back), base[:, 1:])
        # Insertions: row[y] = min(base[y], row[y - 1] + 1), the left column before y = 0.
        scan = np.concatenate((left[:, None], base), axis=1) - steps
        row = np.minimum.accumulate(scan, axis=1) + steps
        this = np.concatenate((row[:, 1:], left[:, None]), axis=1)
        if x > limit:
            stopped |= (lengths > x) & ~stopped & (this.min(axis=1) > limit)
        last = lengths == x + 1
        done[last] = this[last, m - 1]
        two, one, prev_ch = one, this, ch
    return ~stopped & (done <= limit)


def _terms_within(searcher: Searcher, stem: str, maxdist: int) -> list[str]:
    """`IndexReader.terms_within(FIELD, stem, maxdist, prefix=1)` (what a reader of several
    segments runs): the same terms, from the cached terms of the stem's first letter
    (`_words`) of a length near enough, their edit distances computed together. A
    one-segment reader's own `terms_within` (an automaton without transpositions) no
    longer gives a different answer."""
    if not stem:
        return []
    words = _words(searcher, stem[:1])
    near = np.flatnonzero(np.abs(words.lengths - len(stem)) <= maxdist)
    if not len(near):
        return []
    keep = _within(words.matrix(near), words.lengths[near], stem, maxdist)
    return [words.words[i] for i in near[keep].tolist()]


def correct(searcher: Searcher, word: str) -> tuple[str, tuple[str, ...]] | None:
    """Return (index stem, words one edit away with that stem) most likely meant by `word`.

    Two sources of candidates: words one edit from what was typed whose stem is in
    the index (catches "presidnet" -> "president", whose stem "presid" is three
    edits from the typed stem), and index stems up to two edits from the typed stem.
    """
    folded = fold(word)
    stem = term_for(folded)
    if stem is None or _doc_freq(searcher, stem) > RARE:
        return None
    freq = _doc_freq(searcher, stem)
    floor = max(3, 5 * freq)
    _words(searcher, stem[:1])  # most words one edit away start as the stem does
    ranked: dict[str, tuple[int, int]] = {}  # stem -> (edits, -articles)
    written: dict[str, set[str]] = {}

    read = _read_words(searcher)  # first letters already read: their terms are known

    def consider(dist: int, cand_stem: str) -> bool:
        if cand_stem == stem:
            return False
        words = read.get(cand_stem[:1])
        if words is not None and cand_stem not in words.known:
            return False  # not in the index: no need to look its frequency up
        cand_freq = _doc_freq(searcher, cand_stem)
        if cand_freq < floor:
            return False
        ranked[cand_stem] = min(ranked.get(cand_stem, (dist, -cand_freq)), (dist, -cand_freq))
        return True

    if folded.isascii() and folded.isalpha():
        for cand in edits1(folded):
            cand_stem = term_for(cand)
            if cand_stem is not None and consider(1, cand_stem):
                written.setdefault(cand_stem, set()).add(cand)
    maxdist = 1 if len(stem) <= 5 else 2
    for sug in _terms_within(searcher, stem, maxdist):
        consider(distance(stem, sug), sug)
    if not ranked:
        return None
    best = min(ranked, key=lambda t: (*ranked[t], t))
    return best, tuple(sorted(written.get(best, ())))


def spelled(searcher: Searcher, stem: str, typed: str, prefer: tuple[str, ...] = ()) -> str | None:
    """Return the written form of `stem` to suggest for `typed`, in its case.

    Among `prefer` (words one edit from `typed`), the one most used in articles holding
    the stem; without them, the used form nearest to `typed`.
    """
    reader = searcher.reader()
    forms: Counter[str] = Counter()
    postings = reader.postings(FIELD, stem)
    docs: list[int] = []
    while postings.is_active() and len(docs) < SAMPLE_DOCS:
        docs.append(postings.id())
        postings.next()
    for d in docs:
        text = reader.stored_fields(d).get(FIELD) or ""
        for s, e, t in iter_tokens(text[:SCAN_CHARS]):
            if t == stem:
                forms[fold(text[s:e])] += 1
    if prefer:
        return _same_case(min(prefer, key=lambda f: (-forms.get(f, 0), f)), typed)
    if not forms:
        return None
    target = fold(typed)
    return _same_case(min(forms, key=lambda f: (distance(target, f), -forms[f], f)), typed)


def _same_case(form: str, typed: str) -> str:
    if typed.isupper():
        return form.upper()
    if typed[:1].isupper():
        return form[:1].upper() + form[1:]
    return form


def suggest(
    searcher: Searcher, q: str, total: int, count: Callable[[str], int]
) -> Suggestion | None:
    """Return a corrected query when it finds clearly more articles than `total`.

    `count(query_text)` runs a query with the request's filters and returns its total.
    """
    segments: list[tuple[str, bool]] = []
    pos = 0
    changed = False
    for start, end, word in candidate_words(q):
        found = correct(searcher, word)
        if found is None:
            continue
        better, one_edit = found
        written = spelled(searcher, better, word, prefer=one_edit)
        if written is None or fold(written) == fold(word):
            continue
        segments.append((q[pos:start], False))
        segments.append((written, True))
        pos = end
        changed = True
    if not changed:
        return None
    segments.append((q[pos:], False))
    corrected = "".join(text for text, _ in segments)
    better_total = count(corrected)
    if better_total <= total or better_total < 3 * total:
        return None
    return Suggestion(
        q=corrected, segments=tuple((t, c) for t, c in segments if t), total=better_total
    )
