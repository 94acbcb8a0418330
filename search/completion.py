"""Title completions: titles of articles that fit what has been typed so far.

The text is read as finished words, each of which the title must contain (as
analysed for search: any form of the word), followed by the word being typed,
which must begin a word of the title, ignoring case and accents. A trailing
space means the last word is finished too. The index holds stems, so the word
being typed is looked up as a prefix of stems (as typed and as stemmed), then
as a word whose stem it runs past ("negotiat" finds the stem "negoti"); each
candidate title is checked against the typed prefix itself. Titles come
newest first within each of these two phases, each title once.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Set

from whoosh import query as wq
from whoosh.searching import Searcher

from search import cursor
from search.analysis import TOKEN_PATTERN, fold, term_for
from search.models import Related
from search.schema import from_stored

MIN_PREFIX = 2  # shorter prefixes match too much to be useful
MAX_WORDS = 12
SCAN = 200  # candidate articles read at most, per phase
MAX_SUFFIX = 4  # how much longer than its stem a typed prefix may be

_TOKEN_RE = re.compile(TOKEN_PATTERN)


def _parse(text: str) -> tuple[list[wq.Query], str] | None:
    """Return (a Term per finished word, the word being typed, folded), or None."""
    tokens = list(_TOKEN_RE.finditer(text))[-MAX_WORDS:]
    if not tokens:
        return None
    typing = text[tokens[-1].end():] == ""  # no space after the last word
    done, prefix = (tokens[:-1], fold(tokens[-1].group())) if typing else (tokens, "")
    finished: list[wq.Query] = []
    for m in done:
        term = term_for(m.group())
        if term is not None:
            finished.append(wq.Term("title", term))
    if prefix and len(prefix) < MIN_PREFIX:
        return None
    return finished, prefix


def title_queries(text: str) -> tuple[list[wq.Query], str]:
    """Return the title queries to try in turn, and the prefix being typed (may be empty).

    First: titles with a stem starting with the prefix as typed or as stemmed.
    Then: titles holding a stem the prefix runs past ("negotiat" -> "negoti").
    """
    parsed = _parse(text)
    if parsed is None:
        return [], ""
    finished, prefix = parsed
    if not prefix:
        return ([wq.And(finished)] if finished else []), ""
    stem = term_for(prefix)
    starts = [wq.Prefix("title", prefix)]
    if stem and stem != prefix:
        starts.append(wq.Prefix("title", stem))
    shorter = [wq.Term("title", prefix[:j])
               for j in range(max(MIN_PREFIX + 1, len(prefix) - MAX_SUFFIX), len(prefix))]
    phases = [starts] + ([shorter] if shorter else [])
    return [wq.And([*finished, wq.Or(options)]) for options in phases], prefix


def _has_word_starting(title: str, prefix: str) -> bool:
    return any(fold(m.group()).startswith(prefix) for m in _TOKEN_RE.finditer(title))


def complete(searcher: Searcher, text: str, *, within: Set[int] | None = None,
             limit: int = 8) -> list[Related]:
    """Return up to `limit` articles whose titles complete `text`, newest first per phase.

    `within` restricts candidates to these document numbers (the filters).
    """
    queries, prefix = title_queries(text)
    reader = searcher.reader()
    keys, ids = cursor.date_keys(reader, "newest"), cursor.doc_ids(reader)
    out: list[Related] = []
    seen_titles: set[str] = set()
    tried: set[int] = set()
    for q in queries:
        docs = set(searcher.docs_for_query(q)) - tried
        if within is not None:
            docs &= set(within)
        tried |= docs
        for d in heapq.nsmallest(SCAN, docs, key=lambda d: (keys[d], ids[d])):
            a = from_stored(reader.stored_fields(d))
            folded = fold(" ".join(a.title.split()))
            if not a.title or folded in seen_titles:
                continue
            if prefix and not _has_word_starting(a.title, prefix):
                continue
            seen_titles.add(folded)
            out.append(Related(id=a.id, title=a.title, source=a.source, published=a.published))
            if len(out) == limit:
                return out
    return out
