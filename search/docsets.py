"""The set of documents a query matches, computed as set algebra over posting lists.

Whoosh answers "which documents match" (`Searcher.docs_for_query`) by walking a
tree of matchers one posting at a time, in Python: most of a search's time at
the full corpus. Matching needs no scores, so here each word's posting list is
read whole, from the segment's flat arrays (search/flatpostings.py) or, in a
segment without them, a block at a time (one decode per 128 postings), into a
Python set, and the query's And/Or/Not become C-speed set operations. Phrases are
checked on their candidates' positions as arrays; queries this does not know
(ranges) still go through Whoosh, restricted to what their words allow.

Filter sets (one source, a date range) repeat across searches, so they are
kept per reader (`filter_docs`), as are whole requests' matching sets and facet
counts (`RESULTS`, used by search/engine.py): a new generation opens a new
reader, so its sets are computed afresh. Term lookups are remembered per reader too
(search/termmemo.py).

Every loop here passes `limits.checkpoint` every few thousand postings, so a
search over its deadline stops inside this stage instead of after it.
"""

from __future__ import annotations

import math
import threading
import weakref
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Set, Sized
from itertools import accumulate, repeat
from pickle import loads
from typing import Any, cast

import numpy as np
from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.formats import Positions
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import IndexReader, TermNotFound
from whoosh.searching import Searcher

from search import flatpostings, limits

DocSet = frozenset[int]
EMPTY: DocSet = frozenset()
CHECK_EVERY = 4096  # postings between two deadline checks
FILTER_CACHE_SIZE = 64  # filter sets kept per reader
RESULT_CACHE_SIZE = 32  # matching sets and facets of whole requests kept per reader
POSTINGS_CACHE_SIZE = 64  # decoded posting lists kept per reader (a few queries' worth)


def _block_ids(m: Any) -> Any:
    """Return the ids of a W3 matcher's current block (`_read_ids`, the running sum in C)."""
    if m._ids is None:
        if m._data is None:
            m._read_data()
        m._ids = tuple(accumulate(m._data[0]))
    return m._ids


