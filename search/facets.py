"""Facet counts over whole result sets, read from Whoosh's column store.

Counting reads one column value per matching document instead of running
`groupedby`, which scores and collects every match (see the performance notes).
Each facet is counted as if its own selection were not applied, so a reader
who picked one source still sees what the other sources would add.
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Iterable, Set

from whoosh.reading import IndexReader

from search.models import Facet, FacetValue

LANGUAGE_NAMES = {
    "ar": "Arabic",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "it": "Italian",
    "ja": "Japanese",
    "nl": "Dutch",
    "pt": "Portuguese",
    "ru": "Russian",
    "tr": "Turkish",
    "zh": "Chinese",
}


def count_column(reader: IndexReader, field: str, docs: Iterable[int]) -> Counter[str]:
    """Count the values of a sortable field over `docs` (empty values skipped)."""
    col = reader.column_reader(field)
    counts: Counter[str] = Counter(col[d] for d in docs)
    counts.pop("", None)
    return counts


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
) -> Facet:
    """Order a facet's values (by count, or by time) and keep the top `limit`.

    Selected values are always kept, even with a zero count, so they can be
    seen and removed.
    """
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
    )
