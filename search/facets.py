"""Facet counts over whole result sets, read from Whoosh's column store.

Counting never runs `groupedby` (which scores and collects every match, see the
performance notes) nor reads a column value per match: each facet column is read
whole once per reader into an array of small integer codes plus a value table,
and a count is one `numpy.bincount` over the codes of the matching documents.
Each facet is counted as if its own selection were not applied, so a reader
who picked one source still sees what the other sources would add.

Multi-valued fields (authors) have no column: their postings are turned once
per reader into (document, term) pairs, counted the same way.
"""

from __future__ import annotations

import calendar
import heapq
import threading
import weakref
from collections import Counter
from collections.abc import Iterable, Set
from typing import Any

import numpy as np
from whoosh.reading import IndexReader

from search.analysis import fold
from search.docsets import doc_array
from search.flatpostings import expand_runs
from search.models import Facet, FacetValue

LANGUAGE_NAMES = {
    "ar": "Arabic",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "it": "Italian",
    "ja": "Japanese",
    "nl": "Dutch",
    "no": "Norwegian",
    "pl": "Polish",
    "pt": "Portuguese",
    "ru": "Russian",
    "sv": "Swedish",
    "tr": "Turkish",
    "zh": "Chinese",
}


_CODES: weakref.WeakKeyDictionary[IndexReader, dict[str, tuple[np.ndarray, tuple[str, ...]]]] = (
    weakref.WeakKeyDictionary()
)


def column_values(reader: IndexReader, field: str) -> list[Any]:
    """Return every document's value of a column, segment by segment.

    Not `reader.column_reader(field)` of a multi-segment reader: it leaves out the
    segments that wrote no such column, which shifts every later document number;
    a segment's own reader gives the column's default for each of its documents.
    """
    out: list[Any] = []
    for leaf, _base in reader.leaf_readers():
        col = leaf.column_reader(field)
        values = list(col)
        if len(values) != leaf.doc_count_all():
            values = [col[d] for d in range(leaf.doc_count_all())]
        out.extend(values)
    return out


