"""Metadata hardening (#7): linear-time author and date patterns, no bidi controls in fields.

Everything goes through the public path, `indexer.extract.extract` (what `build`,
`update` and `python -m indexer extract` call), with inputs shaped like real records
and pages: a JSON record or an HTML page whose one field is hostile.
"""

from __future__ import annotations

import json
import time

import pytest

from indexer.extract import extract
from search.models import Article

BODY = "Lawmakers postponed the vote on the budget to next week, officials said. " * 8
N = 100_000
# A hang detector, not a speed test (as in test_fuzz_extract.py): CPU seconds of this
# process, so other work on a shared machine does not count. Each input below took 49
# CPU seconds or more (quadratic) before the fix and takes milliseconds after it.
HANG_CPU_S = 5.0


def _record(**fields: object) -> bytes:
    record = {"title": "Budget vote delayed", "body": BODY, "url": "https://example.com/a"}
    return json.dumps({**record, **fields}, ensure_ascii=False).encode("utf-8")


def _page(head: str = "", byline: str = "", title: str = "Budget vote delayed") -> bytes:
    html = (
        f"<html><head><meta charset='utf-8'><title>{title}</title>{head}</head><body>"
        f"<h1>{title}</h1>{byline}<article><p>{BODY}</p></article></body></html>"
    )
    return html.encode("utf-8")


def _one(data: bytes, kind: str) -> Article:
    found = [a for a in extract(f"x.{kind}", data, kind) if isinstance(a, Article)]
    assert len(found) == 1, found
    return found[0]


def _cpu_seconds(data: bytes, kind: str) -> tuple[Article, float]:
    start = time.process_time()
    article = _one(data, kind)
    return article, time.process_time() - start


