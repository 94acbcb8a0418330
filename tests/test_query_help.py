"""Query help: the parsed query written back readably, and did-you-mean from the index."""

from __future__ import annotations

import pytest

from search import Filters, SearcherPool, SearchRequest, search
from search.explain import describe
from search.query import parse
from search.spelling import candidate_words, distance
from tests.indexing import build_index
from tests.test_pages import DOCS


@pytest.mark.parametrize(
    "q, readable",
    [
        ("budget", "budget"),
        ("gaza negotiations", "gaza AND negoti"),
        ('"security council"', '"secur council"'),
        ("tillerson OR mattis", "tillerson OR matti"),
        ("brexit -may", "brexit AND NOT may"),
        ("(merkel OR macron) summit", "(merkel OR macron) AND summit"),
        ("title:brexit source:BBC author:Smith", "title:brexit AND source:bbc AND author:smith"),
        ("negotiat*", "negoti*"),
        ("İSTANBUL Kalın", "istanbul AND kalin"),
        ("", "every article"),
        ("(a1 b2) OR (c3 d4)", "(a1 AND b2) OR (c3 AND d4)"),
    ],
)
def test_parsed_query_reads_like_the_query_language(q: str, readable: str) -> None:
    assert describe(parse(q).query) == readable


def test_distance_counts_transpositions_as_one_edit() -> None:
    assert distance("parliament", "parliment") == 1
    assert distance("tillerson", "tilelrson") == 1
    assert distance("abc", "abc") == 0 and distance("", "abc") == 3


def test_candidate_words_skip_operators_fields_and_wildcards() -> None:
    words = [
        w
        for _, _, w in candidate_words(
            'parliment OR title:budgte source:reuters negotiat* "harbour strke"'
        )
    ]
    assert words == ["parliment", "budgte", "harbour", "strke"]


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> SearcherPool:
    return SearcherPool(build_index(tmp_path_factory.mktemp("spellix"), DOCS))


def suggestion(pool: SearcherPool, q: str, filters: Filters | None = None):  # type: ignore[no-untyped-def]
    with pool.searcher() as (s, _):
        return search(s, SearchRequest(q=q, filters=filters or Filters(), suggest=True)).suggestion


def test_did_you_mean_keeps_syntax_and_case(pool: SearcherPool) -> None:
    s = suggestion(pool, 'Parliment -"harbour strike"')
    assert s is not None and s.q == 'Parliament -"harbour strike"'
    assert [t for t, changed in s.segments if changed] == ["Parliament"]
    assert s.total > 0


def test_did_you_mean_only_when_clearly_better(pool: SearcherPool) -> None:
    assert suggestion(pool, "parliament") is None
    assert suggestion(pool, "budget") is None
    assert suggestion(pool, "qwertyuiop") is None  # nothing near it in the index
    # The correction is counted under the same filters: none match there, so no suggestion.
    assert suggestion(pool, "parliment", Filters(sources=("Outlet E",), languages=("de",))) is None


def test_did_you_mean_finds_words_whose_stem_is_far_from_the_typo(pool: SearcherPool) -> None:
    # "electoin" stems to itself, three edits from "elect"; one edit from "election".
    s = suggestion(pool, "electoin campaign")
    assert s is not None and s.q == "election campaign"


def test_terms_within_equals_whoosh(pool: SearcherPool) -> None:
    """The same terms as Whoosh's generic `IndexReader.terms_within`, which multi-segment
    readers use (a single segment's reader has its own, without transpositions)."""
    from whoosh.reading import IndexReader

    from search.spelling import FIELD, _terms_within

    with pool.searcher() as (s, _):
        words = sorted({t.decode("utf-8") for t in s.reader().lexicon(FIELD)})
        assert len(words) > 50
        for stem in [*words[::7], "parliment", "budgte", "x", "zzzzzzzz"]:
            for maxdist in (1, 2):
                expected = sorted(IndexReader.terms_within(s.reader(), FIELD, stem, maxdist,
                                                           prefix=1))
                assert sorted(_terms_within(s, stem, maxdist)) == expected, (stem, maxdist)


@pytest.mark.parametrize("seed", range(4))
def test_distances_computed_together_equal_whoosh(seed: int) -> None:
    """`_within` decides `damerau_levenshtein(word, target, limit) <= limit` for many
    words at once: the same answer as Whoosh's, early stop included, on words near
    and far (transpositions, repeats, other scripts, lengths from 1 to 12)."""
    import random

    import numpy as np
    from whoosh.support.levenshtein import damerau_levenshtein

    from search.spelling import _within, _Words

    rng = random.Random(seed)
    alphabet = "abcab" if seed % 2 else "abcdeاب"

    def mutate(w: str) -> str:
        for _ in range(rng.randint(0, 3)):
            i = rng.randrange(len(w) + 1)
            op = rng.randrange(4)
            if op == 0 and i < len(w):
                w = w[:i] + w[i + 1:]
            elif op == 1 and i + 1 < len(w):
                w = w[:i] + w[i + 1] + w[i] + w[i + 2:]
            elif op == 2:
                w = w[:i] + rng.choice(alphabet) + w[i:]
            elif i < len(w):
                w = w[:i] + rng.choice(alphabet) + w[i + 1:]
        return w or rng.choice(alphabet)

    for _ in range(40):
        target = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10)))
        words = sorted({mutate(target) for _ in range(60)}
                       | {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
                          for _ in range(20)})
        table = _Words(words)
        for limit in (1, 2):
            rows = np.arange(len(words))
            got = _within(table.matrix(rows), table.lengths, target, limit).tolist()
            want = [damerau_levenshtein(w, target, limit) <= limit for w in words]
            assert got == want, (target, limit)
            some = rows[::3]
            assert [[chr(c) for c in r if c >= 0] for r in table.matrix(some).tolist()] == \
                [list(words[i]) for i in some]
