"""A Whoosh segment writer whose posting pool is flat arrays, written a block at a time.

Whoosh's `SegmentWriter` puts every posting into a `PostingPool` as its own tuple
(field, term, document, weight, positions), sorts all of them when the segment is
finished, then feeds them one by one to the codec, which looks up each posting's
field length in a column to keep its block's length range. At ~300 postings per
news article that is most of a segment's memory (~150 bytes per posting) and a
third of its CPU.

Here every posting is one entry of flat arrays (term number, document, weight,
position bytes), appended as documents are added; finishing the segment sorts the
terms once (numpy; documents arrive in number order) and hands the codec whole
blocks, with each block's length range from an array of field lengths kept while
adding. The postings files and term-table rows are laid out a chunk of terms at a
time with numpy (indexer/blocks.py), byte for byte as the codec's `_write_block` /
`finish_postings` / `finish_term` would write them; the odd term that layout leaves goes
through the codec's own postings writer. Postings are not in term order in the file
(each term's row says where its postings are): a chunk's laid-out terms come first,
then those it left. The segment holds what Whoosh's would, which tests/test_segwriter.py checks term by term and posting by posting; only
its blocks' data is pickled at protocol 4, not 2 (`BLOCK_PROTOCOL`), and its term
table's hash tables order a cluster's entries differently (`_write_hash_tables`). The
pool takes about a third of the memory, so a worker's segment holds ~3.5x more postings at the same `segment_mb`: a full build has a few segments
instead of a score of them (each segment is one more term lookup for every query).
Past `limitmb` the postings move to Whoosh's pool, which spills to disk.
"""

from __future__ import annotations

import zlib
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from hashlib import md5
from itertools import accumulate, count, islice, repeat
from operator import lt
from pickle import dumps, loads
from typing import Any, overload

import numpy as np
from whoosh.codec.whoosh3 import COMPRESSION_MIN_SIZE, WHOOSH3_HEADER_MAGIC
from whoosh.filedb.filetables import HashWriter, md5_hash
from whoosh.formats import Positions
from whoosh.system import pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import PostingPool, SegmentWriter

from indexer import blocks
from search import analysis, flatpostings, lexicon
from search.fingerprint import WordTerms

NAME_SETS = 64  # documents' field-name sets a writer remembers (ours have a few)
TERM_BYTES = 160  # a new term: its dict entry and key (and its bytes, once sorted)
POSTING_BYTES = 16  # term number, document, weight (4 bytes each) and a value offset


class Keys(Sequence[tuple[str, bytes]]):
    """A segment's sorted (field, term bytes) keys, kept as one list of term bytes and
    each field's run of it: no tuple per term (~70 bytes each, and a segment has
    hundreds of thousands of terms at the moment a worker's memory peaks)."""

    def __init__(self) -> None:
        self.terms: list[bytes] = []
        self.fields: list[str] = []
        self.starts: list[int] = []  # where each field's run starts in `terms`

    def _open(self, field: str) -> None:
        if not self.fields or self.fields[-1] != field:
            self.fields.append(field)
            self.starts.append(len(self.terms))

    def append(self, field: str, tbytes: bytes) -> None:
        self._open(field)
        self.terms.append(tbytes)

    def extend(self, field: str, terms: list[bytes]) -> None:
        if terms:
            self._open(field)
            self.terms.extend(terms)

    def runs(self) -> Iterator[tuple[str, int, int]]:
        """Yield (field, first term, end) for each field, in order."""
        ends = [*self.starts[1:], len(self.terms)] if self.starts else []
        yield from zip(self.fields, self.starts, ends, strict=True)

    def __len__(self) -> int:
        return len(self.terms)

    @overload
    def __getitem__(self, t: int) -> tuple[str, bytes]: ...

    @overload
    def __getitem__(self, t: slice) -> Sequence[tuple[str, bytes]]: ...

    def __getitem__(self, t: int | slice) -> Any:
        if isinstance(t, slice):
            return [self[i] for i in range(*t.indices(len(self)))]
        if t < 0:
            t += len(self.terms)
        if not 0 <= t < len(self.terms):
            raise IndexError(t)
        return self.fields[bisect_right(self.starts, t) - 1], self.terms[t]

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        for field, start, end in self.runs():
            yield from zip(repeat(field), self.terms[start:end])


@dataclass(frozen=True)
class Sorted:
    """A pool's postings in the codec's order; term t's are [bounds[t], bounds[t + 1])."""

    keys: Keys  # (field, term bytes), sorted
    bounds: array[int]
    ids: array[int]
    weights: array[float]
    data: bytes  # every posting's value bytes; posting j's are data[begins[j]:ends[j]]
    begins: array[int]
    ends: array[int]

    def value(self, j: int) -> bytes:
        return self.data[self.begins[j]:self.ends[j]]


