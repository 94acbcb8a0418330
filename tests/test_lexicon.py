"""Segments' written forms (search/lexicon.py): snippets found through them are the
snippets tokenising finds, on real articles, across merges and without the file."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from whoosh import index as whoosh_index

from indexer.segwriter import TermPoolWriter
from search import analysis, engine, lexicon
from search.highlight import Wanted, highlight_all, match_spans, snippet
from search.languages import GENERIC
from search.models import Article, SearchRequest
from search.schema import build_schema, from_stored, to_document
from tests.indexing import build_index
from tests.jobfixtures import collection_lines
from tests.test_segwriter import _articles


def _real_articles(shared_data: Path, per: int) -> list[Article]:
    out = []
    for name, lang in (("news9", "en"), ("saudinewsnet", "ar"), ("reuters21578", "en")):
        for line in collection_lines(shared_data, name, per):
            record = json.loads(line)
            out.append(Article(id=f"{name}-{len(out)}", title=record.get("title") or "",
                               body=record.get("body") or "", source=name, language=lang))
    return out + _articles(40)  # Turkish (two terms a word), German, Arabic, empty


def _build(root: Path, make: Any, articles: list[Article], commit: dict[str, Any] | None = None,
           into: Any = None) -> Any:
    if into is None:
        root.mkdir()
        into = whoosh_index.create_in(str(root), build_schema())
    writer = make(into)
    for a in articles:
        writer.add_document(**to_document(a))
    writer.commit(**(commit or {}))
    return whoosh_index.open_dir(str(root))


def _queries(reader: Any, rng: random.Random) -> list[tuple[str, frozenset[str]]]:
    """(language, terms) pairs: a few of one document's terms, plus one from elsewhere."""
    docs = [f for _, f in reader.iter_docs()]
    out = []
    for fields in docs:
        lang = fields.get("analyzed_as") or GENERIC
        own = sorted(analysis.index_positions(fields.get("body") or fields.get("title") or "",
                                              lang))
        other = docs[rng.randrange(len(docs))]
        theirs = sorted(analysis.index_positions(other.get("title") or "", lang))
        picked = rng.sample(own, min(3, len(own))) + theirs[:1]
        out.append((lang, frozenset(picked)))
    return out


def assert_same_highlights(ix: Any, seed: int = 7) -> int:
    """Assert every stored text highlights alike with and without the forms; return how
    many texts held a match."""
    rng = random.Random(seed)
    matched = 0
    with ix.reader() as reader:
        queries = _queries(reader, rng)
        for (lang, terms), (_, fields) in zip(queries, reader.iter_docs(), strict=True):
            a = from_stored(fields)
            fast = Wanted(terms, (lang,), forms=lambda one, t=terms: lexicon.forms(reader, t, one))
            slow = Wanted(terms, (lang,))
            assert fast.finder(lang) is not None
            for text in (a.title, a.body, a.summary):
                assert match_spans(text, fast, lang) == match_spans(text, slow, lang)
            assert snippet(a.body, fast, lang=lang) == snippet(a.body, slow, lang=lang)
            assert highlight_all(a.title, fast, lang) == highlight_all(a.title, slow, lang)
            matched += bool(match_spans(a.body, slow, lang))
    return matched


def test_forms_give_the_snippets_tokenising_gives(tmp_path: Path, shared_data: Path) -> None:
    ix = _build(tmp_path / "ix", TermPoolWriter, _real_articles(shared_data, 150))
    assert assert_same_highlights(ix) > 400
    with ix.reader() as reader:
        assert {"news", "News"} <= set(lexicon.forms(reader, {"news"}, GENERIC) or {})
        # A Turkish word indexed under two terms maps to the first of them wanted.
        assert analysis.variants("Bakanı", "tr") == ("baka", "bakan")
        assert (lexicon.forms(reader, {"baka", "bakan"}, "tr") or {})["Bakanı"] == "baka"
        assert (lexicon.forms(reader, {"bakan"}, "tr") or {})["Bakanı"] == "bakan"


def test_merged_segments_carry_the_union_of_forms(tmp_path: Path, shared_data: Path) -> None:
    articles = _real_articles(shared_data, 60)
    root = tmp_path / "ix"
    ix = _build(root, TermPoolWriter, articles[:100])
    ix = _build(root, TermPoolWriter, articles[100:150], into=ix)
    assert len(ix._segments()) == 2
    with ix.reader() as reader:
        before = {(lang, t): lexicon.forms(reader, {t}, lang)
                  for lang, terms in _queries(reader, random.Random(1)) for t in terms}
    ix = _build(root, TermPoolWriter, articles[150:], into=ix, commit={"optimize": True})
    assert len(ix._segments()) == 1
    with ix.reader() as reader:
        for (lang, t), forms in before.items():
            assert set(forms or {}) <= set(lexicon.forms(reader, {t}, lang) or {}), (lang, t)
    assert assert_same_highlights(ix, seed=3) > 100


def test_without_the_file_snippets_tokenise(tmp_path: Path) -> None:
    """A segment written by Whoosh's own writer has no forms: then neither has the
    reader, nor a segment merged from it, and snippets tokenise as before."""
    articles = _articles(60)
    root = tmp_path / "ix"
    ix = _build(root, lambda i: i.writer(), articles[:30])
    with ix.reader() as reader:
        assert lexicon.forms(reader, {"negoti"}, GENERIC) is None
    ix = _build(root, TermPoolWriter, articles[30:], into=ix)
    with ix.reader() as reader:
        assert lexicon.forms(reader, {"negoti"}, GENERIC) is None  # one segment lacks it
        wanted = Wanted({"negoti"}, (GENERIC,), forms=lambda one: lexicon.forms(reader, {"negoti"}, one))
        assert wanted.finder(GENERIC) is None
        assert match_spans("Negotiations resumed", wanted, GENERIC) == [(0, 12, "negoti")]
    ix = _build(root, TermPoolWriter, [], into=ix, commit={"optimize": True})
    with ix.reader() as reader:
        assert lexicon.forms(reader, {"negoti"}, GENERIC) is None


