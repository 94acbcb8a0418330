"""Caches of the query path (issue #8): each answers as the uncached code does, is bounded,
and starts empty for a new generation.

- term lookups per segment and document frequencies per reader (search/termmemo.py);
- the highlighter's vocabulary (search/highlight.py);
- the languages an index holds, per reader (search/engine.py `parse_in`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import index as whoosh_index
from whoosh.reading import TermNotFound

from search import highlight, termmemo
from search.analysis import term_for, variants
from search.highlight import Wanted, match_spans
from search.index import SearcherPool
from search.models import Article, SearchRequest
from search.schema import to_document
from tests.indexing import build_index

UTC = dt.timezone.utc
WORDS = "budget talks oil price minister election vote court strike storm".split()


def _two_segments(root: Path) -> Path:
    """An index of two segments, with deleted documents in the first."""
    arts = [Article(id=f"a{i}", title=WORDS[i % 10], body=" ".join(WORDS[: 1 + i % 10]),
                    source=("BBC", "CNN")[i % 2], language=("en", "de")[i % 3 == 0])
            for i in range(300)]
    loc = build_index(root, arts)
    ix = whoosh_index.open_dir(str(loc.current().path))
    w = ix.writer()
    for i in range(40):
        w.add_document(**to_document(Article(id=f"b{i}", title="storm", body="storm rain")))
    for i in range(0, 300, 5):
        w.delete_by_term("id", f"a{i}")
    w.commit(merge=False)
    return loc.current().path


TERMS = [(field, text) for field in ("title", "body", "body_de", "source", "id", "nofield")
         for text in ("budget", "storm", "rain", "minist", "BBC", "CNN", "a7", "absent")]


def _same_answers(memo: object, plain: object) -> None:
    for field, text in TERMS:
        assert ((field, text) in memo) == ((field, text) in plain)  # type: ignore[operator]
        if field == "nofield":
            for reader in (memo, plain):
                with pytest.raises(TermNotFound):
                    reader.doc_frequency(field, text)  # type: ignore[attr-defined]
            continue
        assert memo.doc_frequency(field, text) == plain.doc_frequency(field, text)  # type: ignore[attr-defined]
        assert memo.frequency(field, text) == plain.frequency(field, text)  # type: ignore[attr-defined]
        if (field, text) in plain:  # type: ignore[operator]
            assert list(memo.postings(field, text).all_ids()) == \
                list(plain.postings(field, text).all_ids())  # type: ignore[attr-defined]
            assert memo.term_info(field, text).doc_frequency() == \
                plain.term_info(field, text).doc_frequency()  # type: ignore[attr-defined]
        else:
            with pytest.raises(TermNotFound):
                memo.postings(field, text)  # type: ignore[attr-defined]


def test_term_memo_answers_as_the_segments_do(tmp_path: Path) -> None:
    ix = whoosh_index.open_dir(str(_two_segments(tmp_path)))
    plain, memo = ix.reader(), ix.reader()
    assert len(memo.leaf_readers()) == 2
    termmemo.remember_terms(memo)
    tables = [leaf._terms for leaf, _ in memo.leaf_readers()]
    assert all(isinstance(t, termmemo.TermsMemo) for t in tables)
    for _ in range(2):  # the second round is answered from the memos
        _same_answers(memo, plain)
    assert all(t.memo for t in tables)
    # German has few articles: its fields' vocabularies answer for absent words.
    assert b"absent" not in memo.doc_frequency.vocabularies["body_de"]  # type: ignore[attr-defined]
    assert memo.doc_frequency.vocabularies["body"] is None  # type: ignore[attr-defined]
    termmemo.remember_terms(memo)  # again: nothing changes
    assert [leaf._terms for leaf, _ in memo.leaf_readers()] == tables
    termmemo.forget_terms(memo)
    assert not any(t.memo for t in tables)
    _same_answers(memo, plain)


def test_term_memo_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(termmemo, "TERMS_MEMO_SIZE", 4)
    ix = whoosh_index.open_dir(str(_two_segments(tmp_path)))
    plain, memo = ix.reader(), ix.reader()
    termmemo.remember_terms(memo)
    for _ in range(3):
        _same_answers(memo, plain)
        assert all(len(leaf._terms.memo) <= 4 for leaf, _ in memo.leaf_readers())
        assert len(memo.doc_frequency.memo) <= 16  # type: ignore[attr-defined]


def test_search_memos_start_empty_for_a_new_generation(tmp_path: Path) -> None:
    """A new generation is searched with fresh memos: new words, new languages, new counts."""
    from search import search

    first = [Article(id=f"x{i}", title="budget", body="budget talks", language="en")
             for i in range(5)]
    loc = build_index(tmp_path, first)
    pool = SearcherPool(loc)
    with pool.searcher() as (s, _):
        assert search(s, SearchRequest(q="budget")).total == 5
        assert search(s, SearchRequest(q="haushalt")).total == 0
        assert s.reader().doc_frequency("title", "budget") == 5
        old_reader = s.reader()
    # The second generation adds German articles: `haushalt` is only in German fields,
    # which a query is read in only when the index is known to hold German.
    second = [*first[:2], Article(id="g1", title="Haushalt", body="Der Haushalt wurde beschlossen.",
                                  language="de")]
    build_index(tmp_path, second)
    with pool.searcher() as (s, _):
        assert s.reader() is not old_reader
        assert all(not leaf._terms.memo for leaf, _ in s.reader().leaf_readers())
        assert search(s, SearchRequest(q="budget")).total == 2
        assert s.reader().doc_frequency("title", "budget") == 2
        assert search(s, SearchRequest(q="haushalt")).total == 1


# --- The highlighter's vocabulary -----------------------------------------------------------

SURFACE = ["budget", "Budget", "BUDGETS", "budgeted", "xbudget", "budget_x", "talks", "talk",
           "Talking", "oil", "soil", "oils", "İstanbul", "istanbul", "Kalın", "kalin",
           "müzakereler", "muzakerelerde", "Haushalt", "Haushalts", "النفط", "والنفط", "the",
           "a", "é", "naïve", "naive", "x", "xx"]
SEPARATORS = [" ", "  ", ", ", ". ", "-", "\n", "'", "(", ")", "«", "»", "/"]


def reference_spans(text: str, wanted: Wanted, lang: str | None) -> list[tuple[int, int, str]]:
    """Every token analysed on its own: the first language (then variant) wanting it names it."""
    langs = (lang,) if lang else wanted.languages
    out = []
    for m in highlight._TOKEN_RE.finditer(text):
        for one in langs:
            term = next((t for t in variants(m.group(), one) if t in wanted), None)
            if term is not None:
                out.append((m.start(), m.end(), term))
                break
    return out


texts = st.lists(st.tuples(st.sampled_from(SURFACE), st.sampled_from(SEPARATORS)),
                 max_size=40).map(lambda parts: "".join(w + s for w, s in parts))
languages = st.lists(st.sampled_from(["en", "de", "tr"]), min_size=1, max_size=3, unique=True)


@settings(max_examples=300, deadline=None)
@given(text=texts, chosen=st.lists(st.sampled_from(SURFACE), max_size=4), langs=languages,
       lang=st.sampled_from([None, "en", "de", "tr"]))
def test_match_spans_equal_analysing_every_token(text: str, chosen: list[str], langs: list[str],
                                                 lang: str | None) -> None:
    wanted = Wanted({t for w in chosen for one in langs if (t := term_for(w, one))}, langs)
    assert match_spans(text, wanted, lang) == reference_spans(text, wanted, lang)


def test_vocabulary_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(highlight, "VOCABULARY_SIZE", 8)
    monkeypatch.setattr(highlight, "_VOCABULARY", {})
    wanted = Wanted({term_for("budget")})
    for i in range(30):
        text = " ".join(f"w{i}x{j}" for j in range(5)) + " Budget budgets budgetary"
        assert match_spans(text, wanted) == reference_spans(text, wanted, None)
        forward, _reverse = highlight._VOCABULARY["en"]
        assert len(forward) <= 8 + 8  # emptied before a text's words when full