class _Numbers(dict[str | bytes, int]):
    """A field's term -> number dict: looking up a new term numbers it, from the pool's
    one counter (`map(numbers.__getitem__, terms)` numbers a document's terms in C,
    with a Python call only for the terms new to the segment)."""

    def __init__(self, counter: Iterator[int]) -> None:
        super().__init__()
        self.counter = counter

    def __missing__(self, term: str | bytes) -> int:
        number = self[term] = next(self.counter)
        return number


class TermPool:
    """Every posting as one entry of flat arrays (term number, document, weight, value),
    ordered by term only when the segment is written.

    Has the part of `PostingPool`'s face a `SegmentWriter` uses (`add`,
    `iter_postings`, `cleanup`, `currentsize`, `fieldnames`).

    Terms are numbered per field, keyed by their text (`str`) from the writer's text
    fast path and by their bytes otherwise: a document's postings are looked up in one
    `map(dict.get, ...)` and no term is encoded more than once. Numbers are dense, from
    one counter for every field; a term that arrived both ways gets one rank when sorted.
    """

    def __init__(self) -> None:
        self.term_numbers: dict[str, _Numbers] = {}  # field -> term -> number
        self.counter = count()
        self.terms = array("I")  # per posting: its term's number
        self.ids = array("I")
        self.weights = array("f")
        self.values = bytearray()  # the postings' value bytes, one after another
        self.ends = array("I")  # per posting: where its value bytes end
        self.fieldnames: set[str] = set()
        self.text_fields: set[str] = set()  # fields with terms keyed by text
        self.byte_fields: set[str] = set()  # ... and by bytes

    def field_numbers(self, fieldname: str, text: bool = False) -> _Numbers:
        """Return the field's term -> number dict (made on first use; a term looked up
        is numbered if new), to be keyed by text (`str`) or bytes."""
        numbers = self.term_numbers.get(fieldname)
        if numbers is None:
            numbers = self.term_numbers[fieldname] = _Numbers(self.counter)
            self.fieldnames.add(fieldname)
        (self.text_fields if text else self.byte_fields).add(fieldname)
        return numbers

    def add(self, item: tuple[str, bytes, int, float, bytes | None]) -> None:
        """Add one posting (the generic path: merges, and anything not via add_document)."""
        fieldname, tbytes, docnum, weight, vbytes = item
        self.terms.append(self.field_numbers(fieldname)[tbytes])
        self.ids.append(docnum)
        self.weights.append(weight)
        if vbytes:
            self.values += vbytes
        self.ends.append(len(self.values))

    def add_text(self, fieldname: str, docnum: int, terms: list[str],
                 weights: list[float] | list[int], found: list[bytes] | None) -> None:
        """Add one document's postings in a field: its terms (text, not bytes), their
        weights and value bytes (None: the format stores none), in one go."""
        numbers = self.field_numbers(fieldname, text=True)
        self.terms.extend(map(numbers.__getitem__, terms))  # a new term numbered on the way
        self.ids.extend(repeat(docnum, len(terms)))
        self.weights.extend(weights)
        values = self.values
        if found is None:
            self.ends.extend(repeat(len(values), len(terms)))
        else:
            self.ends.extend(islice(accumulate(map(len, found), initial=len(values)), 1, None))
            values += b"".join(found)

    @property
    def currentsize(self) -> int:
        """The pool's size in bytes, near enough (what `segment_mb` limits)."""
        return (POSTING_BYTES * len(self.ids) + len(self.values)
                + TERM_BYTES * sum(map(len, self.term_numbers.values())))

    @staticmethod
    def _rank_mixed(field: str, numbers: dict[str | bytes, int], keys: Keys,
                    rank: np.ndarray) -> None:
        """Rank a field whose terms came both as text and as bytes: a term that came
        both ways has two numbers and gets one rank."""
        found = sorted((term.encode("utf-8") if isinstance(term, str) else term, number)
                       for term, number in numbers.items())
        for tbytes, number in found:
            if not keys or keys[-1] != (field, tbytes):
                keys.append(field, tbytes)
            rank[number] = len(keys) - 1

    def take_sorted(self) -> Sorted:
        """Return the postings in the codec's order (field, term bytes, document) and empty
        the pool, freeing each of its arrays once its sorted copy is made (a segment's
        peak memory is the pool plus about half again, not twice the pool)."""
        keys = Keys()
        rank = np.zeros(next(self.counter), dtype=np.uint32)
        for field in sorted(self.term_numbers):
            numbers = self.term_numbers.pop(field)  # each field's dict freed once ranked
            if field in self.text_fields and field in self.byte_fields:
                self._rank_mixed(field, numbers, keys, rank)
                continue
            # One kind of key: text sorts as its UTF-8 bytes do (code point order).
            terms = sorted(numbers)
            rank[np.fromiter(map(numbers.__getitem__, terms), dtype=np.int64,
                             count=len(terms))] = np.arange(len(keys), len(keys) + len(terms))
            numbers.clear()
            if field in self.text_fields:
                keys.extend(field, [term.encode("utf-8") for term in terms])  # type: ignore[union-attr]
            else:
                keys.extend(field, terms)  # type: ignore[arg-type]
        self.term_numbers, self.counter = {}, count()
        self.text_fields, self.byte_fields = set(), set()
        ranks = rank[np.frombuffer(self.terms, dtype=np.uint32)]
        self.terms = array("I")
        # By term, then document; lexsort is stable, so a document's postings keep arrival order.
        order = np.lexsort((np.frombuffer(self.ids, dtype=np.uint32), ranks)).astype(np.uint32)
        ranks = ranks[order]
        starts = np.flatnonzero(np.r_[True, ranks[1:] != ranks[:-1]]) if len(ranks) else ranks
        del ranks
        ids = array("I", np.frombuffer(self.ids, dtype=np.uint32)[order].tobytes())
        self.ids = array("I")
        weights = array("f", np.frombuffer(self.weights, dtype=np.float32)[order].tobytes())
        self.weights = array("f")
        ends = np.frombuffer(self.ends, dtype=np.uint32)
        begins = array("I", np.r_[np.uint32(0), ends[:-1]][order].tobytes())
        ends_sorted = array("I", ends[order].tobytes())
        del ends, order
        self.ends = array("I")
        data = bytes(self.values)
        self.values = bytearray()
        bounds = array("Q", np.r_[starts, len(ids)].astype(np.uint64).tobytes())
        return Sorted(keys, bounds, ids, weights, data, begins, ends_sorted)

    def iter_postings(self) -> Iterator[tuple[str, bytes, int, float, bytes]]:
        """Yield (field, term, document, weight, value) in order, as `PostingPool` does
        (and empty the pool)."""
        return _iter_sorted(self.take_sorted())

    def cleanup(self) -> None:
        self.__init__()  # type: ignore[misc]


