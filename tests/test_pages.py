"""The search and article pages, read like a reader would: timeline, facets, query help, related."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient

from search.models import Article
from tests.reading import query_of, soup_of

UTC = dt.timezone.utc
SOURCES = [f"Outlet {c}" for c in "ABCDEFGHIJKL"]  # 12 sources: more than a facet shows at first


def _docs() -> list[Article]:
    """Articles written to exercise the page: spread over 20 weeks, 12 outlets, shared authors."""
    topics = [
        ("Parliament passes the budget", "The parliament voted on the budget after a long debate."),
        ("Budget debate in parliament", "Members of parliament argued about the budget and taxes."),
        ("Parliament rejects tax plan", "The parliament rejected the tax plan in a close vote."),
        ("Election campaign opens", "Candidates opened the election campaign with rallies."),
        ("Harbour strike ends", "Dock workers ended the harbour strike after talks."),
    ]
    authors = [("Ada Lovelace", "Bob Smith"), ("Bob Smith",), ("Chen Wei",), (), ("Ada Lovelace",)]
    sections = ["Politics", "Economy", "Politics", "World", "Business"]
    start = dt.datetime(2016, 11, 7, 9, tzinfo=UTC)
    out = []
    for i in range(30):
        title, body = topics[i % len(topics)]
        out.append(
            Article(
                id=f"p{i:02d}",
                title=f"{title} ({i})",
                body=f"{body} Report number {i}.",
                source=SOURCES[i % len(SOURCES)],
                section=sections[i % len(sections)],
                authors=authors[i % len(authors)],
                language="de" if i % 7 == 0 else "en",
                published=start + dt.timedelta(days=5 * i),
            )
        )
    out.append(
        Article(
            id="undated",
            title="Parliament archive note",
            body="An undated parliament note.",
            source="Outlet A",
        )
    )
    return out


DOCS = _docs()
INDEX_ARTICLES = DOCS  # what `app` serves (tests/conftest.py)


def total_of(soup: BeautifulSoup) -> int:
    text = soup.select_one("#result-count").get_text(" ", strip=True)
    return int(re.match(r"([\d,]+) article", text).group(1).replace(",", ""))


def facet_links(soup: BeautifulSoup, name: str) -> dict[str, tuple[int, str]]:
    return {
        a["data-value"]: (int(a.select_one(".count").text.replace(",", "")), a["href"])
        for a in soup.select(f"ul[data-facet={name}] a")
    }


# --- timeline ---------------------------------------------------------------------------------


def test_timeline_bars_count_every_dated_match_and_link_to_their_period(
    client: FlaskClient,
) -> None:
    soup = soup_of(client, "/search?q=parliament")
    total = total_of(soup)
    bars = soup.select("figure.timeline svg a.bar")
    assert bars, "a bar chart above the results"
    assert "per week" in soup.select_one("figure.timeline figcaption").get_text()
    counts = []
    for bar in bars:
        title = bar.select_one("title").get_text()
        assert bar["aria-label"] == title  # the same words on hover, focus and to a screen reader
        counts.append(int(re.search(r": (\d+) articles?", title).group(1)))
        assert bar.select_one("rect.bar-fill")
    assert "1 matching article without a date" in soup.select_one("figure.timeline").get_text()
    assert sum(counts) == total - 1
    # Following a bar narrows to its week and finds exactly its count.
    bar = bars[len(bars) // 2]
    args = query_of(bar["href"])
    start, end = dt.date.fromisoformat(args["from"][0]), dt.date.fromisoformat(args["to"][0])
    assert (end - start).days == 6 and start.weekday() == 0 and args["q"] == ["parliament"]
    narrowed = soup_of(client, bar["href"])
    assert total_of(narrowed) == counts[len(bars) // 2]
    assert "per day" in narrowed.select_one("figure.timeline figcaption").get_text()


def test_timeline_share_of_coverage_toggle(client: FlaskClient) -> None:
    soup = soup_of(client, "/search?q=parliament")
    toggle = soup.select_one(".timeline-toggle a")
    assert query_of(toggle["href"])["timeline"] == ["share"]
    shared = soup_of(client, toggle["href"])
    assert "Share of all articles" in shared.select_one("figure.timeline figcaption").get_text()
    titles = [t.get_text() for t in shared.select("figure.timeline a.bar title")]
    assert titles and all(re.search(r"\d+\.\d% of \d+ published", t) for t in titles)
    back = shared.select_one(".timeline-toggle a")
    assert "timeline" not in query_of(back["href"])


def test_no_timeline_without_matches(client: FlaskClient) -> None:
    soup = soup_of(client, "/search?q=zzzzqqq")
    assert soup.select_one("figure.timeline") is None
    assert soup.select_one(".empty")


# --- facets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["source", "section", "language", "author"])
def test_facet_counts_equal_the_filtered_totals(client: FlaskClient, name: str) -> None:
    soup = soup_of(client, "/search?q=parliament OR budget")
    links = facet_links(soup, name)
    assert links
    for value, (count, href) in links.items():
        assert query_of(href)[name] == [value]
        assert total_of(soup_of(client, href)) == count, (name, value)


def test_author_facet_counts_each_author_of_a_multi_author_article(client: FlaskClient) -> None:
    soup = soup_of(client, "/search")
    authors = {v: c for v, (c, _) in facet_links(soup, "author").items()}
    expected: dict[str, int] = {}
    for a in DOCS:
        for name in a.authors:
            expected[name] = expected.get(name, 0) + 1
    assert authors == expected
    # Two authors of one facet are ORed; the author facet ignores its own selection.
    both = soup_of(client, "/search?author=Chen+Wei&author=Bob+Smith")
    assert total_of(both) == sum(1 for a in DOCS if {"Chen Wei", "Bob Smith"} & set(a.authors))
    assert {v: c for v, (c, _) in facet_links(both, "author").items()} == expected
    # Another facet's selection narrows the author counts (facets combine with AND).
    by_source = soup_of(client, "/search?source=Outlet+A")
    in_a = [a for a in DOCS if a.source == "Outlet A"]
    counts = {v: c for v, (c, _) in facet_links(by_source, "author").items()}
    assert counts == {n: sum(n in a.authors for a in in_a) for a in in_a for n in a.authors}


def test_show_more_and_the_facet_filter_work_without_javascript(client: FlaskClient) -> None:
    soup = soup_of(client, "/search?q=&sort=newest")
    assert len(facet_links(soup, "source")) == 10
    more = soup.select_one("#facet-source a.facet-more")
    assert "Show all 12 source values" in more.get_text()
    assert query_of(more["href"])["more"] == ["source"] and query_of(more["href"])["sort"] == ["newest"]
    expanded = soup_of(client, more["href"])
    assert set(facet_links(expanded, "source")) == set(SOURCES)
    fewer = expanded.select_one("#facet-source a.facet-more")
    assert "Show fewer" in fewer.get_text() and "more" not in query_of(fewer["href"])
    # The filter box is a plain GET form that keeps the search and filters by word prefix.
    form = soup.select_one("#facet-source form.facet-filter")
    fields = {i["name"]: i.get("value", "") for i in form.select("input")}
    assert fields["sort"] == "newest" and "source_prefix" in fields
    assert form.select_one("label[for=source-prefix]")
    filtered = soup_of(client, "/search?sort=newest&source_prefix=outlet+k")
    assert set(facet_links(filtered, "source")) == {"Outlet K"}
    assert filtered.select_one("#source-prefix")["value"] == "outlet k"
    none = soup_of(client, "/search?source_prefix=zz")
    assert "No source starts with" in none.select_one("#facet-source").get_text()


def test_chips_remove_exactly_their_filter(client: FlaskClient) -> None:
    url = (
        "/search?q=parliament&source=Outlet+A&source=Outlet+C&author=Bob+Smith"
        "&language=en&from=2016-11-01&to=2017-02-28"
    )
    soup = soup_of(client, url)
    chips = soup.select("ul.chips a.chip")
    assert len(chips) == 6
    full = query_of(url)
    for chip in chips:
        kind, value = chip.get_text(" ", strip=True).rstrip(" ×").split(": ", 1)
        param = {
            "Source": "source",
            "Author": "author",
            "Language": "language",
            "From": "from",
            "To": "to",
        }[kind]
        after = query_of(chip["href"])
        assert value not in after.get(param, []), chip
        for name, values in full.items():  # everything else stays
            if name != param:
                assert after[name] == values
        assert soup_of(client, chip["href"]).select_one("#result-count")


# --- query help -------------------------------------------------------------------------------


def test_did_you_mean_offers_a_readable_word_with_more_results(client: FlaskClient) -> None:
    soup = soup_of(client, "/search?q=parliment+budget")
    link = soup.select_one(".did-you-mean a")
    assert link is not None
    assert query_of(link["href"])["q"] == ["parliament budget"]
    assert link.select_one("strong").get_text() == "parliament"  # the corrected word, not a stem
    assert total_of(soup_of(client, link["href"])) > total_of(soup)
    # A correctly spelled query gets no suggestion.
    assert soup_of(client, "/search?q=parliament").select_one(".did-you-mean") is None


def test_how_we_read_your_query_is_readable(client: FlaskClient) -> None:
    soup = soup_of(client, "/search?q=Parliaments -taxes title:budget")
    assert soup.select_one(".parsed code").get_text() == "parliament AND title:budget AND NOT tax"
    assert soup.select_one(".query-help details.syntax summary")


# --- article ----------------------------------------------------------------------------------


def test_article_page_shows_more_like_this(client: FlaskClient) -> None:
    soup = soup_of(client, "/article/p00?q=budget")
    assert soup.select(".body mark")
    related = soup.select("section.related ol li a")
    assert len(related) == 5
    hrefs = [a["href"] for a in related]
    assert "/article/p00" not in hrefs and len(set(hrefs)) == 5
    for href in hrefs:
        assert soup_of(client, href).select_one("article h1")
    # Similar articles share the story's words.
    titles = " ".join(a.get_text() for a in related).lower()
    assert "parliament" in titles or "budget" in titles


# --- structure: accessible and ready for a strict Content-Security-Policy ----------------------


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/search?q=parliament&source=Outlet+A",
        "/search?q=parliment",
        "/article/p01?q=budget",
        "/search?more=source&author_prefix=b",
    ],
)
def test_pages_have_landmarks_labels_and_no_inline_code(client: FlaskClient, url: str) -> None:
    soup = soup_of(client, url)
    assert soup.select_one("header") and soup.select_one("main#main") and soup.select_one("footer")
    assert soup.select_one("form[role=search]")
    for inp in soup.select("input:not([type=hidden])"):
        assert soup.select_one(f'label[for="{inp["id"]}"]'), inp
    for script in soup.select("script"):
        assert script.get("src", "").startswith("/static/") and not script.string
    for tag in soup.find_all(True):
        assert "style" not in tag.attrs, tag.name
        assert not [a for a in tag.attrs if a.lower().startswith("on")], tag.name
    assert soup.select_one("#announce[aria-live=polite]")


@pytest.mark.parametrize("url", ["/search?year=9999", "/search?year=9999&month=12", "/search?year=1",
                                 "/search?from=0001-01-01&to=9999-12-31", "/search?to=9999-12-31&q=budget"])
def test_extreme_dates_are_served_not_crashed(client: FlaskClient, url: str) -> None:
    assert soup_of(client, url).select_one("#result-count")


@pytest.mark.parametrize("query", [
    "q=oil", "q=oil+price&source=Reuters&source=AP&page=3", "q=%22a+b%22&year=2024&month=2024-03",
    "source=A%26B&q=caf%C3%A9&more=source&author_prefix=jo&page=2&sort=newest",
    "q=x&unknown=1&from=2024-01-01&to=2024-02-01&language=en&q=y", "",
])
def test_links_are_the_urls_url_for_builds(app: Flask, query: str) -> None:
    """Page links skip `url_for` per link (the path is built once, the query string
    encoded as Werkzeug encodes it): the same URLs as building each with `url_for`."""
    from flask import request, url_for
    from werkzeug.datastructures import MultiDict

    from web.pages import SEARCH_PARAMS, search_url, toggle_url

    def slow(remove: tuple[str, ...] = (), keep_page: bool = False, **changes: object) -> str:
        args = MultiDict([(k, v) for k, v in request.args.items(multi=True)
                          if k in SEARCH_PARAMS and v])
        for name in remove:
            args.poplist(name)
        if not keep_page and "page" not in changes:
            args.poplist("page")
        for name, value in changes.items():
            args.poplist(name)
            if value is None:
                continue
            for v in value if isinstance(value, (list, tuple)) else [value]:
                args.add(name, str(v))
        return url_for("pages.search", **args.to_dict(flat=False))

    with app.test_request_context(f"/search?{query}"):
        cases: list[tuple[tuple[str, ...], bool, dict[str, object]]] = [
            ((), False, {}), ((), True, {}), (("q",), False, {}), (("source", "x"), True, {}),
            ((), False, {"page": 4}), ((), True, {"sort": "oldest"}),
            ((), False, {"source": ["Reuters", "Zeit Online"]}), ((), False, {"source": []}),
            ((), False, {"year": None, "month": None, "from": "2024-01-01", "to": "2024-01-31"}),
            ((), True, {"more": ["source", "author"]}), ((), False, {"q": "ä & b/c?d"}),
        ]
        for remove, keep_page, changes in cases:
            assert search_url(remove, keep_page, **changes) == slow(remove, keep_page, **changes)
        for name, value in [("source", "Reuters"), ("source", "AP"), ("year", "2024"),
                            ("month", "2024-03"), ("language", "en"), ("author", "Jo Bloggs")]:
            current = request.args.getlist(name)
            want = {name: [v for v in current if v != value] or None} if value in current \
                else {name: [*current, value]}
            if name == "year":
                want = {"year": None if value in current else value, "month": None}
            if name == "month":
                want = {"month": None if value in current else value}
            assert toggle_url(name, value) == slow(**want)


@pytest.mark.parametrize("script_root", ["", "/dateline"])
def test_hit_links_are_the_urls_url_for_builds(app: Flask, script_root: str) -> None:
    """A results page links each hit without `url_for`: the same URLs, for ids and
    queries with characters a path or query string must escape, under a script root."""
    from flask import url_for

    from web.pages import article_url, story_url

    ids = ["reuters-1", "a/b c", "ü?#%&=+;", "x y+z", "دبي-1", "!$&'()*+,/:;=@~"]
    queries = [None, "", "oil", "ä & b/c?d", '"mln dlrs" -x', "a+b=c#d"]
    with app.test_request_context("/search?q=oil", base_url=f"http://localhost{script_root}"):
        for i in ids:
            assert story_url(i) == url_for("pages.story", story_id=i)
            for q in queries:
                assert article_url(i, q) == url_for("pages.article", article_id=i, q=q or None)
            assert article_url(i).startswith(f"{script_root}/article/")
