"""Term lookups remembered per index reader.

Whoosh answers "is this term here", "in how many documents" and "where are its
postings" with a hash-table lookup in every segment each time (an md5 of the key and a
few reads), and one search asks this many times per term: parsing (can a language's
reading match at all), matching, scoring (document frequencies) and spelling. A full
build has a dozen or more segments, so these lookups were a third of a search's CPU.

Term infos never change in a published segment. The memos live on the reader's segment
readers (and its document frequencies on the reader), so a new generation, which is
read through new readers, starts with empty ones; each memo is emptied when full.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from whoosh.codec.whoosh3 import W3TermsReader
from whoosh.reading import IndexReader, TermNotFound

from search import flatpostings
from search.flatpostings import FlatPostings
from search.languages import GENERIC
from search.schema import ALL_TEXT_FIELDS

TERMS_MEMO_SIZE = 1 << 13  # term lookups remembered per segment (at most a few MB each)
ANALYZED_AS = "analyzed_as"  # the field naming each article's language fields
SMALL_LANGUAGE_DOCS = 5_000  # a language with at most this many articles has its
SMALL_VOCABULARY = 100_000  # fields' vocabularies kept whole, up to this many terms each


class TermsMemo:
    """A segment's term table that remembers its lookups (term info, or absent)."""

    def __init__(self, inner: W3TermsReader, size: int | None = None,
                 flat: FlatPostings | None = None) -> None:
        self.inner = inner
        # The segment's flat postings (search/flatpostings.py), when it has them, say
        # whether it holds a term and in how many documents without Whoosh's table.
        self.flat = flat if flat is not None else flatpostings.ABSENT
        self.size = TERMS_MEMO_SIZE if size is None else size
        self.memo: dict[tuple[str, bytes], Any] = {}

    def __getattr__(self, name: str) -> Any:  # everything not memoised: the table itself
        return getattr(self.inner, name)

    def info(self, fieldname: str, tbytes: bytes) -> Any:
        """Return the term's TermInfo, or None when the segment does not hold it."""
        key = (fieldname, tbytes)
        memo = self.memo
        try:
            return memo[key]
        except KeyError:
            pass
        try:
            found = self.inner.term_info(fieldname, tbytes)
        except (KeyError, TermNotFound):
            found = None
        if len(memo) >= self.size:
            memo.clear()
        memo[key] = found
        return found

    def __contains__(self, term: tuple[str, bytes]) -> bool:
        if self.flat.complete:
            return self.flat.row(*term) is not None
        return self.info(*term) is not None

    def term_info(self, fieldname: str, tbytes: bytes) -> Any:
        found = self.info(fieldname, tbytes)
        if found is None:
            raise TermNotFound(f"No term {fieldname}:{tbytes!r}")
        return found

    def doc_frequency(self, fieldname: str, tbytes: bytes) -> int:
        if self.flat.complete:
            df = self.flat.doc_frequency(fieldname, tbytes)
            if df is None:
                raise KeyError(tbytes)  # what the table raises; the segment reader answers 0
            return df
        found = self.info(fieldname, tbytes)
        if found is None:
            raise KeyError(tbytes)  # what the table raises; the segment reader answers 0
        return int(found.doc_frequency())

    def frequency(self, fieldname: str, tbytes: bytes) -> float:
        found = self.info(fieldname, tbytes)
        if found is None:
            raise KeyError(tbytes)
        return float(found.weight())

    def matcher(self, fieldname: str, tbytes: bytes, format_: Any, scorer: Any = None) -> Any:
        inner = self.inner
        return inner._codec.postings_reader(inner._postfile, self.term_info(fieldname, tbytes),
                                            format_, term=(fieldname, tbytes), scorer=scorer)


class _DocFrequencies:
    """`reader.doc_frequency` remembered: on a multi-segment reader it sums every segment.

    A query is read in every language the index holds, and each reading's words are
    looked up in that language's fields, where most are absent: a language with few
    articles has its fields' whole vocabularies kept as sets (read once per reader), so
    an absent word costs one set lookup instead of one hash lookup per segment.
    """

    def __init__(self, reader: IndexReader, compute: Any, size: int) -> None:
        self.reader = reader
        self.compute = compute
        self.size = size
        self.memo: dict[tuple[str, str | bytes], int] = {}
        self.vocabularies: dict[str, frozenset[bytes] | None] = {}

    def __call__(self, fieldname: str, text: str | bytes) -> int:
        key = (fieldname, text)
        try:
            return self.memo[key]
        except KeyError:
            pass
        vocabulary = self.vocabulary(fieldname)
        if vocabulary is not None and \
                (text if isinstance(text, bytes) else text.encode("utf-8")) not in vocabulary:
            found = 0
        else:
            found = self.compute(fieldname, text)
        if len(self.memo) >= self.size:
            self.memo.clear()
        self.memo[key] = found
        return found  # type: ignore[no-any-return]

    def vocabulary(self, fieldname: str) -> frozenset[bytes] | None:
        """Return every term of a small language's text field; None for any other field."""
        try:
            return self.vocabularies[fieldname]
        except KeyError:
            pass
        found = None
        kind_lang = ALL_TEXT_FIELDS.get(fieldname)
        schema = self.reader.schema
        if kind_lang is not None and kind_lang[1] != GENERIC and fieldname in schema \
                and ANALYZED_AS in schema:
            if self(ANALYZED_AS, kind_lang[1]) <= SMALL_LANGUAGE_DOCS:
                terms = frozenset(islice(self.reader.lexicon(fieldname), SMALL_VOCABULARY + 1))
                found = terms if len(terms) <= SMALL_VOCABULARY else None
        self.vocabularies[fieldname] = found
        return found


def remember_terms(reader: IndexReader) -> None:
    """Memoise `reader`'s term lookups, per segment and its document frequencies (once).

    Later calls do nothing. Another codec's term table is left as it is.
    """
    if isinstance(reader.__dict__.get("doc_frequency"), _DocFrequencies):
        return
    for leaf, _base in reader.leaf_readers():
        terms = getattr(leaf, "_terms", None)
        if type(terms) is W3TermsReader:
            leaf._terms = TermsMemo(terms, flat=flatpostings.for_segment(leaf))  # type: ignore[attr-defined]
    reader.doc_frequency = _DocFrequencies(  # type: ignore[method-assign]
        reader, reader.doc_frequency, TERMS_MEMO_SIZE * 4)


def forget_terms(reader: IndexReader) -> None:
    """Empty `reader`'s term-lookup memos (for measuring uncached searches)."""
    frequencies = reader.__dict__.get("doc_frequency")
    if isinstance(frequencies, _DocFrequencies):
        frequencies.memo.clear()
    for leaf, _base in reader.leaf_readers():
        terms = getattr(leaf, "_terms", None)
        if isinstance(terms, TermsMemo):
            terms.memo.clear()
