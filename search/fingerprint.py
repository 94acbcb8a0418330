"""Near-duplicate fingerprints of article bodies: MinHash signatures over word shingles.

A body is analysed exactly as the index analyses it (`search.analysis.terms`:
fold, drop stop words, stem), so re-wrapped lines, changed case or accents,
"said"/"says" and added stop words do not change a fingerprint. Consecutive
terms form k-shingles; each shingle is hashed once (simple tabulation over
terms: one 64-bit value per term and position, XORed) and the signature is a
one-permutation MinHash (Li, Owen and Zhang 2012): the hash picks one of
`bins` bins and the bin keeps its smallest value. Bins left empty by short
texts borrow a value along a fixed probe sequence ("optimal densification",
Shrivastava 2017), so every signature is full and bands of it can be bucketed
for LSH. That costs one hash per shingle instead of one per shingle and
permutation (2.3x datasketch's numpy MinHash on the same shingles, when this was
pure Python; with the shingles and bins as numpy arrays, ~165 -> ~130 us an article;
an index worker's batches of 64 (`fingerprints`) halve the array part again).

The fraction of equal bins estimates the Jaccard similarity of two shingle
sets; with the set sizes it also estimates the overlap coefficient
|A & B| / min(|A|, |B|), which stays high when one outlet trims the last
paragraphs of a wire story that another runs in full.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any, TypeVar

import numpy as np

from search import analysis
from search.analysis import term_for
from search.languages import GENERIC

# Bump when hashing or shingling changes: stored signatures would no longer compare.
FINGERPRINT_VERSION = 1

_PERSON = b"dateline-story1"  # blake2b personalisation: our hashes, not anyone's
_MASK32 = 0xFFFFFFFF


@dataclass(frozen=True)
class Scheme:
    """How texts are fingerprinted: shingle length in terms, and signature bins."""

    shingle: int = 3
    bins: int = 128

    def __post_init__(self) -> None:
        if self.shingle < 1:
            raise ValueError("shingle must be 1 or more")
        if self.bins < 8 or self.bins & (self.bins - 1):
            raise ValueError("bins must be a power of two, 8 or more")


DEFAULT_SCHEME = Scheme()


@dataclass(frozen=True)
class Fingerprint:
    """A MinHash signature (`bins` 32-bit values) and the number of distinct shingles."""

    signature: array  # array('I')
    size: int

    @property
    def empty(self) -> bool:
        return self.size == 0


# `term_for` without its own LRU: `_TokenTerms` is this module's memo, and going
# through `term_for` kept the same vocabulary a second time (up to 2**20 entries,
# ~200 MB in an indexing job that never queries).
_term_uncached = term_for.__wrapped__
# The index writer's own token -> terms memo (`analysis.index_positions`): in an index
# worker, which fingerprints the bodies it has just indexed (indexer/pipeline.py), most
# tokens are there already, stemmed; the shared fields' first term is `term_for`'s.
_INDEXED = analysis.index_memo(GENERIC)

# What a token's terms are looked up in: the shared fields' terms of each word (empty
# for a stop word), as `analysis.index_memo` and a segment writer's words hold them
# (one language's part of an `analysis.Words`).
WordTerms = Mapping[str, tuple[str, ...]]


def _term(token: str) -> str | None:
    found = _INDEXED.get(token)
    if found is not None:
        return found[0] if found else None
    return _term_uncached(token)


K = TypeVar("K")
V = TypeVar("V")


class _Bounded(dict[K, V]):
    """A memo cleared when full, so it stays bounded; a subclass's `__missing__`
    computes a value and hands it to `_keep`. A dict with `__missing__` rather than
    `lru_cache`: a hit stays in C."""

    LIMIT = 1 << 16

    def _keep(self, key: K, value: V) -> V:
        if len(self) >= self.LIMIT:
            self.clear()
        self[key] = value
        return value


class _TokenTerms(_Bounded[str, tuple[str, ...]]):
    """Token -> its shared-fields term as a tuple (empty for a stop word), for tokens
    the caller's words do not hold."""

    def __missing__(self, token: str) -> tuple[str, ...]:
        term = _term(token)
        return self._keep(token, () if term is None else (term,))


class _TermHashes(_Bounded[str, bytes]):
    """Term -> its k independent 64-bit values, as k*8 little-endian bytes: a body's
    values are then one `bytes.join` away from a numpy array.

    Keyed by term, not token: a worker's 28k articles have ~96k distinct terms against
    ~283k distinct tokens (case, inflections), so a bounded table misses ~6x less
    often.
    """

    LIMIT = 1 << 16  # ~130 bytes an entry: at most ~9 MB

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def __missing__(self, term: str) -> bytes:
        return self._keep(term, _term_bytes(term, self.k))


@lru_cache(maxsize=8)
def _hasher(k: int) -> Any:
    """An empty blake2b state with our digest size and personalisation: copying it is
    cheaper than making one from its parameters."""
    return hashlib.blake2b(digest_size=8 * k, person=_PERSON)


