"""Relevance scores of plain word queries for every match at once, with numpy.

Whoosh scores a search by walking a tree of matchers one posting at a time; for
a common word (10,000+ matches at the full corpus) that walk is most of a
search. For the query shapes most searches have (words searched in every
field: `WordGroup`s, combined with And, Or, AndNot and the per-language
`LanguageOr`), the same BM25F numbers are computed here per field as arrays:
postings read a block at a time, field lengths read once per reader. Any other
shape (phrases, the title-proximity bonus of several words, prefixes) returns
None and is scored by Whoosh as before (search/ranking.py).

The formulas are search/ranking.py's: `_Scorer` (BM25 per field), `_TfScorer` +
`_Saturated` (BM25F per word), summed as Whoosh's Union/Intersection matchers
sum. Additions may happen in another order than Whoosh's tree, so a score can
differ in its last bit; tests hold the two to 1e-9.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Set
from typing import Any, cast

import numpy as np
from whoosh import query as wq
from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from search import docsets, limits, ranking
from search.facets import column_values
from search.schema import ALL_TEXT_FIELDS

Scored = tuple[np.ndarray, np.ndarray]  # (score per document, matched per document)


class _Unsupported(Exception):
    """The query has a shape this module does not score; Whoosh does."""


_LENGTHS: weakref.WeakKeyDictionary[IndexReader, dict[str, np.ndarray]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()


def _lengths(reader: IndexReader, field: str) -> np.ndarray:
    """Return each document's length of `field` as Whoosh's scorers read it, once per reader."""
    with _LOCK:
        found = _LENGTHS.get(reader, {}).get(field)
    if found is not None:
        return found
    out = np.zeros(reader.doc_count_all(), dtype=np.float64)
    for leaf, base in reader.leaf_readers():
        # The per-field accessor resolves the length column once, not per document (a
        # segment without the field would otherwise look for its column 57k times).
        perdoc = getattr(leaf, "_perdoc", None)
        get = perdoc.doc_field_length_reader(field, 1) if perdoc is not None \
            else lambda d, leaf=leaf: leaf.doc_field_length(d, field, 1)
        n = leaf.doc_count_all()
        out[base:base + n] = [get(d) or 0 for d in range(n)]
    with _LOCK:
        _LENGTHS.setdefault(reader, {})[field] = out
    return out


def _timestamps(reader: IndexReader) -> np.ndarray:
    """Return each document's `pub_ts` column value as floats, once per reader."""
    with _LOCK:
        found = _LENGTHS.get(reader, {}).get(" pub_ts")
    if found is None:
        found = np.array(column_values(reader, "pub_ts"), dtype=np.float64)
        with _LOCK:
            _LENGTHS.setdefault(reader, {})[" pub_ts"] = found
    return found