def _iter_sorted(got: Sorted) -> Iterator[tuple[str, bytes, int, float, bytes]]:
    ids = got.ids
    for t, (field, tbytes) in enumerate(got.keys):
        for j in range(got.bounds[t], got.bounds[t + 1]):
            yield field, tbytes, ids[j], got.weights[j], got.value(j)


@dataclass(frozen=True, slots=True)
class _FieldPlan:
    """A field as `TermPoolWriter.add_document` uses it, looked up once per segment
    instead of once per field of every document."""

    field: Any
    indexed: bool
    text: Callable[[Any], Any] | None  # the field's `pool_postings` (the text fast path)
    format_boost: float
    scorable: bool
    stored: bool
    column: Any
    boost_key: str  # `_<name>_boost`: a per-document boost (Whoosh's `_field_boost`)
    stored_key: str  # `_stored_<name>`: the value to store instead


class TermPoolWriter(SegmentWriter):  # type: ignore[misc]
    """`SegmentWriter` with a `TermPool` and a block-at-a-time flush (module docstring)."""

    def __init__(self, ix: Any, limitmb: int = 128, **kwargs: Any) -> None:
        if any(f.vector or f.separate_spelling() for _n, f in ix.schema.items()):
            raise ValueError("TermPoolWriter does not write term vectors or spelling words")
        super().__init__(ix, limitmb=limitmb, **kwargs)
        self.limitmb = limitmb
        self.pool: TermPool | PostingPool = TermPool()
        # Per field: each document's length as the codec stores it (a byte), read back.
        self._lengths: dict[str, array[int]] = {}
        self._merged = False  # postings added from other segments (add_reader)
        # The segment's written forms (search/lexicon.py): the words indexed here, per
        # language, and the forms files of the segments merged in (None: one had none,
        # so the merged segment gets none either).
        self._words: analysis.Words = {}
        self._merged_forms: list[lexicon.Lexicon] | None = []
        # What `add_document` asks of each field and of each set of field names, once.
        self._plans: dict[str, _FieldPlan] = {}
        self._names: dict[tuple[str, ...], list[str]] = {}

    def _spill(self) -> None:
        """Hand the postings to Whoosh's own pool, which spills sorted runs to disk.

        The term pool lives in memory; a writer asked to hold more than `limitmb` (a
        large in-process update) goes on the way Whoosh's writer would, in bounded
        memory. Index workers finish a segment long before (`segment_mb`).
        """
        pool = self.pool
        assert isinstance(pool, TermPool)
        spilled = PostingPool(self._tempstorage, self.newsegment, limitmb=self.limitmb)
        for item in pool.iter_postings():
            spilled.add(item)
        self.pool = spilled

    def add_document(self, **fields: Any) -> None:
        """`SegmentWriter.add_document` (no vectors, no spelling), postings into the pool,
        the words of its text fields recorded for the segment's forms file."""
        before = analysis.record_words(self._words)
        try:
            self._add_document(**fields)
        finally:
            analysis.record_words(before)

    def words(self, lang: str = analysis.GENERIC) -> WordTerms:
        """Return the words this segment has indexed in `lang`'s text fields, each with
        its terms (search.fingerprint reads a body's terms from here)."""
        return self._words.get(lang, {})

    def _add_document(self, **fields: Any) -> None:
        if not isinstance(self.pool, TermPool):
            super().add_document(**fields)  # spilled: Whoosh's own pool from here on
            return
        if self.pool.currentsize > self.limitmb * 1024 * 1024:
            self._spill()
            super().add_document(**fields)
            return
        self._check_state()
        perdocwriter = self.perdocwriter
        docnum = self.docnum
        pool = self.pool
        local = docnum - self.docbase
        docboost = self._doc_boost(fields)
        names = tuple(fields)
        fieldnames = self._names.get(names)
        if fieldnames is None:
            fieldnames = sorted([name for name in fields if not name.startswith("_")])
            self._check_fields(self.schema, fieldnames)
            if len(self._names) < NAME_SETS:
                self._names[names] = fieldnames
        plans = self._plans

        perdocwriter.start_doc(docnum)
        try:
            for fieldname in fieldnames:
                value = fields.get(fieldname)
                if value is None:
                    continue
                plan = plans.get(fieldname) or self._plan(fieldname)
                field = plan.field
                length = 0
                if plan.indexed:
                    fieldboost = float(fields[plan.boost_key]) if plan.boost_key in fields \
                        else docboost
                    got = plan.text(value) if plan.text is not None else None
                    if got is not None:  # the text fast path: whole lists
                        terms, freqs, found = got
                        boost = plan.format_boost
                        pool.add_text(fieldname, docnum, terms, freqs if boost * fieldboost == 1.0
                                      else [f * boost * fieldboost for f in freqs], found)
                        length = sum(freqs)
                    else:  # ids, dates, keywords: a few postings a document
                        for tbytes, freq, weight, vbytes in field.index(value):
                            pool.add((fieldname, tbytes, docnum, weight * fieldboost, vbytes))
                            length += freq
                    if not plan.scorable:
                        length = 0
                    elif length:
                        self._set_length(fieldname, local, length)
                customval = fields.get(plan.stored_key, value)
                perdocwriter.add_field(fieldname, field, customval if plan.stored else None,
                                       length)
                column = plan.column
                if column and customval is not None:
                    perdocwriter.add_column_value(fieldname, column,
                                                  field.to_column_value(customval))
        except ValueError:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _plan(self, fieldname: str) -> _FieldPlan:
        field = self.schema[fieldname]
        plan = self._plans[fieldname] = _FieldPlan(
            field, field.indexed, getattr(field, "pool_postings", None),
            field.format.field_boost if field.indexed else 1.0, field.scorable, field.stored,
            field.column_type, f"_{fieldname}_boost", f"_stored_{fieldname}")
        return plan

    def add_reader(self, reader: Any) -> None:
        """Merge a segment in, keeping its fields' total lengths exact.

        Whoosh sums the merged documents' one-byte lengths, which round up: the
        totals (BM25's average lengths) then grew ~1.5% and every score moved a
        little, so a merged index ranked near-ties unlike the index it came from.
        The segment's own totals are exact; only deleted documents' lengths, which
        they still count, are taken off as their one-byte lengths.
        """
        lengths = self.perdocwriter._fieldlengths
        before = dict(lengths)
        super().add_reader(reader)
        forms = lexicon.copied(reader)  # not a view: the reader's map can then close
        if forms is None or self._merged_forms is None:
            self._merged_forms = None
        else:
            self._merged_forms.append(forms)
        deleted = [d for d in range(reader.doc_count_all()) if reader.is_deleted(d)] \
            if reader.has_deletions() else []
        for name in list(lengths):
            if name in reader.schema and reader.schema[name].scorable:
                total = reader.field_length(name)  # 0 for most language fields: no reads
                gone = sum(reader.doc_field_length(d, name) or 0 for d in deleted) if total else 0
                lengths[name] = before.get(name, 0) + max(0, total - gone)

    def add_postings_to_pool(self, reader: Any, startdoc: int, docmap: Any) -> None:
        """Merging a segment in: its documents' lengths are in the columns, not `_lengths`
        (the postings go to the term pool, or to Whoosh's once it has spilled)."""
        self._merged = True
        super().add_postings_to_pool(reader, startdoc, docmap)

    def _set_length(self, fieldname: str, local: int, length: int) -> None:
        lengths = self._lengths.get(fieldname)
        if lengths is None:
            lengths = self._lengths[fieldname] = array("I")
        missing = local + 1 - len(lengths)
        if missing > 0:
            lengths.frombytes(bytes(lengths.itemsize * missing))
        lengths[local] = byte_to_length(length_to_byte(length))

    def _flush_segment(self) -> None:
        self._flush_postings()
        self._write_forms()

    def _write_forms(self) -> None:
        """Write the segment's forms file (search/lexicon.py): its own words' entries
        merged with those of the segments merged in; none when one of those had none."""
        sources = self._merged_forms
        words, self._words = self._words, {}
        if sources is None:
            return
        own = lexicon.entries_from_words(words)
        entries = lexicon.merge_entries([own, *(s.entries() for s in sources)]) \
            if sources else own  # a new segment's own: nothing to merge
        with self.newsegment.create_file(self.storage, lexicon.EXT) as f:
            for piece in lexicon.pieces(entries):
                f.write(piece)

    def _flush_postings(self) -> None:
        self.perdocwriter.close()
        pool = self.pool
        if self.docbase or self._merged or not isinstance(pool, TermPool):
            # An offset or merged segment: Whoosh's own loop, lengths read from the columns.
            pdr = self.per_document_reader() if self.codec.length_stats else None
            got = pool.take_sorted() if isinstance(pool, TermPool) else None
            _use_block_protocol(self.fieldwriter)
            self.fieldwriter.add_postings(
                self.schema, pdr, _iter_sorted(got) if got is not None else pool.iter_postings())
            _hash_rows(self.fieldwriter._tindex)  # its hash tables written with numpy
            self.fieldwriter.close()
            if pdr:
                pdr.close()
            if got is not None and not self.docbase:
                # A merged segment (not spilled) gets its flat postings too: segments merged
                # away by an update's `optimize` would otherwise be read through Whoosh.
                limit = getattr(self.codec, "_blocklimit", 128)
                merged_long = [t for t in range(len(got.keys))
                               if got.bounds[t + 1] - got.bounds[t] > limit]
                _write_flat(self.storage, self.newsegment, self.schema, got, merged_long)
            return
        fw = self.fieldwriter
        _use_block_protocol(fw)
        schema = self.schema
        got = pool.take_sorted()
        keys, bounds = got.keys, got.bounds
        # Each posting's field length (0: none), as the codec would read it per posting.
        lengths = np.zeros(len(got.ids), dtype=np.uint32)
        ids_np = np.frombuffer(got.ids, dtype=np.uint32)
        for field, first, end in keys.runs():
            known = self._lengths.get(field)
            if known is not None:
                table = np.frombuffer(known, dtype=np.uint32)
                span = ids_np[bounds[first]:bounds[end]]
                inside = span < len(table)
                lengths[bounds[first]:bounds[end]][inside] = table[span[inside]]
        lens = array("I", lengths.tobytes())
        del ids_np
        arrays = blocks.Postings(
            np.frombuffer(bounds, dtype=np.uint64).astype(np.int64),
            np.frombuffer(got.ids, dtype=np.uint32), np.frombuffer(got.weights, dtype=np.float32),
            np.frombuffer(got.data, dtype=np.uint8), np.frombuffer(got.begins, dtype=np.uint32),
            np.frombuffer(got.ends, dtype=np.uint32), lengths)
        counts = np.diff(arrays.bounds)
        limit = getattr(self.codec, "_blocklimit", 128)
        compression = getattr(self.codec, "_compression", 3)
        ids, weights, values = got.ids, got.weights, (got.data, got.begins, got.ends)
        for fieldname, first, end in keys.runs():
            fw.start_field(fieldname, schema[fieldname])
            kind = blocks.kind(schema[fieldname].format.fixed_value_size())
            prefix = pack_ushort(fw._fieldid)
            for a, b in _chunks(arrays.bounds, first, end):
                laid = blocks.build(np.arange(a, b), arrays, kind, compression, limit)
                rows = np.zeros(b - a, dtype=blocks.ROW)
                if len(laid.terms):
                    rows[laid.terms - a] = laid.placed(fw._postfile.tell())
                    fw._postfile.write(laid.data)
                # The odd term `blocks` leaves (rejected): the codec's own postings writer.
                for t in laid.rejected.tolist():
                    fw.start_term(keys.terms[t])
                    _write_postings(fw._postwriter, bounds[t], bounds[t + 1], ids, weights,
                                    values, lens)
                    rows[t - a] = np.frombuffer(fw._postwriter.finish_postings().to_bytes(),
                                                dtype=blocks.ROW)[0]
                _add_rows(fw._tindex, [prefix + tbytes for tbytes in keys.terms[a:b]], rows)
            fw.finish_field()
        _hash_rows(fw._tindex)
        fw.close()
        del lens, lengths, arrays
        # Terms written as several blocks: also as flat arrays.
        long_terms = np.flatnonzero(counts > limit).tolist()
        _write_flat(self.storage, self.newsegment, schema, got, long_terms)