def _term_bytes(term: str, k: int) -> bytes:
    h = _hasher(k).copy()
    h.update(term.encode("utf-8"))
    return h.digest()


def term_hash(term: str, k: int) -> tuple[int, ...]:
    """Return k independent 64-bit values for a term, one per position in a shingle."""
    d = _term_bytes(term, k)
    return tuple(int.from_bytes(d[8 * i : 8 * i + 8], "little") for i in range(k))


_TABLES: dict[int, _TermHashes] = {}
_TOKEN_TERMS = _TokenTerms()
_FIRST = itemgetter(0)


def term_values(text: str, k: int, words: WordTerms | None = None) -> bytes:
    """The k 64-bit values of each of `text`'s terms, in order, as one bytes (k*8 a term).

    The per-token part of a fingerprint (Python: a dict lookup a token); `fingerprints`
    does the rest for many texts at once. The tokens are `analysis.tokens`', so an index
    worker reuses the body's from indexing, and their terms come from `words` (the
    writer's, which hold every word of the text it has just indexed) or the index memo;
    only the rest are analysed here.
    """
    table = _TABLES.get(k)
    if table is None:
        table = _TABLES.setdefault(k, _TermHashes(k))
    tokens = analysis.tokens(text)
    found: list[tuple[str, ...] | None] = list(
        map((_INDEXED if words is None else words).get, tokens))
    if None in found:
        for i, terms in enumerate(found):
            if terms is None:
                found[i] = _TOKEN_TERMS[tokens[i]]
    return b"".join(map(table.__getitem__, map(_FIRST, filter(None, found))))


def _shingles(text: str, k: int, words: WordTerms | None = None) -> np.ndarray:
    """The distinct k-term shingle hashes of `text`, sorted (uint64; see `shingle_hashes`);
    its terms as `term_values` finds them."""
    return _hashes_of(term_values(text, k, words), k)


def _hashes_of(values: bytes, k: int) -> np.ndarray:
    """`_shingles` of a text's `term_values`. numpy, not a set of Python ints: the XOR of
    the k shifted columns and the de-duplication are a few array operations instead of a
    Python loop per shingle."""
    hs = np.frombuffer(values, dtype="<u8").reshape(-1, k)
    n = len(hs)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    if n < k:
        return np.bitwise_xor.reduce(hs[np.arange(n), np.arange(n)]).reshape(1)
    out = hs[: n - k + 1, 0].copy()
    for j in range(1, k):
        out ^= hs[j : n - k + 1 + j, j]
    return np.unique(out)


def shingle_hashes(text: str, k: int) -> set[int]:
    """Return the 64-bit hashes of the distinct k-term shingles of `text`.

    Terms are the index's (`search.analysis.term_for` on the same tokens); a shingle's
    hash XORs its terms' values for their positions (simple tabulation). A text with
    fewer than k terms is one shingle of all its terms, so a very short item still
    matches an identical one.
    """
    return set(_shingles(text, k).tolist())


@lru_cache(maxsize=8)
def _probes(bins: int) -> tuple[tuple[int, ...], ...]:
    """Return, for each bin, the fixed order of bins it borrows from when empty."""
    out: list[tuple[int, ...]] = []
    for b in range(bins):
        seq: list[int] = []
        attempt = 0
        while len(seq) < bins - 1:
            d = hashlib.blake2b(f"{b}:{attempt}".encode(), digest_size=8, person=_PERSON)
            attempt += 1
            p = int.from_bytes(d.digest(), "little") % bins
            if p != b and p not in seq:
                seq.append(p)
        out.append(tuple(seq))
    return tuple(out)


_EMPTY = _MASK32 + 1


@lru_cache(maxsize=16)
def _probe_table(bins: int, head: int | None = None) -> np.ndarray:
    """Each bin's probe order as a row (its first `head` probes only, when given)."""
    return np.array([p[:head] for p in _probes(bins)], dtype=np.intp)


def _signature(hashes: np.ndarray, bins: int) -> array:
    """`signature` of distinct uint64 hashes (as `_shingles` gives them)."""
    if not len(hashes):
        return array("I", bytes(4 * bins))
    # Each bin keeps the smallest top half of the hashes that fall in it.
    sig = np.full(bins, _EMPTY, dtype=np.uint64)
    np.minimum.at(sig, (hashes & np.uint64(bins - 1)).astype(np.intp), hashes >> np.uint64(32))
    _densify(sig.reshape(1, bins))
    return array("I", sig.astype(np.uint32).tobytes())


def _densify(table: np.ndarray) -> None:
    """Fill the empty bins of signatures (a row each, in place): a short text (most
    articles) has some, and each borrows along its probes."""
    rows, cols = np.nonzero(table == _EMPTY)
    if not len(rows):
        return
    bins = table.shape[1]
    got = _borrowed(table, rows, cols, _probe_table(bins, PROBE_HEAD))
    left = got == _EMPTY  # no filled bin among their first probes
    if left.any():
        got[left] = _borrowed(table, rows[left], cols[left], _probe_table(bins))
    table[rows, cols] = got