def _postings(reader: IndexReader, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        return docsets.postings(reader, field, text)
    except LookupError as e:
        raise _Unsupported(str(e)) from None


# Matches this many times fewer than the index's documents are scored in arrays over them
# only: arrays as long as the index cost more (allocation, page faults, full-length masks)
# than the mapping of each posting list onto the matches (a binary search in C).
COMPACT_SHARE = 4


class _Scorer:
    """Evaluates one query tree over per-document arrays: one slot per document of the
    index, or (`over`) one per document of a given few (the matches)."""

    def __init__(self, searcher: Searcher, rank: ranking.Ranking) -> None:
        self.searcher = searcher
        self.reader = searcher.reader()
        self.n = self.reader.doc_count_all()
        self.rank = rank
        self.weighting = ranking.weighting(rank)
        # The documents that can matter (sorted), when few: a term much commoner than
        # them is read only in their blocks (`docsets.among`), not over all its postings.
        self.only: list[int] | None = None
        # The documents the arrays are over (sorted doc numbers); None: every document.
        self.slots: np.ndarray | None = None

    def over(self, docs: np.ndarray) -> None:
        """Score only `docs` (sorted doc numbers): array slot i is document docs[i]."""
        self.slots = docs
        self.n = len(docs)

    def slot(self, ids: np.ndarray) -> np.ndarray:
        """Return the slots of `ids` (doc numbers, every one among the scored documents)."""
        return ids if self.slots is None else np.searchsorted(self.slots, ids)

    def docs(self, slots: np.ndarray) -> np.ndarray:
        """Return the doc numbers of array `slots`."""
        return slots if self.slots is None else self.slots[slots]

    def within(self, ids: np.ndarray, *columns: np.ndarray) -> tuple[np.ndarray, ...]:
        """Return `ids` (sorted doc numbers) and `columns` alike, kept where scored."""
        keys = self.slots
        if keys is None or not len(ids):
            return (ids, *columns)
        keep = docsets.in_sorted(keys, ids)
        return (ids[keep], *(c[keep] for c in columns))

    def mark(self, flags: np.ndarray, docs: np.ndarray, value: bool) -> None:
        """Set `flags` at the slots of `docs` (sorted doc numbers) that are scored."""
        (kept,) = self.within(docs)
        flags[self.slot(kept)] = value

    def read(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Return the term's (documents, weights) among the scored documents: read by
        skipping when they are few against the term's (`only`)."""
        only = self.only
        if only is not None and docsets.few_among(self.reader, field, text, len(only)):
            return self._among(field, text, only)
        ids, tf = _postings(self.reader, field, text)
        return cast(tuple[np.ndarray, np.ndarray], self.within(ids, tf))

    def _among(self, field: str, text: str, docs: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Return the term's (documents, weights) among `docs` (sorted), read by skipping."""
        try:
            got = docsets.among(self.reader, field, text, docs)
        except LookupError as e:
            raise _Unsupported(str(e)) from None
        return (np.fromiter(got, dtype=np.int64, count=len(got)),
                np.fromiter((w for w, _v in got.values()), dtype=np.float64, count=len(got)))

    def empty(self) -> Scored:
        return np.zeros(self.n), np.zeros(self.n, dtype=bool)

    def term(self, q: wq.Term) -> Scored:
        """BM25 of one field (`ranking._Scorer`), times the term's boost."""
        field, text = q.fieldname, q.text
        score, present = self.empty()
        sc = self._scorer(field, text)
        if sc is None:
            return score, present
        ids, tf = self.read(field, text)
        at = self.slot(ids)
        score[at] = self._bm25(sc, field, ids, tf, q.boost)
        present[at] = True
        return score, present

    def _scorer(self, field: str, text: str) -> ranking._Scorer | None:
        """Return the term's BM25 scorer (None: not in the index)."""
        schema = self.searcher.schema
        if field not in schema or not schema[field].scorable:
            raise _Unsupported(field)
        if (field, schema[field].to_bytes(text)) not in self.reader:
            return None
        sc = self.weighting.scorer(self.searcher, field, text)
        if not isinstance(sc, ranking._Scorer):
            raise _Unsupported(type(sc).__name__)
        return sc

    def _bm25(self, sc: ranking._Scorer, field: str, ids: np.ndarray, tf: np.ndarray,
              boost: float) -> np.ndarray:
        fl = _lengths(self.reader, field)[ids]
        k1, b = sc.K1, sc.B
        out = sc.idf * ((tf * (k1 + 1)) / (tf + k1 * ((1 - b) + b * fl / sc.avgfl)))
        return out * boost if boost != 1.0 else out

    def word_group(self, q: ranking.WordGroup) -> Scored:
        """BM25F of one word over one language's fields (`_TfScorer` summed, `_Saturated`)."""
        terms: list[Any] = list(q.subqueries)
        if not terms or not all(type(t) is wq.Term for t in terms):
            raise _Unsupported("WordGroup child")
        top: Any = self.searcher
        schema = self.searcher.schema
        s = np.zeros(self.n)
        present = np.zeros(self.n, dtype=bool)
        for t in terms:
            field = t.fieldname
            if field not in schema or not schema[field].scorable:
                raise _Unsupported(field)
            if (field, schema[field].to_bytes(t.text)) not in self.reader:
                continue
            kind = ALL_TEXT_FIELDS.get(field, (field, ""))[0]
            b = q.ranking.b(kind)
            avgfl = ranking._avg_length(top, field)
            ids, tf = self.read(field, t.text)
            fl = _lengths(self.reader, field)[ids]
            part = tf / (1 - b + b * fl / avgfl)
            if t.boost != 1.0:
                part = part * t.boost
            at = self.slot(ids)
            s[at] += part
            present[at] = True
        if not present.any():
            return s, present
        for t in q.exact:  # exact forms: only where the stem matched (never a new match)
            field = t.fieldname
            if field not in schema or (field, schema[field].to_bytes(t.text)) not in self.reader:
                continue
            b = q.ranking.b(ranking.EXACT_KINDS[field])
            ids, tf = self.read(field, t.text)
            at = self.slot(ids)
            keep = present[at]
            ids, tf, at = ids[keep], tf[keep], at[keep]
            fl = _lengths(self.reader, field)[ids]
            s[at] += t.boost * tf / (1 - b + b * fl / ranking._avg_length(top, field))
        lang = ALL_TEXT_FIELDS[terms[0].fieldname][1]
        df = max(top.doc_frequency(t.fieldname, t.text) for t in terms)
        n = top.doc_frequency("analyzed_as", lang) or top.doc_count_all()
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        k1 = q.ranking.k1
        score = np.zeros(self.n)
        score[present] = idf * s[present] * (k1 + 1) / (k1 + s[present])
        return score, present

    def phrase(self, q: wq.Phrase, within: np.ndarray) -> Scored:
        """A phrase (or the title-proximity bonus): its words' BM25 summed, times its
        boost, in the documents of `within` where the words occur together.

        A word much commoner than the phrase is read only where the phrase is
        (`docsets.among`, skipping), not over all its postings."""
        score, present = self.empty()
        field = self.searcher.schema[q.fieldname] if q.fieldname in self.searcher.schema \
            else None
        if field is None or not field.format or not field.format.supports("positions"):
            raise _Unsupported("phrase field")
        if not q.words:
            return score, present
        found = docsets.phrase_docs(self.searcher, q)
        if found:
            self.mark(present, docsets.doc_array(found), True)
            present &= within
        docs = self.docs(np.flatnonzero(present))
        for w in q.words:  # in order: the sums are added as Whoosh adds them
            if not len(docs):
                break
            if docsets.few_among(self.reader, q.fieldname, w, len(docs)):
                sc = self._scorer(q.fieldname, w)
                if sc is None:
                    continue
                ids, tf = self._among(q.fieldname, w, docs.tolist())
                score[self.slot(ids)] += self._bm25(sc, q.fieldname, ids, tf, 1.0)
            else:
                s, _p = self.term(wq.Term(q.fieldname, w))
                score += s
        score[~present] = 0.0
        if q.boost != 1.0:
            score *= q.boost
        return score, present

    def node(self, q: wq.Query, within: np.ndarray | None = None) -> Scored:
        """Score `q`; `within` (documents that can matter) bounds the phrase checks."""
        limits.checkpoint()
        if isinstance(q, ranking.WordGroup):
            return self.word_group(q)
        if type(q) is wq.Term:
            return self.term(q)
        if q is wq.NullQuery:
            return self.empty()
        if isinstance(q, wq.Phrase):
            return self.phrase(q, within if within is not None else np.ones(self.n, dtype=bool))
        if getattr(q, "boost", 1.0) != 1.0:
            raise _Unsupported("boosted compound")
        if isinstance(q, wq.Or) and not q.minmatch and not q.scale:
            score, present = self.empty()
            for child in q.children():
                s, p = self.node(child, within)
                score += s  # a node's scores are 0.0 where it is not present
                present |= p
            return score, present
        if isinstance(q, wq.AndMaybe):
            score, present = self.node(q.a)
            bonus, has = self.node(q.b, within=present)
            both = present & has
            score[both] += bonus[both]
            return score, present
        if type(q) is wq.And:
            parts = [self.node(c) for c in q.children()]
            if not parts:
                return self.empty()
            present = np.logical_and.reduce([p for _, p in parts])
            score = np.zeros(self.n)
            for s, _ in parts:
                score[present] += s[present]
            return score, present
        if isinstance(q, wq.AndNot):
            score, present = self.node(q.a)
            excluded = docsets.query_docs(self.searcher, q.b)
            if excluded:
                present = present.copy()
                self.mark(present, docsets.doc_array(excluded), False)
                score = np.where(present, score, 0.0)  # 0.0 where not present, as every node
            return score, present
        raise _Unsupported(type(q).__name__)

    def final(self, score: np.ndarray, docs: np.ndarray) -> np.ndarray:
        """Apply the recency boost (`LanguageBM25F.final`) to the scores of `docs`."""
        _column, newest = ranking.LanguageBM25F._dates(self.searcher)
        ts = _timestamps(self.reader)[docs]
        half_life = self.rank.half_life_days or 1.0
        age = np.maximum(0.0, (newest - ts) / 86400)
        factor = ranking.RECENCY_FLOOR + (1 - ranking.RECENCY_FLOOR) * np.power(
            0.5, age / half_life
        )
        factor[ts == 0] = ranking.RECENCY_FLOOR
        return score * factor


def top(searcher: Searcher, q: wq.Query, rank: ranking.Ranking, matched: Set[int],
        limit: int | None) -> list[tuple[float, int]] | None:
    """Return the top `limit` (score, docnum) pairs among `matched`, best first; None
    when `q` has a shape only Whoosh scores (then call `ranking.search`).

    `searcher` is the pooled searcher the query was parsed for (its reader's
    statistics are the ones Whoosh would use).
    """
    if not rank.bm25f:
        return None
    q = ranking.as_bm25f(ranking.with_proximity(q, rank), rank)
    ranked = ranking.ranked_searcher(searcher, rank)
    scorer = _Scorer(ranked, rank)
    docs = np.sort(docsets.doc_array(matched))  # a copy: the array may be cached
    if len(matched) * docsets.SKIP_SHARE <= scorer.n:
        scorer.only = docs.tolist()
    if len(matched) * COMPACT_SHARE <= scorer.n:
        scorer.over(docs)
    try:
        score, present = scorer.node(q)
    except _Unsupported:
        return None
    if scorer.slots is not None:
        docs, values = docs[present], score[present]
    else:
        docs = docs[present[docs]]
        values = score[docs]
    if scorer.weighting.use_final:
        values = scorer.final(values, docs)
    if limit is not None and len(docs) > limit:
        floor = -np.partition(-values, limit - 1)[limit - 1]
        keep = values >= floor  # with every tie at the cut, so the choice is deterministic
        docs, values = docs[keep], values[keep]
    order = np.lexsort((docs, -values))[:limit]
    return [(float(values[i]), int(docs[i])) for i in order]
