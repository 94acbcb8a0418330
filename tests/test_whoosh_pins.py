"""Pins for the Whoosh distribution we depend on (``whoosh3`` 3.54.0).

We chose ``whoosh3`` over ``whoosh`` 2.7.4 and ``Whoosh-Reloaded`` 2.7.5
because those two share three bugs that hit our product:

1. ``OrGroup.factory(0.9)`` scores a single-word query that matches in only
   one field as 0, so hits come back in index order instead of by relevance.
2. An open-ended ``NumericRange`` on an unsigned ``NUMERIC`` field matches
   every document.
3. Sorting by a sortable ``DATETIME`` field over documents added through a
   ``BufferedWriter`` comes back scrambled.

Each behaviour test below fails on whoosh 2.7.4 and passes on whoosh3 3.54.0,
so a dependency change that brings any of these bugs back fails CI.
"""

import datetime
import importlib.metadata
import random
import re

import pytest
from whoosh import fields, qparser, query, writing
from whoosh.filedb.filestore import RamStorage

WHOOSH_DISTS = {"whoosh", "whoosh3", "whoosh-reloaded"}


def test_exactly_one_whoosh_distribution_is_whoosh3_3_54_0():
    found = {}
    for dist in importlib.metadata.distributions():
        name = re.sub(r"[-_.]+", "-", (dist.metadata["Name"] or "").lower())
        if name in WHOOSH_DISTS:
            found[name] = dist.version
    assert found == {"whoosh3": "3.54.0"}


def test_scaled_or_group_ranks_single_field_match_by_relevance():
    schema = fields.Schema(
        id=fields.ID(stored=True), body=fields.TEXT, title=fields.TEXT
    )
    ix = RamStorage().create_index(schema)
    with ix.writer() as w:
        # Equal-length bodies; doc k holds "apple" k times, added in
        # ascending k, so index order is the reverse of relevance order.
        for k in range(1, 21):
            body = " ".join(["apple"] * k + ["filler"] * (20 - k))
            w.add_document(id=str(k), body=body, title="unrelated")
    parser = qparser.MultifieldParser(
        ["body", "title"], schema, group=qparser.OrGroup.factory(0.9)
    )
    with ix.searcher() as s:
        results = s.search(parser.parse("apple"), limit=None)
        assert [hit["id"] for hit in results] == [str(k) for k in range(20, 0, -1)]
        assert all(hit.score > 0 for hit in results)


@pytest.mark.parametrize(
    "field",
    [
        fields.NUMERIC(bits=64, signed=False, stored=True),
        fields.NUMERIC(numtype=int, signed=False, stored=True),
    ],
    ids=["bits64-unsigned", "int-unsigned"],
)
def test_numeric_range_on_unsigned_field_matches_only_range(field):
    ix = RamStorage().create_index(fields.Schema(n=field))
    values = [v * 7 for v in range(100)]  # 0, 7, ..., 693
    with ix.writer() as w:
        for v in values:
            w.add_document(n=v)
    with ix.searcher() as s:
        for start, end in [(None, 100), (100, None), (None, 0), (100, 200)]:
            hits = s.search(query.NumericRange("n", start, end), limit=None)
            expected = [
                v for v in values
                if (start is None or v >= start) and (end is None or v <= end)
            ]
            assert sorted(hit["n"] for hit in hits) == expected, (start, end)


def test_datetime_sort_after_buffered_writer_commit():
    schema = fields.Schema(
        id=fields.ID(stored=True, unique=True),
        when=fields.DATETIME(stored=True, sortable=True),
    )
    ix = RamStorage().create_index(schema)
    days = list(range(60))
    random.Random(42).shuffle(days)
    base = datetime.datetime(2020, 1, 1)
    # limit=7 forces several buffered flushes, i.e. several segments.
    w = writing.BufferedWriter(ix, period=None, limit=7)
    for d in days:
        w.add_document(id=f"doc{d:02d}", when=base + datetime.timedelta(days=d))
    w.close()
    ascending = [f"doc{d:02d}" for d in range(60)]
    with ix.searcher() as s:
        assert len(s.reader().leaf_readers()) > 1
        for reverse in (False, True):
            hits = s.search(
                query.Every(), sortedby="when", reverse=reverse, limit=None
            )
            expected = ascending[::-1] if reverse else ascending
            assert [hit["id"] for hit in hits] == expected, reverse