# How many of its probes an empty bin looks at first. With a fraction f of bins empty,
# a bin finds none filled among them with probability f ** PROBE_HEAD (1e-4 at f = 1/3):
# nearly every article is done in one small gather instead of one over all the probes.
PROBE_HEAD = 8


def fingerprints(values: Sequence[bytes], scheme: Scheme = DEFAULT_SCHEME) -> list[Fingerprint]:
    """Fingerprint many texts from their `term_values`: equal to `fingerprint` of each.

    One set of array operations for the whole batch instead of ~25 small ones a text
    (an index worker fingerprints each batch of bodies it has just indexed): the
    shingles of every text are XORed in one pass, de-duplicated per text by one stable
    sort of all of them, and binned into one (texts x bins) table.
    """
    k, bins = scheme.shingle, scheme.bins
    out: list[Fingerprint | None] = [None] * len(values)
    counts = np.fromiter(map(len, values), dtype=np.intp, count=len(values)) // (8 * k)
    long = np.flatnonzero(counts >= k)
    for i in np.flatnonzero(counts < k).tolist():  # a one-shingle text, or an empty one
        hashes = _hashes_of(values[i], k)
        out[i] = Fingerprint(_signature(hashes, bins), len(hashes))
    if len(long):
        hs = np.frombuffer(b"".join([values[i] for i in long.tolist()]), dtype="<u8")
        hs = hs.reshape(-1, k)
        n = counts[long]
        ends = np.cumsum(n)
        m = len(hs) - k + 1
        shingles = hs[:m, 0].copy()
        for j in range(1, k):
            shingles ^= hs[j : m + j, j]
        # Row i starts a shingle of its own text when the text has k - 1 terms after it.
        text = np.repeat(np.arange(len(long)), n)[:m]
        keep = np.arange(m) <= (ends - k)[text]
        shingles, text = shingles[keep], text[keep]
        # Equal hashes end up side by side, texts in order among them: a repeat within
        # a text is its neighbour.
        order = np.argsort(shingles, kind="stable")
        shingles, text = shingles[order], text[order]
        first = np.ones(len(shingles), dtype=bool)
        first[1:] = (shingles[1:] != shingles[:-1]) | (text[1:] != text[:-1])
        shingles, text = shingles[first], text[first]
        sizes = np.bincount(text, minlength=len(long))
        flat = np.full(len(long) * bins, _EMPTY, dtype=np.uint64)
        cell = text * bins + (shingles & np.uint64(bins - 1)).astype(np.intp)
        np.minimum.at(flat, cell, shingles >> np.uint64(32))
        table = flat.reshape(len(long), bins)
        _densify(table)
        sigs = table.astype(np.uint32)
        for row, (i, size) in enumerate(zip(long.tolist(), sizes.tolist(), strict=True)):
            out[i] = Fingerprint(array("I", sigs[row].tobytes()), size)
    return out  # type: ignore[return-value]


def _borrowed(table: np.ndarray, rows: np.ndarray, cols: np.ndarray,
              probes: np.ndarray) -> np.ndarray:
    """The value empty bin `cols[i]` of signature `rows[i]` borrows: its first filled
    bin's along `probes` (each bin's probe order, a row each), or `_EMPTY` where none of
    them is filled."""
    order = probes[cols]
    found = table[rows[:, None], order]
    first = np.argmax(found != _EMPTY, axis=1)
    return found[np.arange(len(rows)), first]


def signature(hashes: set[int], bins: int) -> array:
    """Return the densified one-permutation MinHash of a set of 64-bit hashes."""
    return _signature(np.fromiter(hashes, dtype=np.uint64, count=len(hashes)), bins)


def fingerprint(text: str, scheme: Scheme = DEFAULT_SCHEME, words: WordTerms | None = None
                ) -> Fingerprint:
    """Fingerprint an article body for near-duplicate detection.

    `words` (token -> its shared fields' terms) may hold the text's terms already: an
    index writer's words of the segment that has just indexed it.
    """
    hashes = _shingles(text, scheme.shingle, words)
    return Fingerprint(_signature(hashes, scheme.bins), len(hashes))


def jaccard(a: Fingerprint, b: Fingerprint) -> float:
    """Estimate the Jaccard similarity of two fingerprinted shingle sets."""
    if a.empty or b.empty:
        return 0.0
    equal = np.frombuffer(a.signature, dtype=np.uint32) == np.frombuffer(b.signature, np.uint32)
    return int(np.count_nonzero(equal)) / len(a.signature)  # ~4.5 us; the bins' loop ~12


def overlap_from_jaccard(j: float, size_a: int, size_b: int) -> float:
    """Estimate |A & B| / min(|A|, |B|) from the Jaccard similarity and set sizes."""
    if j <= 0.0 or not size_a or not size_b:
        return 0.0
    inter = j * (size_a + size_b) / (1.0 + j)
    return min(1.0, inter / min(size_a, size_b))


def overlap(a: Fingerprint, b: Fingerprint) -> float:
    """Estimate the overlap coefficient of two fingerprinted shingle sets."""
    return overlap_from_jaccard(jaccard(a, b), a.size, b.size)