def _read_postings(m: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return (segment-local ids, weights) of a fresh posting matcher, a block at a time.

    A block's ids are stored as differences from the previous id, starting afresh in
    each block; the first one of each block is rebased on the previous block's last
    id (its header), so one cumulative sum in numpy decodes the whole list.
    """
    if isinstance(m, FilterMatcher):  # a segment with deleted documents
        ids, weights = _read_postings(m.child)
        marked = np.fromiter(m._ids, dtype=np.int64, count=len(m._ids))
        keep = np.isin(ids, marked, invert=bool(m._exclude))
        return ids[keep], weights[keep]
    if not isinstance(m, W3LeafMatcher) or m._byteids:
        raise LookupError(type(m).__name__)
    deltas: list[int] = []
    weights_out: list[float] = []
    previous = 0
    seen = 0
    start = m._i if m.is_active() else 0  # a filter may have stepped past deleted ones
    while m.is_active():
        if m._data is None:
            m._read_data()
        block, weights = m._data[0], m._data[1]
        size = len(block)
        deltas.append(block[0] - previous)
        deltas.extend(block[1:])
        previous = m._maxid
        if weights is None:
            weights_out.extend(repeat(1.0, size))
        elif isinstance(weights, float):
            weights_out.extend(repeat(weights, size))
        else:
            weights_out.extend(weights)
        seen += size
        if seen >= CHECK_EVERY:
            limits.checkpoint()
            seen = 0
        m._next_block()
    return (np.cumsum(np.array(deltas, dtype=np.int64))[start:],
            np.array(weights_out, dtype=np.float64)[start:])


def postings(reader: IndexReader, field: str, text: str | bytes) -> tuple[np.ndarray, np.ndarray]:
    """Return one term's (document numbers, weights), deleted documents excluded.

    Kept a little while per reader (`POSTINGS`): matching a query and then scoring it
    (search/scores.py) read the same posting lists, and decoding them is the cost.
    Raises LookupError for a posting format read otherwise (then use Whoosh's matchers).
    """
    key = (field, text.decode("utf-8") if isinstance(text, bytes) else text)
    known = POSTINGS.get(reader, key)
    if known is not None:
        return known  # type: ignore[no-any-return]
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    tbytes = _term_bytes(reader, field, text)
    for leaf, base in reader.leaf_readers():
        segment_flat = flatpostings.for_segment(leaf)
        flat = segment_flat.lookup(field, tbytes) if tbytes else None
        if flat is None and segment_flat.complete:
            continue  # the segment does not hold the term
        if flat is not None:
            i, w = flat
            if leaf.has_deletions():
                keep = np.isin(i, _deleted(leaf), invert=True)
                i, w = i[keep], w[keep]
            i = i.astype(np.int64)
            ids.append(i + base if base else i)
            weights.append(w.astype(np.float64))
            continue
        try:
            m = leaf.postings(field, text)
        except TermNotFound:
            continue
        i, w = _read_postings(m)
        ids.append(i + base if base else i)
        weights.append(w)
    found = (np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64),
             np.concatenate(weights) if weights else np.zeros(0, dtype=np.float64))
    POSTINGS.put(reader, key, found)
    return found


def _term_bytes(reader: IndexReader, field: str, text: str | bytes) -> bytes | None:
    """Return a term's bytes as the index stores them (None: no such field)."""
    if isinstance(text, bytes):
        return text
    try:
        return reader.schema[field].to_bytes(text)  # type: ignore[no-any-return]
    except KeyError:
        return None


_DELETED: weakref.WeakKeyDictionary[IndexReader, np.ndarray] = weakref.WeakKeyDictionary()


def _deleted(leaf: IndexReader) -> np.ndarray:
    """Return a segment's deleted document numbers (sorted), read once per segment reader."""
    found = _DELETED.get(leaf)
    if found is None:
        segment: Any = leaf.segment()
        found = _DELETED[leaf] = np.array(sorted(segment.deleted_docs()), dtype=np.uint32)
    return found


def term_docs(reader: IndexReader, field: str, text: str | bytes) -> Set[int]:
    """Return the documents holding one term (deleted documents excluded)."""
    try:
        return ArrayDocs(postings(reader, field, text)[0])  # ascending: segments in order
    except LookupError:
        pass
    out: set[int] = set()
    for leaf, base in reader.leaf_readers():
        try:
            m = leaf.postings(field, text)
        except TermNotFound:
            continue
        out.update(d + base for d in m.all_ids())
    return out


def _whoosh_docs(searcher: Searcher, q: wq.Query) -> set[int]:
    out: set[int] = set()
    for i, d in enumerate(searcher.docs_for_query(q)):
        out.add(d)
        if not i % CHECK_EVERY:
            limits.checkpoint()
    return out


def _eval(searcher: Searcher, q: wq.Query) -> Set[int]:
    reader = searcher.reader()
    if q is wq.NullQuery:
        return EMPTY
    if isinstance(q, wq.Every) and not q.fieldname:
        return live_docs(reader)
    if type(q) is wq.Term:
        return term_docs(reader, q.fieldname, q.text)
    if isinstance(q, wq.MultiTerm):  # prefixes, wildcards: the union of their terms
        sets: list[Set[int]] = []
        for i, text in enumerate(q._btexts(reader)):
            if not i % 32:  # an expansion may hold thousands of terms
                limits.checkpoint()
            sets.append(term_docs(reader, str(q.field()), text))
        return union(sets)
    if isinstance(q, wq.Or) and not getattr(q, "minmatch", 0):
        sets = []
        for child in q.children():
            limits.checkpoint()
            sets.append(_eval(searcher, child))
        return union(sets)
    if isinstance(q, wq.And):
        # Cheapest part first; a part of plain terms much commoner than the documents
        # left is checked by reading only their blocks (`among`), not whole lists.
        parts = sorted(((_cost(reader, c), i, c) for i, c in enumerate(q.children())),
                       key=lambda p: p[:2])
        result: Set[int] | None = None
        for cost, _i, part in parts:
            if result is not None:
                if not result:
                    break
                if cost != math.inf and len(result) * SKIP_SHARE <= cost:
                    try:
                        result = _docs_among(reader, part, sorted(result))
                        continue
                    except LookupError:
                        pass
            docs = _eval(searcher, part)
            result = docs if result is None else result & docs
        return EMPTY if result is None else result
    if isinstance(q, wq.AndNot):
        a = _eval(searcher, q.a)
        return a - _eval(searcher, q.b) if a else a
    if isinstance(q, wq.AndMaybe):
        return _eval(searcher, q.a)
    if isinstance(q, wq.Not):
        return live_docs(reader) - _eval(searcher, q.query)
    if isinstance(q, wq.Phrase):
        return phrase_docs(searcher, q)
    return _whoosh_docs(searcher, q)


def _plain_terms(q: wq.Query) -> list[wq.Term] | None:
    """Return the terms of a term or an OR of terms (None: any other shape)."""
    if type(q) is wq.Term:
        return [q]
    if isinstance(q, wq.Or) and not getattr(q, "minmatch", 0):
        children = list(q.children())
        if all(type(c) is wq.Term for c in children):
            return cast(list[wq.Term], children)
    return None


def _cost(reader: IndexReader, q: wq.Query) -> float:
    """Return how many postings matching `q` reads (infinite: not a plain term query)."""
    terms = _plain_terms(q)
    if terms is None:
        return math.inf
    return float(sum(reader.doc_frequency(t.fieldname, t.text) for t in terms))


def _docs_among(reader: IndexReader, q: wq.Query, docs: list[int]) -> set[int]:
    """Return the documents of `docs` (sorted) that a term or an OR of terms matches."""
    out: set[int] = set()
    for t in _plain_terms(q) or ():
        out.update(among(reader, t.fieldname, t.text, docs))
    return out


def phrase_docs(searcher: Searcher, q: wq.Phrase) -> Set[int]:
    """Return a phrase's documents: positions checked only where all its words occur.

    Kept with the reader's results: scoring the same phrase needs the set again.
    """
    key = ("phrase", repr(q))
    known = RESULTS.get(searcher.reader(), key)
    if known is not None:
        return known  # type: ignore[no-any-return]
    reader = searcher.reader()
    field = q.fieldname
    words = sorted(q.words, key=lambda w: reader.doc_frequency(field, w))
    candidates: Set[int] = term_docs(reader, field, words[0]) if words else EMPTY
    for w in words[1:]:
        if not candidates:
            break
        try:
            if few_among(reader, field, w, len(candidates)):
                candidates = set(among(reader, field, w, sorted_array(candidates).tolist()))
                continue
        except LookupError:  # a posting format read otherwise: the whole list
            pass
        candidates = candidates & term_docs(reader, field, w)
    found: Set[int]
    if not candidates:
        found = EMPTY
    elif q.slop == 1 and len(q.words) > 1 and len(set(q.words)) == len(q.words):
        found = _adjacent(searcher, q, candidates)
    else:
        found = confirm(searcher, q, set(candidates))
    RESULTS.put(reader, key, found)
    return found


# Read a term's postings by skipping (`among`) when it has this many times more than the
# documents asked about: about one per 128-posting block, so most blocks are passed by
# their headers. 8, 32 and 128 measured alike on average over the bench's 200 queries;
# 128 had the lower p95 (24 vs 28 ms at the full corpus, two runs each).
SKIP_SHARE = 128


def among(reader: IndexReader, field: str, text: str, docs: Iterable[int], *,
          values: bool = False) -> dict[int, tuple[float, bytes | None]]:
    """Return {doc: (weight, value bytes or None)} for the live documents of `docs`
    (sorted) that hold the term, reading only the posting blocks that may hold them.

    Blocks are passed over by their headers (last id); a block that may hold one of
    `docs` is decoded once and searched by bisection. For a phrase of a rare and a
    common word, or a common word scored among a few matches, that is a few blocks
    of thousands.
    """
    out: dict[int, tuple[float, bytes | None]] = {}
    todo = list(docs)
    if not todo:
        return out
    tbytes = _term_bytes(reader, field, text)
    for leaf, base in reader.leaf_readers():
        end = base + leaf.doc_count_all()
        mine = [d - base for d in todo[bisect_left(todo, base):bisect_left(todo, end)]]
        if not mine:
            continue
        segment_flat = flatpostings.for_segment(leaf)
        flat = None if values or not tbytes else segment_flat.lookup(field, tbytes)
        if flat is None and segment_flat.complete and not values:
            continue  # the segment does not hold the term
        if flat is not None:
            _among_flat(flat, base, mine, out)
            continue
        try:
            m = leaf.postings(field, text)
        except TermNotFound:
            continue
        if isinstance(m, FilterMatcher):
            m = m.child  # `docs` are live documents: the deleted ones are never asked for
        if not isinstance(m, W3LeafMatcher):
            raise LookupError(type(m).__name__)
        _among_blocks(m, base, mine, values, out)
    return out


def _among_flat(flat: tuple[np.ndarray, np.ndarray], base: int, mine: list[int],
                out: dict[int, tuple[float, bytes | None]]) -> None:
    ids, weights = flat
    wanted = flatpostings.same_type(np.array(mine, dtype=np.int64), ids)
    k = np.searchsorted(ids, wanted)
    inside = k < len(ids)
    hit = np.zeros(len(wanted), dtype=bool)
    hit[inside] = ids[k[inside]] == wanted[inside]
    for d, w in zip((wanted[hit].astype(np.int64) + base).tolist(), weights[k[hit]].tolist(),
                    strict=True):
        out[d] = (w, None)


def _among_blocks(m: Any, base: int, mine: list[int], values: bool,
                  out: dict[int, tuple[float, bytes | None]]) -> None:
    i, n = 0, len(mine)
    while i < n and m.is_active():
        if m._maxid < mine[i]:
            m._next_block()
            continue
        ids, last = _block_ids(m), m._maxid
        weights: Any = None
        vals: Any = None
        while i < n and mine[i] <= last:
            d = mine[i]
            k = bisect_left(ids, d)
            if k < len(ids) and ids[k] == d:
                if weights is None:
                    if m._weights is None:
                        m._read_weights()
                    weights = m._weights
                    if values:
                        if m._values is None:
                            m._read_values()
                        vals = m._values
                out[d + base] = (weights[k], vals[k] if values else None)
            i += 1
        m._next_block()
        limits.checkpoint()


def few_among(reader: IndexReader, field: str, text: str, count: int) -> bool:
    """True when `count` documents are few enough against the term's to read them by skipping."""
    return count * SKIP_SHARE <= reader.doc_frequency(field, text)


def _decode_positions(value: bytes) -> list[int]:
    """`Positions.decode_positions` with the running sum in C (a phrase decodes thousands)."""
    return list(accumulate(loads(value[4:] if value.endswith(b".") else value[4:] + b".")))


def _word_positions(reader: IndexReader, field: str, text: str, docs: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Return (document, position) pairs of a term in `field` over `docs` (sorted ints):
    from a segment's flat postings where it has them, else from its posting blocks
    (only those that may hold one of `docs`)."""
    fmt: Any = reader.schema[field].format
    decode = _decode_positions if isinstance(fmt, Positions) else fmt.decode_positions
    tbytes = _term_bytes(reader, field, text)
    out_docs: list[np.ndarray] = []
    out_pos: list[np.ndarray] = []
    for leaf, base in reader.leaf_readers():
        lo, hi = np.searchsorted(docs, [base, base + leaf.doc_count_all()])
        if lo == hi:
            continue
        mine = docs[lo:hi] - base
        flat = flatpostings.for_segment(leaf).positions(field, tbytes, mine) \
            if tbytes else None
        if flat is not None:
            out_docs.append(flat[0].astype(np.int64) + base)
            out_pos.append(flat[1].astype(np.int64))
            continue
        try:
            m = leaf.postings(field, text)
        except TermNotFound:
            continue
        if isinstance(m, FilterMatcher):
            m = m.child  # `docs` are live documents: the deleted ones are never asked for
        if not isinstance(m, W3LeafMatcher):
            raise LookupError(type(m).__name__)
        found: dict[int, tuple[float, bytes | None]] = {}
        _among_blocks(m, base, mine.tolist(), True, found)
        for d in sorted(found):
            value = found[d][1]
            if value is not None:
                where = decode(value)
                out_docs.append(np.full(len(where), d, dtype=np.int64))
                out_pos.append(np.array(where, dtype=np.int64))
    if not out_docs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(out_docs), np.concatenate(out_pos)


def _adjacent(searcher: Searcher, q: wq.Phrase, candidates: Set[int]) -> Set[int]:
    """Return the candidates where the phrase's words stand in order, side by side.

    The same as Whoosh's SpanNear2 with slop 1 (each word right after the previous
    one), read from the positions of the candidates only: word k's positions, moved
    k places back, must meet every other word's in the same document. Each pair is
    one integer (document << 32 | position), so this is a chain of sorted-array
    intersections.
    """
    reader = searcher.reader()
    docs = sorted_array(candidates)
    meeting: np.ndarray | None = None
    for k, word in enumerate(q.words):
        limits.checkpoint()
        try:
            where_docs, positions = _word_positions(reader, q.fieldname, word, docs)
        except LookupError:
            return confirm(searcher, q, set(candidates))
        keys = (where_docs << 32) + (positions - k)
        meeting = np.unique(keys) if meeting is None else \
            np.intersect1d(meeting, keys)
        if not len(meeting):
            return EMPTY
    if meeting is None:
        return EMPTY
    return ArrayDocs(np.unique(meeting >> 32))


def confirm(searcher: Searcher, q: wq.Query, candidates: set[int]) -> set[int]:
    """Return the candidates `q` matches (a phrase: positions checked), skipping between them."""
    out: set[int] = set()
    todo = sorted(candidates)
    subs = searcher.subsearchers or [(searcher, 0)]
    for n, (sub, base) in enumerate(subs):
        end = subs[n + 1][1] if n + 1 < len(subs) else None
        m = q.matcher(sub, sub.boolean_context())
        for i, d in enumerate(todo):
            if d < base or (end is not None and d >= end):
                continue
            if not m.is_active():
                break
            local = d - base
            if m.id() < local:
                m.skip_to(local)
                if not m.is_active():
                    break
            if m.id() == local:
                out.add(d)
            if not i % 256:
                limits.checkpoint()
    return out


def query_docs(searcher: Searcher, q: wq.Query) -> Set[int]:
    """Return the documents `q` matches: the same set as `Searcher.docs_for_query`."""
    return _eval(searcher, q)


# --- Caches kept per reader (so a new generation starts with empty ones) ------------------


class ReaderCache:
    """A small LRU of values per index reader.

    Keyed on the reader, not on a generation name: a new generation is a new
    reader (its searcher is reopened), so nothing computed on an old one can
    be served for it, and the entries go when the old reader is collected.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._maps: weakref.WeakKeyDictionary[IndexReader, OrderedDict[object, object]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, reader: IndexReader, key: object) -> Any:
        with self._lock:
            entries = self._maps.get(reader)
            found = entries.get(key) if entries is not None else None
            if found is None:
                self.misses += 1
                return None
            entries.move_to_end(key)  # type: ignore[union-attr]
            self.hits += 1
            return found

    def put(self, reader: IndexReader, key: object, value: object) -> None:
        if self.size <= 0:
            return
        with self._lock:
            entries = self._maps.get(reader)
            if entries is None:
                entries = self._maps[reader] = OrderedDict()
            entries[key] = value
            while len(entries) > self.size:
                entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._maps.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(m) for m in self._maps.values())


# Filter sets (a source, a date range) recur across searches; matching sets and facet
# counts of whole requests recur when a reader pages, re-sorts or reloads. Sizes bound
# memory: a set of 50k document numbers is ~2 MB.
FILTERS = ReaderCache(FILTER_CACHE_SIZE)
RESULTS = ReaderCache(RESULT_CACHE_SIZE)
POSTINGS = ReaderCache(POSTINGS_CACHE_SIZE)


def live_docs(reader: IndexReader) -> Set[int]:
    """Return every live (not deleted) document number, read once per reader."""
    found = FILTERS.get(reader, "__all__")
    if found is None:
        found = ArrayDocs(np.sort(np.fromiter(reader.all_doc_ids(), dtype=np.int64)))
        FILTERS.put(reader, "__all__", found)
    return found  # type: ignore[no-any-return]


def filter_docs(searcher: Searcher, q: wq.Query | None) -> Set[int] | None:
    """Return the documents a filter query matches (None: no filter), cached per reader."""
    if q is None:
        return None
    key = ("filter", repr(q))
    found = FILTERS.get(searcher.reader(), key)
    if found is None:
        found = query_docs(searcher, q)
        FILTERS.put(searcher.reader(), key, found)
    return found  # type: ignore[no-any-return]


class ArrayDocs(Set[int]):
    """A document set held as a sorted array of distinct document numbers.

    What matching sets are made of: a term's documents come from its decoded
    postings as an array, and `&`, `|` and `-` with another array stay arrays
    (sorted-array merges in numpy), so no Python set of tens of thousands of
    ints is built, and facet counts, scoring and paging take the array as is
    (`doc_array`). With a plain set on the other side, that set is sorted into
    an array first. Membership builds a frozenset on first use.
    """

    __slots__ = ("_set", "array")

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self._set: frozenset[int] | None = None

    def __len__(self) -> int:
        return len(self.array)

    def __iter__(self) -> Iterator[int]:
        return iter(self.array.tolist())

    def __contains__(self, d: object) -> bool:
        if self._set is None:
            self._set = frozenset(self.array.tolist())
        return d in self._set

    def __repr__(self) -> str:
        return f"ArrayDocs({self.array.tolist()!r})"

    def __and__(self, other: object) -> ArrayDocs:
        if not isinstance(other, Set):
            return NotImplemented
        return ArrayDocs(_both(self.array, sorted_array(other)))

    __rand__ = __and__

    def __or__(self, other: object) -> ArrayDocs:  # type: ignore[override]
        if not isinstance(other, Set):
            return NotImplemented
        return ArrayDocs(np.union1d(self.array, sorted_array(other)))

    __ror__ = __or__  # type: ignore[assignment]

    def __sub__(self, other: object) -> ArrayDocs:
        if not isinstance(other, Set):
            return NotImplemented
        return ArrayDocs(_without(self.array, sorted_array(other)))

    def __rsub__(self, other: object) -> ArrayDocs:
        if not isinstance(other, Set):
            return NotImplemented
        return ArrayDocs(_without(sorted_array(other), self.array))

    @classmethod
    def _from_iterable(cls, it: Iterable[Any]) -> frozenset[Any]:  # type: ignore[override]
        return frozenset(it)  # `^` and the like give plain sets


def sorted_array(docs: Set[int]) -> np.ndarray:
    """Return a set's document numbers as a sorted int64 array (an ArrayDocs' own array)."""
    if isinstance(docs, ArrayDocs):
        return docs.array
    return np.sort(np.fromiter(docs, dtype=np.int64, count=len(docs)))


def union(parts: Iterable[Set[int]]) -> Set[int]:
    """Return the union of document sets: an array when they all are."""
    sets = list(parts)
    if not sets:
        return EMPTY
    if all(isinstance(p, ArrayDocs) for p in sets):
        if len(sets) == 1:
            return sets[0]
        return ArrayDocs(np.unique(np.concatenate([cast(ArrayDocs, p).array for p in sets])))
    return frozenset().union(*sets)


def in_sorted(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Return, for each of `values`, whether it is in `keys` (sorted): a binary search each."""
    if not len(keys):
        return np.zeros(len(values), dtype=bool)
    return keys[np.minimum(np.searchsorted(keys, values), len(keys) - 1)] == values


def _both(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the numbers in both sorted arrays: the smaller one looked up in the larger."""
    small, big = (a, b) if len(a) <= len(b) else (b, a)
    return small[in_sorted(big, small)]


def _without(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the numbers of sorted array `a` not in sorted array `b`."""
    return a[~in_sorted(b, a)] if len(b) else a


_LAST = threading.local()  # this thread's last doc set as an array, reused by the next count


def doc_array(docs: Iterable[int]) -> np.ndarray:
    """Return document numbers as an index array; one set counted twice in a row converts once.

    Callers never mutate a matching set after building it, so identity is enough.
    """
    if isinstance(docs, np.ndarray):
        return docs
    if isinstance(docs, ArrayDocs):
        return docs.array
    last = getattr(_LAST, "pair", None)
    if last is not None and last[0] is docs:
        return last[1]  # type: ignore[no-any-return]
    if isinstance(docs, Sized):
        arr = np.fromiter(docs, dtype=np.int64, count=len(docs))
    else:
        arr = np.fromiter(docs, dtype=np.int64)
    _LAST.pair = (docs, arr)
    return arr
