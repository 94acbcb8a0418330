"""Facet counts over whole result sets, read from Whoosh's column store.

Counting reads one column value per matching document instead of running
`groupedby`, which scores and collects every match (see the performance notes).
Each facet is counted as if its own selection were not applied, so a reader
who picked one source still sees what the other sources would add.

Multi-valued fields (authors) have no column: their postings are turned once
per reader into a document -> terms table, so a count is one lookup per match.
"""

from __future__ import annotations

import calendar
import threading
import weakref
from collections import Counter
from collections.abc import Iterable, Set

from whoosh.reading import IndexReader

from search.analysis import fold
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


def count_column(reader: IndexReader, field: str, docs: Iterable[int]) -> Counter[str]:
    """Count the values of a sortable field over `docs` (empty values skipped)."""
    col = reader.column_reader(field)
    counts: Counter[str] = Counter(col[d] for d in docs)
    counts.pop("", None)
    return counts


_FORWARD: weakref.WeakKeyDictionary[IndexReader, dict[str, dict[int, tuple[str, ...]]]] = (
    weakref.WeakKeyDictionary()
)
_FORWARD_LOCK = threading.Lock()


def _terms_by_doc(reader: IndexReader, field: str) -> dict[int, tuple[str, ...]]:
    """Return {docnum: terms of `field`}, built once per reader from the postings."""
    with _FORWARD_LOCK:
        cached = _FORWARD.setdefault(reader, {}).get(field)
    if cached is not None:
        return cached
    table: dict[int, list[str]] = {}
    if field in reader.schema:
        for raw in reader.lexicon(field):
            term = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            for doc in reader.postings(field, raw).all_ids():
                table.setdefault(doc, []).append(term)
    frozen = {d: tuple(ts) for d, ts in table.items()}
    with _FORWARD_LOCK:
        _FORWARD.setdefault(reader, {})[field] = frozen
    return frozen


def count_terms(reader: IndexReader, field: str, docs: Iterable[int]) -> Counter[str]:
    """Count the terms of a multi-valued field over `docs` (each term once per doc)."""
    table = _terms_by_doc(reader, field)
    counts: Counter[str] = Counter()
    for d in docs:
        terms = table.get(d)
        if terms:
            counts.update(terms)
    return counts


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


def build_facet(
    name: str,
    counts: Counter[str],
    selected: Set[str],
    *,
    limit: int,
    chronological: bool = False,
    prefix: str = "",
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
        ordered = sorted(counts.items(), key=lambda kv: kv[0])
    else:
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].lower()))
    top = ordered[:limit]
    shown = {v for v, _ in top}
    top += [(v, counts.get(v, 0)) for v in sorted(selected) if v not in shown]
    return Facet(
        name=name,
        values=tuple(
            FacetValue(value=v, label=label(name, v), count=c, selected=v in selected)
            for v, c in top
        ),
        value_count=len(counts),
        prefix=prefix,
    )