# --- quadratic patterns, on 100,000-character fields -----------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        # Removed "(...)" groups left a run of 50,000 spaces; the author splitter's leading
        # "\s*" retried the run from each position: 49 CPU s.
        ("author ()()()", _record(author="()" * (N // 2)), "json"),
        # "\([^)]*\)" rescanned to the end of the field from every "(".
        ("author ((((", _record(author="(" * N), "json"),
        # Removed e-mails leave runs of spaces too.
        ("author e-mails", _record(author="a@b.cc " * (N // 7)), "json"),
        # "Surname, Given": "[\w]*[a-z][\w]*$" tried every split of a long given name.
        ("author surname first", _record(author="Ab, A" + "a" * N + "!"), "json"),
        (
            "meta author ()()()",
            _page(head=f'<meta name="author" content="{"()" * (N // 2)}">'),
            "html",
        ),
        # "\s*,?\s*" between day and year split a run of spaces every way: over 60 CPU s.
        ("record date, spaces", _record(date="January 1" + " " * N + "x"), "json"),
        ("record date, day first", _record(date="13 September" + " " * N + "x"), "json"),
        ("record date, comma", _record(date="13 September ," + " " * N + "x"), "json"),
        (
            "meta date, spaces",
            _page(head=f'<meta property="article:published_time" content="May 3{" " * N}x">'),
            "html",
        ),
    ],
)
def test_hostile_100k_fields_cost_linear_time(name: str, data: bytes, kind: str) -> None:
    article, cpu = _cpu_seconds(data, kind)
    assert cpu < HANG_CPU_S, f"{name}: {cpu:.1f} CPU s"
    assert all(len(a) <= 60 for a in article.authors)  # no 100k "name" slipped through


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ("Brazil, Rachel", ("Rachel Brazil",)),
        ("O'Neill, Mary-Kate", ("Mary-Kate O'Neill",)),
        ("SMITH, AP", ("SMITH", "AP")),  # no lowercase letter: two names, not surname first
        ("Jane Roe (Reuters)", ("Jane Roe",)),
        ("Jane Roe (Reuters) and John Doe (AP)", ("Jane Roe", "John Doe")),
        ("By Jane Roe jane.roe@example.com, John Doe", ("Jane Roe", "John Doe")),
        ("Jane Roe ((editor))", ("Jane Roe",)),
    ],
)
def test_author_cleaning_keeps_its_answers(author: str, expected: tuple[str, ...]) -> None:
    assert _one(_record(author=author), "json").authors == expected


@pytest.mark.parametrize(
    ("written", "day"),
    [
        ("Published September 13,2024", "2024-09-13"),
        ("Sep. 13, 2024 10:02 am", "2024-09-13"),
        ("Nov 20 2019", "2019-11-20"),
        ("September 13 , 2024", "2024-09-13"),
        ("13 September 2024", "2024-09-13"),
        ("13 September, 2024", "2024-09-13"),
        ("Wednesday 20 November 2019 9:22 am", "2019-11-20"),
        ("3. May 2024", "2024-05-03"),
    ],
)
def test_written_dates_keep_their_answers(written: str, day: str) -> None:
    published = _one(_record(date=written), "json").published
    assert published is not None and published.date().isoformat() == day


# --- bidi controls and other invisible format characters ------------------------------------

BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
RLM, LRM, ZWNJ, ZWJ = "\u200f", "\u200e", "\u200c", "\u200d"


def _fields(article: Article) -> list[str]:
    return [article.title, article.summary, article.body, *article.authors] + [
        v for v in (article.source, article.section) if v
    ]


def test_an_override_in_a_title_cannot_reverse_what_follows_it() -> None:
    # Shown as "Invoice exe.pdf" in a browser: RLO reverses the rest of the line.
    article = _one(_record(title="Invoice \u202efdp.exe", author="By \u202eJane\u202c Roe"), "json")
    assert article.title == "Invoice fdp.exe"
    assert article.authors == ("Jane Roe",)


def test_arabic_titles_lose_embeddings_and_keep_their_marks() -> None:
    """Shapes from the SaudiNewsNet collection: RLM + RLE openers, some never closed."""
    title = f'{RLM}\u202bمطار جازان يستقبل أول رحلة من "فلاي دبي"\u202c'
    unclosed = f"إخلاء سبيل نجل محمد \u202b#{RLM}مرسي بعد قضائه عامًا"
    a = _one(_record(title=title, author="\u202bسبق- جدة", section="\u2067محليات\u2069"), "json")
    assert a.title == f'{RLM}مطار جازان يستقبل أول رحلة من "فلاي دبي"'
    assert a.authors == ("سبق- جدة",)
    assert a.section == "محليات"
    b = _one(_record(title=unclosed, url="https://example.com/b"), "json")
    assert b.title == f"إخلاء سبيل نجل محمد #{RLM}مرسي بعد قضائه عامًا"
    for article in (a, b):
        assert not any(c in value for value in _fields(article) for c in BIDI_CONTROLS)


def test_hebrew_marks_and_joiners_are_kept() -> None:
    # RLM settles the colon after a Hebrew word; ZWNJ/ZWJ shape Persian and Devanagari.
    hebrew = f'ראש הממשלה{RLM}: "נדבר מחר"'
    persian = f"می{ZWNJ}خواهم بروم"
    hindi = f"क्{ZWJ}ष समाचार"
    for title in (hebrew, persian, hindi, f"Tel Aviv{LRM} (AP)"):
        assert _one(_record(title=title), "json").title == title


def test_html_meta_and_body_lose_bidi_controls() -> None:
    page = _page(
        head=(
            '<meta property="og:site_name" content="\u2066Example News\u2069">'
            '<meta property="article:section" content="\u202bسياسة\u202c">'
            '<meta name="author" content="\u202dJane Roe\u202c">'
        ),
        title="Budget \u2067vote\u2069 delayed\u2061",
    )
    article = _one(page.replace(b"<p>", "<p>\u202e".encode()), "html")
    assert "Budget vote delayed" in article.title
    assert article.section == "سياسة"
    assert article.authors == ("Jane Roe",)
    assert not any(c in value for value in _fields(article) for c in BIDI_CONTROLS + "\u2061")
