"""Timeline buckets: granularity from the span, calendar-true boundaries, share of coverage."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter

import pytest

from search.timeline import bucket_end, bucket_ranges, bucket_start, histogram, pick_granularity

D = dt.date


@pytest.mark.parametrize(
    "start, end, expected",
    [
        (D(2017, 1, 1), D(2017, 1, 1), "day"),
        (D(2017, 1, 1), D(2017, 4, 2), "day"),
        (D(2017, 1, 1), D(2017, 4, 3), "week"),
        (D(2016, 12, 1), D(2018, 11, 30), "week"),
        (D(2016, 1, 1), D(2019, 1, 1), "month"),
        (D(2000, 1, 1), D(2024, 1, 1), "year"),
    ],
)
def test_granularity_follows_the_span(start: dt.date, end: dt.date, expected: str) -> None:
    assert pick_granularity(start, end) == expected


def test_bucket_boundaries_are_calendar_periods() -> None:
    wed = D(2017, 3, 1)
    assert bucket_start(wed, "week") == D(2017, 2, 27)  # ISO weeks start on Monday
    assert bucket_end(D(2017, 2, 27), "week") == D(2017, 3, 5)
    assert bucket_start(wed, "month") == D(2017, 3, 1) and bucket_end(D(2016, 2, 1), "month") == D(
        2016, 2, 29
    )
    assert bucket_start(wed, "year") == D(2017, 1, 1) and bucket_end(D(2017, 1, 1), "year") == D(
        2017, 12, 31
    )


@pytest.mark.parametrize("granularity", ["day", "week", "month", "year"])
def test_buckets_cover_the_span_without_gaps(granularity: str) -> None:
    ranges = bucket_ranges(D(2016, 12, 14), D(2017, 3, 9), granularity)
    assert ranges[0][0] <= D(2016, 12, 14) and ranges[-1][1] >= D(2017, 3, 9)
    for (_, end), (start, _) in itertools.pairwise(ranges):
        assert start == end + dt.timedelta(days=1)


def test_histogram_counts_and_shares() -> None:
    days = Counter({D(2017, 1, 2): 2, D(2017, 1, 3): 1, D(2017, 1, 20): 4})
    totals = Counter({D(2017, 1, 2): 10, D(2017, 1, 3): 10, D(2017, 1, 20): 8, D(2017, 1, 10): 5})
    t = histogram(days, span=(D(2017, 1, 1), D(2017, 1, 31)), totals=totals, undated=3)
    assert t is not None and t.granularity == "day" and t.mode == "share" and t.undated == 3
    assert len(t.buckets) == 31 and sum(b.count for b in t.buckets) == 7
    by_day = {b.start: b for b in t.buckets}
    assert by_day[D(2017, 1, 2)].share == 0.2 and by_day[D(2017, 1, 10)].share == 0
    assert t.peak == 0.5
    weekly = histogram(days, span=(D(2016, 11, 1), D(2017, 2, 28)))
    assert weekly is not None and weekly.granularity == "week" and weekly.mode == "count"
    assert {b.start: b.count for b in weekly.buckets if b.count} == {
        D(2017, 1, 2): 3,
        D(2017, 1, 16): 4,
    }
    assert histogram(Counter()) is None


def test_a_huge_date_filter_is_clipped_to_the_matches() -> None:
    t = histogram(Counter({D(2017, 1, 2): 1, D(2019, 5, 1): 1}), span=(D(1, 1, 1), D(9999, 12, 31)))
    assert t is not None and t.granularity == "month"
    assert t.buckets[0].start == D(2017, 1, 1) and t.buckets[-1].end == D(2019, 5, 31)