def column_codes(reader: IndexReader, field: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Return (each document's value code, the values), read whole once per reader."""
    with _FORWARD_LOCK:
        cached = _CODES.get(reader, {}).get(field)
    if cached is not None:
        return cached
    index: dict[str, int] = {}
    values = column_values(reader, field)
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int32,
                        count=len(values))
    table = (codes, tuple(index))
    with _FORWARD_LOCK:
        _CODES.setdefault(reader, {})[field] = table
    return table


def count_column(reader: IndexReader, field: str, docs: Iterable[int]) -> Counter[str]:
    """Count the values of a sortable field over `docs` (empty values skipped)."""
    counted = _nonzero(*_column_per_code(reader, field, docs))
    counted.pop("", None)
    return counted


def _column_per_code(reader: IndexReader, field: str, docs: Iterable[int]
                     ) -> tuple[np.ndarray, tuple[str, ...]]:
    codes, values = column_codes(reader, field)
    return np.bincount(codes[doc_array(docs)], minlength=len(values)), values


def top_counts(reader: IndexReader, field: str, docs: Iterable[int], *, limit: int,
               selected: Iterable[str] = (), terms: bool = False) -> tuple[Counter[str], int]:
    """Return `count_column` (or, with `terms`, `count_terms`) cut to the values that
    can be among the `limit` commonest, plus `selected`, and how many values it counted.

    `build_facet` then picks the same values as from the whole count: those it
    sorts are the ones at or above the limit-th count, all kept here. An author
    facet over a common word counts thousands of names and shows ten; only
    those few become a dict.
    """
    if terms:
        per_code, names = _terms_per_code(reader, field, doc_array(docs))
    else:
        per_code, names = _column_per_code(reader, field, docs)
        if "" in names:
            per_code[names.index("")] = 0  # empty values are not counted
    found = np.flatnonzero(per_code)
    value_count = len(found)
    if 0 < limit < len(found):
        counts = per_code[found]
        floor = np.partition(counts, len(counts) - limit)[len(counts) - limit]
        keep = counts >= floor
        for value in selected:
            if value in names:
                keep |= found == names.index(value)
        found = found[keep]
    return Counter(dict(zip(map(names.__getitem__, found.tolist()),
                            per_code[found].tolist(), strict=True))), value_count


def _nonzero(per_code: np.ndarray, names: tuple[str, ...]) -> Counter[str]:
    """Return {names[i]: per_code[i]} where non-zero (converted in bulk, not per value)."""
    found = np.flatnonzero(per_code)
    return Counter(dict(zip(map(names.__getitem__, found.tolist()),
                            per_code[found].tolist(), strict=True)))


_FORWARD: weakref.WeakKeyDictionary[
    IndexReader, dict[str, tuple[np.ndarray, np.ndarray, tuple[str, ...]]]
] = weakref.WeakKeyDictionary()
_FORWARD_LOCK = threading.Lock()


def _term_pairs(reader: IndexReader, field: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Return (document, term code) pairs of `field`, sorted by document, and the terms.

    Built once per reader from the postings.
    """
    with _FORWARD_LOCK:
        cached = _FORWARD.setdefault(reader, {}).get(field)
    if cached is not None:
        return cached
    docs: list[int] = []
    codes: list[int] = []
    terms: list[str] = []
    if field in reader.schema:
        for raw in reader.lexicon(field):
            term = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            ids = list(reader.postings(field, raw).all_ids())
            docs.extend(ids)
            codes.extend([len(terms)] * len(ids))
            terms.append(term)
    by_doc = np.argsort(np.array(docs, dtype=np.int64), kind="stable")
    table = (np.array(docs, dtype=np.int64)[by_doc], np.array(codes, dtype=np.int32)[by_doc],
             tuple(terms))
    with _FORWARD_LOCK:
        _FORWARD.setdefault(reader, {})[field] = table
    return table


def count_terms(reader: IndexReader, field: str, docs: Iterable[int]) -> Counter[str]:
    """Count the terms of a multi-valued field over `docs` (each term once per doc)."""
    pair_docs, pair_codes, terms = _term_pairs(reader, field)
    if isinstance(docs, (tuple, list)) and len(docs) <= 8:  # a few documents: look them up
        lo = np.searchsorted(pair_docs, docs, side="left")
        hi = np.searchsorted(pair_docs, docs, side="right")
        return Counter(terms[c] for a, b in zip(lo.tolist(), hi.tolist(), strict=True)
                       for c in pair_codes[a:b].tolist())
    return _nonzero(*_terms_per_code(reader, field, doc_array(docs)))


def _terms_per_code(reader: IndexReader, field: str, arr: np.ndarray
                    ) -> tuple[np.ndarray, tuple[str, ...]]:
    """Return each term's count of documents among `arr`, and the terms."""
    pair_docs, pair_codes, terms = _term_pairs(reader, field)
    if len(arr) * 8 <= len(pair_docs):  # few documents: their runs of pairs, found by search
        lo = np.searchsorted(pair_docs, arr, side="left")
        picked = expand_runs(lo, np.searchsorted(pair_docs, arr, side="right") - lo)
        per_code = np.bincount(pair_codes[picked], minlength=len(terms))
    else:
        wanted = np.zeros(reader.doc_count_all(), dtype=bool)
        wanted[arr] = True
        per_code = np.bincount(pair_codes[wanted[pair_docs]], minlength=len(terms))
    return per_code, terms


def matches_prefix(text: str, prefix: str) -> bool:
    """True when a word of `text` (or `text` itself) starts with `prefix`, ignoring case and accents."""
    p = fold(prefix.strip())
    if not p:
        return True
    folded = fold(text)
    return folded.startswith(p) or any(w.startswith(p) for w in folded.replace("-", " ").split())


def label(name: str, value: str) -> str:
    """Return how a facet value is shown to a person."""
    if name == "month" and len(value) == 7:
        return f"{calendar.month_name[int(value[5:])]} {value[:4]}"
    if name == "language":
        return LANGUAGE_NAMES.get(value, value)
    return value


def _top_by_count(counts: Counter[str], limit: int) -> list[tuple[str, int]]:
    """Return the `limit` values with the highest counts (ties by name, ignoring case),
    in that order: only the values at or above the limit-th count are sorted (an
    author facet has hundreds of values and shows ten)."""
    items = list(counts.items())
    if len(items) > limit > 0:
        floor = heapq.nlargest(limit, counts.values())[-1]
        items = [kv for kv in items if kv[1] >= floor]
    items.sort(key=lambda kv: (-kv[1], kv[0].lower()))
    return items[:limit]


def build_facet(
    name: str,
    counts: Counter[str],
    selected: Set[str],
    *,
    limit: int,
    chronological: bool = False,
    prefix: str = "",
    value_count: int | None = None,
) -> Facet:
    """Order a facet's values (by count, or by time) and keep the top `limit`.

    With a `prefix`, only values with a word starting with it are kept.
    Selected values are always kept, even with a zero count, so they can be
    seen and removed.
    """
    if prefix:
        counts = Counter(
            {
                v: c
                for v, c in counts.items()
                if matches_prefix(label(name, v), prefix) or matches_prefix(v, prefix)
            }
        )
    if chronological:
        top = sorted(counts.items(), key=lambda kv: kv[0])[:limit]
    else:
        top = _top_by_count(counts, limit)
    shown = {v for v, _ in top}
    top += [(v, counts.get(v, 0)) for v in sorted(selected) if v not in shown]
    return Facet(
        name=name,
        values=tuple(
            FacetValue(value=v, label=label(name, v), count=c, selected=v in selected)
            for v, c in top
        ),
        value_count=len(counts) if value_count is None else value_count,
        prefix=prefix,
    )