def _recorded(words: dict[str, set[str]]) -> analysis.Words:
    return {lang: {w: analysis.index_variants(w, lang) for w in ws} for lang, ws in words.items()}


def test_entries_round_trip_and_merge() -> None:
    words = {"en": {"Talks", "talks", "talked", "the"}, "de": {"Verhandlungen"}}
    entries = lexicon.entries_from_words(_recorded(words))
    assert [k for k, _ in entries] == sorted(k for k, _ in entries)
    lex = lexicon.Lexicon(lexicon.encode(entries))
    assert list(lex.entries()) == entries
    assert sorted(lex.forms("en", "talk")) == ["Talks", "talked", "talks"]
    assert lex.forms("en", "the") == []  # a stop word has no term
    assert lex.forms("de", "talk") == []
    other = lexicon.entries_from_words(_recorded({"en": {"TALKS", "negotiations"}}))
    merged = lexicon.Lexicon(lexicon.encode(lexicon.merge_entries([entries, other])))
    assert sorted(merged.forms("en", "talk")) == ["TALKS", "Talks", "talked", "talks"]
    assert merged.forms("en", "negoti") == ["negotiations"]
    empty = lexicon.Lexicon(lexicon.encode([]))
    assert len(empty) == 0 and empty.forms("en", "talk") == []
    with pytest.raises(ValueError, match="not a forms file"):
        lexicon.Lexicon(b"DLFLAT1\n" + bytes(64))


def test_search_pages_highlight_alike_with_and_without_forms(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_data: Path) -> None:
    loc = build_index(tmp_path / "ix", _real_articles(shared_data, 80), as_jobs=True)
    from search.index import open_whoosh
    ix = open_whoosh(loc.current())
    queries = ["oil prices", "\"central bank\"", "السعودية", "Müzakereler", "negotiations",
               "company NOT oil", "title:market", "verhandlungen", "shares"]
    with ix.searcher() as searcher:
        fast = [engine.search(searcher, SearchRequest(q=q, page_size=20)).hits for q in queries]
        monkeypatch.setattr(lexicon, "forms", lambda *a: None)
        slow = [engine.search(searcher, SearchRequest(q=q, page_size=20)).hits for q in queries]
    assert fast == slow
    assert sum("<mark>" in h.snippet for hits in fast for h in hits) > 60


def test_finder_marks_whole_tokens_at_code_point_offsets() -> None:
    """Offsets count code points past astral characters; a form inside a longer word is
    not a match; the spans are the tokenised ones."""
    text = "😀 𝔘 Talks on talkshow: talks, talks\u0301 and Talks."
    forms = {"Talks": "talk", "talks": "talk", "talks\u0301": "talk"}  # as the index records
    fast = Wanted({"talk"}, (GENERIC,), forms=lambda lang: forms)
    slow = Wanted({"talk"}, (GENERIC,))
    assert match_spans(text, fast, GENERIC) == match_spans(text, slow, GENERIC)
    assert [text[s:e] for s, e, _ in match_spans(text, fast, GENERIC)] == \
        ["Talks", "talks", "talks\u0301", "Talks"]
    assert Wanted({"talk"}, (GENERIC,), forms=lambda lang: {}).finder(GENERIC) is not None
    assert match_spans(text, Wanted({"talk"}, (GENERIC,), forms=lambda lang: {}), GENERIC) == []


def test_a_damaged_forms_file_means_tokenising(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    ix = _build(tmp_path / "ix", TermPoolWriter, _articles(20))
    from search import flatpostings

    real = flatpostings._mapped
    monkeypatch.setattr(flatpostings, "_mapped", lambda storage, name: b"DLFORMS1\n\xff\xff" if
                        name.endswith(lexicon.EXT) else real(storage, name))
    with ix.reader() as reader:
        assert lexicon.forms(reader, {"negoti"}, GENERIC) is None
    assert "unreadable" in caplog.text
    monkeypatch.setattr(flatpostings, "_mapped", real)
    with ix.reader() as reader:
        assert "Negotiations" in (lexicon.forms(reader, {"negoti"}, GENERIC) or {})


def test_each_thread_records_into_its_own_writers_words() -> None:
    """Two writers on two threads (a Dask worker's shards) never record each other's."""
    import threading

    barrier = threading.Barrier(2)
    got: dict[str, analysis.Words] = {}

    def write(name: str, text: str) -> None:
        sink: analysis.Words = {}
        before = analysis.record_words(sink)
        barrier.wait()  # both are recording now
        for _ in range(200):
            analysis.index_positions(text, GENERIC)
        analysis.record_words(before)
        got[name] = sink

    threads = [threading.Thread(target=write, args=("a", "Negotiations resumed in Geneva")),
               threading.Thread(target=write, args=("b", "Oil prices fell sharply"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(got["a"][GENERIC]) == {"Negotiations", "resumed", "in", "Geneva"}
    assert set(got["b"][GENERIC]) == {"Oil", "prices", "fell", "sharply"}
    assert analysis.record_words(None) is None  # this thread was never recording