CHUNK_TERMS = 1 << 16  # terms laid out at once by `blocks.build`
CHUNK_POSTINGS = 1 << 16  # ... and postings: its arrays take ~150 bytes a posting


def _chunks(bounds: np.ndarray, first: int, end: int) -> Iterator[tuple[int, int]]:
    """Split terms [first, end) into runs of at most `CHUNK_TERMS` terms and about
    `CHUNK_POSTINGS` postings (at least one term each)."""
    a = first
    while a < end:
        b = int(np.searchsorted(bounds, bounds[a] + CHUNK_POSTINGS, side="right")) - 1
        b = min(end, a + CHUNK_TERMS, max(b, a + 1))
        yield a, b
        a = b


def _write_flat(storage: Any, segment: Any, schema: Any, got: Sorted, long_terms: list[int]
                ) -> None:
    """Write every term's postings as search/flatpostings.py's file, inside the segment
    (its compound file gathers every file named for it), with the positions of the
    `long_terms` (term numbers) in fields whose postings hold Whoosh's `Positions`.

    Written a column at a time from the pool's arrays: beside the pool, only the
    positions (decoded once) and per-posting starts are held.
    """
    keys = got.keys
    starts = np.frombuffer(got.bounds, dtype=np.uint64).astype(np.int64)
    n = int(starts[-1])
    positional = np.zeros(len(keys), dtype=bool)
    for t in long_terms:
        positional[t] = type(schema[keys[t][0]].format) is Positions
    runs = [(int(starts[r]), int(starts[r + 1])) for r in np.flatnonzero(positional)]
    pos_starts, positions = _positions(got, runs, n)
    ids = np.frombuffer(got.ids, dtype=np.uint32)
    weights = np.frombuffer(got.weights, dtype=np.float32)

    def chunked(values: np.ndarray) -> Callable[[], Iterator[np.ndarray]]:
        step = 1 << 20
        return lambda: (values[i:i + step] for i in range(0, len(values), step))

    columns = {
        **flatpostings.key_columns(keys),
        "starts": flatpostings.whole(starts),
        "ids": flatpostings.Column(flatpostings.unsigned_for(int(ids.max()) if n else 0), n,
                                   chunked(ids)),
        "weights": flatpostings.Column(np.float32, n, chunked(weights)),
        "positional": flatpostings.whole(positional, np.uint8),
        "pos_starts": flatpostings.Column(pos_starts.dtype, len(pos_starts),
                                          chunked(pos_starts)),
        "positions": flatpostings.Column(
            flatpostings.unsigned_for(int(positions.max()) if len(positions) else 0),
            len(positions), chunked(positions)),
    }
    with segment.create_file(storage, flatpostings.EXT) as f:
        for piece in flatpostings.pieces(columns):
            f.write(piece)


