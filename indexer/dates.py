"""Publication dates from the strings news pages and records actually contain.

Everything returned is timezone-aware: a value without a zone is taken as UTC, because an
`Article` refuses naive datetimes and a search by day must not shift with the server's zone.
Parsers return None rather than guess when a string is not a plausible date.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re

UTC = dt.timezone.utc
MIN_YEAR = 1900
MAX_YEAR = 2100

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3,
    "apr": 4, "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7,
    "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10,
    "nov": 11, "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
_MONTH = r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_TIME = (
    r"(?:(?:\s*,|\s+at|\s*[-–|])?\s*(?P<hour>\d{1,2})[:.h](?P<minute>\d{2})(?::(?P<second>\d{2}))?"
    r"\s*(?P<ampm>[ap]\.?m\.?)?(?:\s*(?P<zone>utc|gmt|z|[+-]\d{2}:?\d{2}|[ecmp][sd]t|cest|cet|bst)\b)?)?"
)
# A year glued to the time after it ("Nov 15, 20195:45 AM"): text dumps lose the space.
_YEAR = r"(?P<year>\d{4})(?:\b|(?=\d{1,2}:\d{2}))"
# "September 13,2024", "Sep. 13, 2024 10:02 am", "Nov 20 2019". Between day and year
# "(?:\s*,)?\s*", not "\s*,?\s*": two spaces patterns around an optional comma split a long
# run of spaces every possible way before failing (quadratic: a date with 100,000 spaces
# took over a minute of CPU). The same in _DMY.
_MDY = re.compile(
    rf"\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:\s*,)?\s*{_YEAR}{_TIME}", re.I
)
# "13 September 2024", "Wednesday 20 November 2019 9:22 am", "3. May 2024"
_DMY = re.compile(
    rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th|\.)?\s+{_MONTH}(?:\s*,\s+|\s+)(?P<year>\d{{4}})\b{_TIME}",
    re.I,
)
_ISO = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"(?:[T ](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,]\d+)?)?"
    r"\s*(?P<zone>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?)?",
    re.I,
)
_URL_DATE = re.compile(
    r"/(?P<year>(?:19|20)\d{2})[/-](?P<month>[01]?\d)[/-](?P<day>[0-3]?\d)(?:/|[-_]|\.html?|$)"
    r"|/(?P<compact>(?:19|20)\d{2}[01]\d[0-3]\d)(?:/|$)"
)


def aware(value: dt.datetime) -> dt.datetime:
    """Return `value` with UTC attached if it has no zone."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_date(value: object) -> dt.datetime | None:
    """Parse an ISO 8601, RFC 2822, epoch or English written date; None when implausible."""
    if isinstance(value, dt.datetime):
        return _plausible(aware(value))
    if isinstance(value, dt.date):
        return _plausible(dt.datetime(value.year, value.month, value.day, tzinfo=UTC))
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, int) and abs(value) > 10**15:  # float() overflows past 1e308
            return None
        return _from_epoch(float(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit() and len(text) in (10, 13):  # epoch seconds or milliseconds
        return _from_epoch(float(text) / (1000 if len(text) == 13 else 1))
    if text.isdigit() and len(text) == 8:
        return _build(text[:4], text[4:6], text[6:8])
    match = _ISO.match(text)
    if match:
        return _from_match(match)
    if re.match(r"^[A-Za-z]{3},? \d{1,2} [A-Za-z]{3} \d{4}", text):
        try:
            return _plausible(aware(email.utils.parsedate_to_datetime(text)))
        except (TypeError, ValueError, IndexError):
            pass
    return parse_written_date(text)


def parse_written_date(text: str) -> dt.datetime | None:
    """Find the first English written date ("Published September 13,2024") inside `text`."""
    found = find_written_date(text)
    return found[0] if found else None


def find_written_date(text: str) -> tuple[dt.datetime, int, int] | None:
    """Like `parse_written_date`, with where the date (and its time) starts and ends."""
    found = [m for m in (_MDY.search(text), _DMY.search(text), _ISO.search(text)) if m]
    for match in sorted(found, key=lambda m: m.start()):
        result = _from_match(match)
        if result is not None:
            return result, match.start(), match.end()
    return None


def date_from_url(url: str | None) -> dt.datetime | None:
    """Read a date from a URL path such as /2024/09/13/ or /2019-11-20-slug."""
    if not url:
        return None
    match = _URL_DATE.search(url)
    if not match:
        return None
    if match.group("compact"):
        compact = match.group("compact")
        return _build(compact[:4], compact[4:6], compact[6:8])
    return _build(match.group("year"), match.group("month"), match.group("day"))


def _from_match(match: re.Match[str]) -> dt.datetime | None:
    groups = match.groupdict()
    month = groups["month"]
    if not month.isdigit():
        month = str(_MONTHS[month.lower().rstrip(".")])
    hour, minute, second = groups.get("hour"), groups.get("minute"), groups.get("second")
    if hour is not None and groups.get("ampm"):
        pm = groups["ampm"].lower().startswith("p")
        hour = str(int(hour) % 12 + (12 if pm else 0))
    return _build(groups["year"], month, groups["day"], hour, minute, second, groups.get("zone"))


def _build(
    year: str,
    month: str,
    day: str,
    hour: str | None = None,
    minute: str | None = None,
    second: str | None = None,
    zone: str | None = None,
) -> dt.datetime | None:
    try:
        value = dt.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError:
        return None
    return _plausible(value.replace(tzinfo=_zone(zone)))


# Zone abbreviations news pages print after a time; ambiguous ones (IST) are left out.
_ZONE_NAMES = {
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "CET": 1, "CEST": 2, "BST": 1,
}  # fmt: skip


def _zone(zone: str | None) -> dt.tzinfo:
    if not zone or zone.upper() in ("Z", "UTC", "GMT"):
        return UTC
    if zone.upper() in _ZONE_NAMES:
        return dt.timezone(dt.timedelta(hours=_ZONE_NAMES[zone.upper()]))
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 14 or minutes > 59:
        return UTC
    offset = dt.timedelta(hours=hours, minutes=minutes)
    return dt.timezone(-offset if zone[0] == "-" else offset)


def _from_epoch(seconds: float) -> dt.datetime | None:
    try:
        return _plausible(dt.datetime.fromtimestamp(seconds, tz=UTC))
    except (OverflowError, OSError, ValueError):
        return None


def _plausible(value: dt.datetime) -> dt.datetime | None:
    return value if MIN_YEAR <= value.year <= MAX_YEAR else None
