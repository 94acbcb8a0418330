"""When to run the next job: fixed intervals ("15m") or 5-field cron expressions.

For users without cron or systemd timers, `python -m indexer schedule` runs
`update` in the foreground on one of these. Cron expressions are parsed here
(numbers, `*`, ranges, steps and lists; day of week 0-7 with 0 and 7 Sunday;
when both day fields are restricted either may match, as in cron) rather than
with a dependency; month and day names are not supported. Times are local.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"(\d+)\s*([smhd])")
# (minimum, maximum) of minute, hour, day of month, month, day of week
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_NAMES = ("minute", "hour", "day of month", "month", "day of week")


class ScheduleError(ValueError):
    """An interval or cron expression that cannot be understood."""


def parse_interval(text: str) -> float:
    """Return seconds for "90s", "15m", "1h30m", "1d" (a bare number means seconds)."""
    t = text.strip().lower()
    if t.isdigit():
        seconds = int(t)
    else:
        parts = _INTERVAL.findall(t)
        if not parts or _INTERVAL.sub("", t).strip():
            raise ScheduleError(f"cannot read interval {text!r}; write e.g. 30s, 15m, 1h, 1h30m")
        seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds < 1:
        raise ScheduleError("the interval must be at least 1 second")
    return float(seconds)


def _field(text: str, index: int) -> frozenset[int]:
    lo, hi = _RANGES[index]
    values: set[int] = set()
    for part in text.split(","):
        m = re.fullmatch(r"(\*|\d+(?:-\d+)?)(?:/(\d+))?", part)
        if not m:
            raise ScheduleError(f"cannot read {_NAMES[index]} field {text!r}")
        span, step = m.group(1), int(m.group(2) or 1)
        if span == "*":
            start, end = lo, hi
        elif "-" in span:
            start, end = (int(x) for x in span.split("-"))
        else:
            start = int(span)
            end = hi if m.group(2) else start
        if not (lo <= start <= end <= hi) or step < 1:
            raise ScheduleError(f"{_NAMES[index]} {part!r} is outside {lo}-{hi}")
        values.update(range(start, end + 1, step))
    if index == 4 and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    """A parsed 5-field cron expression."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        fields = text.split()
        if len(fields) != 5:
            raise ScheduleError(
                f"a cron expression has 5 fields (minute hour day month weekday), got {text!r}"
            )
        m, h, d, mo, wd = (_field(f, i) for i, f in enumerate(fields))
        return cls(m, h, d, mo, wd, any_day=fields[2] == "*", any_weekday=fields[4] == "*")

    def _day_matches(self, d: dt.datetime) -> bool:
        in_days = d.day in self.days
        in_weekdays = (d.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_days and in_weekdays
        return in_days or in_weekdays

    def next_after(self, after: dt.datetime) -> dt.datetime:
        """Return the first matching minute strictly after `after` (naive local time)."""
        t = after.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit = t + dt.timedelta(days=366 * 5)  # 29 February falls in every 4 years
        while t < limit:
            if t.month not in self.months or not self._day_matches(t):
                t = (t + dt.timedelta(days=1)).replace(hour=0, minute=0)
            elif t.hour not in self.hours:
                t = (t + dt.timedelta(hours=1)).replace(minute=0)
            elif t.minute not in self.minutes:
                t += dt.timedelta(minutes=1)
            else:
                return t
        raise ScheduleError("this cron expression never matches")


def next_interval_run(started: float, every: float, now: float) -> float:
    """Return the next tick after `now` on the grid started + k * every (missed ticks skipped)."""
    if now < started + every:
        return started + every
    missed = int((now - started) // every)
    return started + (missed + 1) * every
