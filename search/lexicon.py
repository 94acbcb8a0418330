"""Each segment's surface forms: for every term, the words written that analyse to it.

A snippet marks the words of a stored text whose analysis is a query term. Finding
them by tokenising the text and analysing each word was most of a snippet's cost
(a regex pass creating every token string, then a set of them looked up in a
vocabulary), for every hit. With the words known per term, a search instead looks
its few terms up here once and finds their written forms in each text directly
(search/highlight.py, with one Aho-Corasick automaton per query and language).

The segment writer (indexer/segwriter.py) records every word it indexes in a
language's text fields (`title`, `summary`, `body` and their per-language twins)
and writes, inside the segment's compound file, each (language, term) with its
forms; merged segments carry the union of theirs. A form of a deleted document may
stay: it then matches nothing. A segment without the file (written by Whoosh's own
writer, or before this file existed) makes `forms` answer None, and snippets
tokenise as before.

Layout (search/flatpostings.py `array_pieces`): ``keys``, ``key_ends``, ``hashes``,
``by_hash`` as the flat postings' (the "field" being the language), then each
row's forms as UTF-8 joined by NUL in ``forms``, row ``r``'s ending at
``form_ends[r]``.
"""

from __future__ import annotations

import heapq
import logging
import struct
import threading
import weakref
from array import array
from collections.abc import Iterable, Iterator
from itertools import groupby
from typing import Any

import numpy as np
from whoosh.reading import IndexReader

from search import analysis, flatpostings
from search.flatpostings import Column, KeyedRows, whole

log = logging.getLogger(__name__)

EXT = ".dlw"  # the file's extension inside a segment
MAGIC = b"DLFORMS1\n"
COLUMNS = ("keys", "key_ends", "hashes", "by_hash", "form_ends", "forms")
SEPARATOR_TEXT = "\x00"  # between a row's forms: never inside a word (TOKEN_PATTERN)
SEPARATOR = SEPARATOR_TEXT.encode("ascii")

Entry = tuple[tuple[str, bytes], bytes]  # ((language, term bytes), forms joined by NUL)


def entries_from_words(words: analysis.Words) -> list[Entry]:
    """Return the entries, sorted by key, of the words recorded per language with their
    terms (search/analysis.py `record_words`)."""
    out: list[Entry] = []
    for lang in sorted(words):
        by_term: dict[str, list[str]] = {}
        for word, terms in words[lang].items():
            for term in terms:
                having = by_term.get(term)
                if having is None:
                    by_term[term] = [word]
                else:
                    having.append(word)
        # Code point order is UTF-8 byte order: the keys come out sorted as bytes.
        out.extend(((lang, term.encode("utf-8")), SEPARATOR_TEXT.join(by_term[term]).encode("utf-8"))
                   for term in sorted(by_term))
    return out


def merge_entries(sources: Iterable[Iterable[Entry]]) -> Iterator[Entry]:
    """Merge sorted entry streams into one, a key's forms the union of its sources'."""
    for key, group in groupby(heapq.merge(*sources, key=lambda e: e[0]), key=lambda e: e[0]):
        blobs = [blob for _, blob in group]
        if len(blobs) == 1:
            yield key, blobs[0]
        else:
            forms = {f for blob in blobs for f in blob.split(SEPARATOR)}
            yield key, SEPARATOR.join(sorted(forms))


def pieces(entries: Iterable[Entry]) -> Iterator[bytes | memoryview]:
    """Yield the file of `entries` (sorted by key), piece by piece."""
    keys: list[tuple[str, bytes]] = []
    blob = bytearray()
    ends = array("Q")
    for key, forms in entries:
        keys.append(key)
        blob += forms
        ends.append(len(blob))
    columns: dict[str, Column] = {
        **flatpostings.key_columns(keys),
        "form_ends": whole(np.frombuffer(ends, dtype=np.uint64) if keys
                           else np.zeros(0, dtype=np.uint64)),
        "forms": whole(np.frombuffer(bytes(blob), dtype=np.uint8), np.uint8),
    }
    return flatpostings.array_pieces(MAGIC, columns, COLUMNS)


def encode(entries: Iterable[Entry]) -> bytes:
    return b"".join(pieces(entries))


class Lexicon(KeyedRows):
    """One segment's forms file, over a buffer it does not copy."""

    def __init__(self, buf: Any) -> None:
        view = memoryview(buf)
        layout = flatpostings.read_header(view, MAGIC, COLUMNS, what="forms")
        self._read_keys(view, layout)
        self._form_ends = flatpostings._as_ints(view, *layout["form_ends"])
        offset, _dtype, count = layout["forms"]
        self._forms = view[offset:offset + count]

    def _blob(self, r: int) -> bytes:
        ends = self._form_ends
        return bytes(self._forms[ends[r - 1] if r else 0:ends[r]])

    def forms(self, lang: str, term: str) -> list[str]:
        """Return the words that analyse to `term` in `lang` (none: not in the segment)."""
        r = self.row(lang, term.encode("utf-8"))
        if r is None:
            return []
        return self._blob(r).decode("utf-8").split(SEPARATOR_TEXT)

    def entries(self) -> Iterator[Entry]:
        """Yield every entry, sorted by key (a merge reads its segments' this way)."""
        keys, ends = self._keys, self._key_ends
        for r in range(len(self)):
            key = bytes(keys[ends[r - 1] if r else 0:ends[r]])
            lang, _, term = key.partition(flatpostings.SEPARATOR)
            yield (lang.decode("ascii"), term), self._blob(r)


_OPENED: weakref.WeakKeyDictionary[Any, Lexicon | None] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _open(leaf: Any, copy: bool) -> Lexicon | None:
    buf = flatpostings.segment_file(leaf, EXT)
    if buf is None:
        return None
    try:
        return Lexicon(bytes(buf) if copy else buf)
    except (ValueError, KeyError, TypeError, struct.error):
        # Unreadable (a damaged file): snippets tokenise, as without one; it only speeds them.
        log.warning("forms file %s unreadable; snippets will tokenise",
                    leaf.segment().make_filename(EXT))
        return None


def for_segment(leaf: Any) -> Lexicon | None:
    """Return a segment reader's forms (None when its segment has none), opened once,
    over the segment's map."""
    with _LOCK:
        if leaf in _OPENED:
            return _OPENED[leaf]
    found = _open(leaf, copy=False)
    with _LOCK:
        _OPENED[leaf] = found
    return found


def copied(leaf: Any) -> Lexicon | None:
    """Return a segment reader's forms over a copy of the file (None: it has none).

    For a merge: a view into the segment's map would keep the map open after the reader
    is closed, and with it every page of the segment the merge read (its postings).
    """
    return _open(leaf, copy=True)


def forms(reader: IndexReader, terms: Iterable[str], lang: str) -> dict[str, str] | None:
    """Return every written form (-> the term it was indexed under) of `terms` in `lang`
    over the reader's segments; None when a segment has no forms file.

    A form with two terms (a Turkish word indexed as written and folded) maps to the
    first of its analyses that is among `terms`, as a tokenised snippet would.
    """
    wanted = frozenset(terms)
    found: dict[str, str] = {}
    for leaf, _base in reader.leaf_readers():
        lexicon = for_segment(leaf)
        if lexicon is None:
            return None
        for term in wanted:
            for form in lexicon.forms(lang, term):
                if form not in found:
                    found[form] = term
    for form in found:
        terms_of = analysis.variants(form, lang)
        if len(terms_of) > 1:
            found[form] = next(t for t in terms_of if t in wanted)
    return found