POSITIONS_CHUNK = 1 << 16  # postings decoded by one `loads` (bounds the list it builds)
_PICKLE_HEAD = 9  # a value's count (4 bytes), then `\x80\x02]q\x00`: protocol, list, memo
_LIST_OPEN = b"\x80\x02]"  # protocol 2, an empty list (its appends follow)


def _positions(got: Sorted, runs: list[tuple[int, int]], n: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Return (starts, positions) for `got`'s `n` postings, of which those of `runs`
    (ranges of postings whose values are `Positions.encode`d) have positions and the
    others none: posting j's positions are positions[starts[j]:starts[j + 1]].

    A value is its count, then a pickled list of deltas (`\x80\x02]q\x00`, its
    appends, `.`). Their appends, joined after one list opcode, unpickle as one list
    of every delta: one `loads` per chunk of postings instead of one per posting.
    """
    data, begins, ends = got.data, got.begins, got.ends
    raw = np.frombuffer(data, dtype=np.uint8)
    counts = np.zeros(n, dtype=np.uint32)
    for a, b in runs:
        heads = np.frombuffer(begins, dtype=np.uint32)[a:b]
        mine = counts[a:b]
        for k in range(4):  # the count: 4 bytes, big-endian
            mine <<= 8
            mine |= raw[heads + k]
    total = int(counts.sum(dtype=np.uint64))
    starts = np.zeros(n + 1, dtype=flatpostings.unsigned_for(total))
    np.cumsum(counts, out=starts[1:])
    del counts  # a posting's count is now starts[j + 1] - starts[j]
    positions = np.empty(total, dtype=np.uint32)
    for a, b in runs:
        for j0 in range(a, b, POSITIONS_CHUNK):
            j1 = min(b, j0 + POSITIONS_CHUNK)
            # The values' appends, gathered with numpy between a list opcode and STOP.
            froms = np.frombuffer(begins, dtype=np.uint32)[j0:j1].astype(np.int64) + _PICKLE_HEAD
            sizes = np.frombuffer(ends, dtype=np.uint32)[j0:j1].astype(np.int64) - 1 - froms
            body = np.empty(len(_LIST_OPEN) + int(sizes.sum()) + 1, dtype=np.uint8)
            body[:len(_LIST_OPEN)] = np.frombuffer(_LIST_OPEN, dtype=np.uint8)
            body[-1] = ord(".")
            blocks.copy(body, len(_LIST_OPEN) + blocks.starts(sizes), raw, froms, sizes)
            deltas = loads(body.data)
            at = int(starts[j0])
            out = positions[at:at + len(deltas)]
            if len(out) != len(deltas) or at + len(deltas) != int(starts[j1]):
                raise ValueError("flat postings: position counts do not match their values")
            out[:] = deltas
            # Each posting's positions: the running sum of its deltas from its own start
            # (uint32: the sum wraps past 2**32, and the differences stay right).
            np.cumsum(out, out=out)
            per = np.diff(starts[j0:j1 + 1]).astype(np.int64)
            before = np.zeros(len(per), dtype=np.uint32)
            before[1:] = out[np.cumsum(per[:-1], dtype=np.int64) - 1]
            out -= np.repeat(before, per)
    return starts, positions


def _add_rows(table: Any, keys: list[bytes], values: np.ndarray) -> None:
    """`OrderedHashWriter.add(key, value)` for each pair (keys in order), one write; the
    values are the rows of `values` (each the same size: bytes, one per row, or a
    structured array). The rows' hashes and positions go to `_hash_rows`' arrays, not
    the table's buckets."""
    if not keys:
        return
    if keys[0] <= table.lastkey or not all(map(lt, keys, islice(keys, 1, None))):
        raise ValueError(f"Keys must increase: {table.lastkey!r}..{keys[0]!r}..{keys[-1]!r}")
    raw = values.view(np.uint8).reshape(len(keys), -1)
    size = raw.shape[1]
    dbfile = table.dbfile
    klen = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    rel = blocks.starts(8 + klen + size)  # each row: key length, value length, key, value
    out = np.zeros(int(rel[-1] + 8 + klen[-1] + size), dtype=np.uint8)
    out[rel[:, None] + np.arange(4)] = klen.astype(">i4").view(np.uint8).reshape(-1, 4)
    out[rel[:, None] + np.arange(4, 8)] = np.frombuffer(size.to_bytes(4, "big"), np.uint8)
    blocks.copy(out, rel + 8, np.frombuffer(b"".join(keys), dtype=np.uint8),
                blocks.starts(klen), klen)
    at = rel + 8 + klen
    for k in range(size):  # a column at a time: no index array of every value byte
        out[at + k] = raw[:, k]
    starts = (rel + dbfile.tell()).tolist()
    index = table.index  # a GrowableArray of key positions: widened first if need be
    try:
        array(index.typecode, starts[-1:])
    except OverflowError:
        index._retype(starts[-1])
    index.array.extend(starts)
    hashes, positions = _hash_rows(table)
    hashes.extend([_md5_low32(k) for k in keys])
    positions.extend(starts)
    dbfile.write(out.data)
    table.lastkey = keys[-1]


def _md5_low32(key: bytes) -> int:
    """`filetables.md5_hash`: the digest's low 32 bits."""
    return int.from_bytes(md5(key, usedforsecurity=False).digest()[12:], "big")


_ROWS = "_dateline_rows"


def _hash_rows(table: Any) -> tuple[array[int], array[int]]:
    """The (hashes, positions) of the rows `_add_rows` wrote to a terms table, kept as
    arrays instead of a tuple each in Whoosh's buckets; the table then writes its hash
    tables with `_write_hash_tables`, which reads both."""
    rows: tuple[array[int], array[int]] | None = getattr(table, _ROWS, None)
    if rows is None:
        if table.hashfn is not md5_hash or type(table)._write_hashes is not HashWriter._write_hashes:
            raise TypeError(f"not a terms table this writer knows: {type(table).__name__}")
        rows = (array("I"), array("q"))
        setattr(table, _ROWS, rows)
        table._write_hashes = lambda: _write_hash_tables(table)
    return rows


# A hash-table slot as `filetables._pointer` ("!Iq") packs it: hash, then key position.
_SLOT = np.dtype([("hash", ">u4"), ("pos", ">i8")])


def _write_hash_tables(table: Any) -> None:
    """`HashWriter._write_hashes` with numpy: the same 256 tables, each twice its
    entries' slots, that `HashReader` reads.

    Whoosh places each entry by linear probing in the order the entries came; here a
    bucket's entries are placed in the order of their home slots, so each is its home
    slot or the slot after the one before it (a running maximum, no loop). Either way
    every entry is reached from its home slot through filled slots only, which is all
    the reader needs; the files differ only in the order within a cluster.
    """
    dbfile = table.dbfile
    mine_hashes, mine_positions = getattr(table, _ROWS)  # set by `_hash_rows`
    theirs = [entry for bucket in table.buckets for entry in bucket]  # Whoosh's own `add`s
    hashes = np.concatenate([np.frombuffer(mine_hashes, dtype=np.uint32).astype(np.int64),
                             np.array([h for h, _p in theirs], dtype=np.int64)])
    positions = np.concatenate([np.frombuffer(mine_positions, dtype=np.int64),
                                np.array([p for _h, p in theirs], dtype=np.int64)])
    bucket = hashes & 255
    counts = np.bincount(bucket, minlength=256)
    numslots = 2 * counts
    home = (hashes >> 8) % np.maximum(numslots[bucket], 1)
    order = np.lexsort((positions, home, bucket))
    firsts = np.concatenate([[0], np.cumsum(counts)])
    for b in range(256):
        pos = dbfile.tell()
        slots = int(numslots[b])
        table.directory.append((pos, slots))
        if not slots:
            continue
        these = order[firsts[b]:firsts[b + 1]]
        rows = np.zeros(slots, dtype=_SLOT)
        where = _placed(home[these], slots)
        rows["hash"][where] = hashes[these]
        rows["pos"][where] = positions[these]
        dbfile.write(rows.tobytes())


def _placed(homes: np.ndarray, slots: int) -> np.ndarray:
    """The slots of entries with these home slots (ascending), placed in that order by
    linear probing in a table of `slots` (more than there are entries)."""
    n = len(homes)
    step = np.arange(n)
    where = np.maximum.accumulate(homes - step) + step
    if n and where[-1] >= slots:  # the last cluster runs past the end: it wraps round
        taken = np.zeros(slots, dtype=bool)
        for i, slot in enumerate(homes.tolist()):
            while taken[slot]:
                slot = slot + 1 if slot + 1 < slots else 0
            taken[slot] = True
            where[i] = slot
    return where


def _block_stats(start: int, stop: int, weights: array[float],
                 values: tuple[bytes, array[int], array[int]], lengths: array[int]
                 ) -> tuple[list[bytes], float, int | None, int]:
    """Return a block's (non-empty values, max weight, min length, max length) as
    `W3PostingsWriter.add_posting` keeps them: the max weight starts at int 0, a length
    of 0 (none) is not counted."""
    data, begins, ends = values
    found = [data[a:b] for a, b in zip(begins[start:stop], ends[start:stop], strict=True)
             if b > a]
    top = max(weights[start:stop])
    lens = [x for x in lengths[start:stop] if x]
    return (found, top if top > 0 else 0, min(lens) if lens else None,
            max(lens) if lens else 0)


# The pickle protocol of a block's (ids, weights, values). Whoosh writes protocol 2, which
# has no bytes type: each posting's value (its positions) became a call of
# `_codecs.encode` on a latin-1 string, ~12 bytes and ~1 us more per posting. Protocol 4
# stores bytes as bytes; Whoosh's reader `loads` any protocol. Measured on the 193,538
# blocks of 5,000 articles: pickling and compressing 2.3 -> 1.0 s, stored 19.1 -> 11.7 MB.
BLOCK_PROTOCOL = 4


def _use_block_protocol(fw: Any) -> None:
    """Have a field writer's postings writers (a `W3PostingsWriter` per field) write
    their blocks with `_write_block`."""
    if getattr(fw, "_dateline_blocks", False):
        return
    start = fw.start_field

    def start_field(fieldname: str, fieldobj: Any) -> None:
        start(fieldname, fieldobj)
        pw = fw._postwriter
        pw._write_block = lambda last=False: _write_block(pw, last)

    fw.start_field = start_field
    fw._dateline_blocks = True


def _block(compression: int, databytes: bytes, df: int, last: int, maxweight: float,
           minbyte: int, maxbyte: int) -> tuple[bytes, bytes]:
    """A block's info and data bytes as `W3PostingsWriter._write_block` makes them: the
    data compressed from `COMPRESSION_MIN_SIZE` on, the info pickled at protocol 2."""
    comp = compression if len(databytes) >= COMPRESSION_MIN_SIZE else 0
    if comp:
        databytes = zlib.compress(databytes, comp)
    return dumps((df, last, maxweight, comp, minbyte, maxbyte), 2), databytes


def _write_block(pw: Any, last: bool = False) -> None:
    """`W3PostingsWriter._write_block`, the block's data pickled at `BLOCK_PROTOCOL`."""
    if not pw._blockcount:
        pw._postfile.write(WHOOSH3_HEADER_MAGIC)
    pw._terminfo.add_block(pw)
    ids = pw._ids
    infobytes, databytes = _block(
        pw._compression,
        dumps((pw._mini_ids(), pw._mini_weights(), pw._mini_values()), BLOCK_PROTOCOL),
        len(ids), ids[-1], pw._maxweight, length_to_byte(pw._minlength),
        length_to_byte(pw._maxlength))
    blocklength = len(infobytes) + len(databytes)
    postfile = pw._postfile
    postfile.write_int(-blocklength if last else blocklength)  # negative: the last block
    postfile.write(infobytes)
    postfile.write(databytes)
    pw._blockcount += 1
    pw._new_block()


def _write_postings(pw: Any, start: int, end: int, ids: array[int], weights: array[float],
                    values: tuple[bytes, array[int], array[int]], lengths: array[int]) -> None:
    """Fill the postings writer's block buffer a block at a time, as `add_posting` would."""
    limit = pw._blocklimit
    while True:
        stop = min(start + limit, end)
        pw._ids = ids[start:stop]
        pw._weights = weights[start:stop]
        pw._values, pw._maxweight, pw._minlength, pw._maxlength = _block_stats(
            start, stop, weights, values, lengths)
        if stop >= end:
            return  # the last (or only) block stays in the buffer: `finish_postings` writes it
        pw._write_block()
        start = stop
