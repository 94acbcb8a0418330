"""The fast indexing path gives the index the slow path gave: analysis, stemmer, writer processes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from nltk.stem.snowball import SnowballStemmer
from whoosh import index as whoosh_index
from whoosh.fields import TEXT

from indexer import jobs
from indexer.pipeline import ParallelWriter, WorkerFailed, WriterOptions, open_writer
from search import arabic
from search.analysis import _TOKEN_RE, index_positions, make_analyzer
from search.index import IndexLocation
from search.schema import AnalyzedText, build_schema
from tests.jobfixtures import children_die_with_killed_job, collection_lines

ROOT = Path(__file__).resolve().parents[1]

TEXTS = [
    "Türkiye'nin müzakereleri: Dışişleri Bakanı İstanbul'da MÜZAKERELERDE konuştu.",
    "The Security Council's negotiations on Gaza resumed; negotiators said it was the end.",
    "وقالت الحكومة إن المفاوضات والمفاوضات الجارية مع الأطراف ستستمر، ولكن بشروط.",
    "Die Verhandlungen über den Haushalt wurden am Montag in Berlin fortgesetzt.",
    "Москва заявила о переговорах; Κυβέρνηση 政府 the the a 2024 x1 É é e\u0301",
    "",
    "   ,;: ",
]


@pytest.mark.parametrize("lang", ["en", "tr", "de", "fr"])
def test_index_positions_equal_the_analyzer(lang: str) -> None:
    reference = TEXT(analyzer=make_analyzer(lang), phrase=True)
    fast = AnalyzedText(lang)
    for text in TEXTS:
        assert sorted(fast.index(text)) == sorted(reference.index(text)), text


def test_index_positions_equal_the_analyzer_on_real_articles(shared_data: Path) -> None:
    schema = build_schema()
    for name in ("news9", "saudinewsnet", "reuters21578"):
        for line in collection_lines(shared_data, name, 60):
            body = json.loads(line).get("body") or ""
            for field in ("body", "body_tr", "title_de"):
                fast = schema[field]
                reference = TEXT(analyzer=make_analyzer(fast.lang), phrase=True)
                assert sorted(fast.index(body)) == sorted(reference.index(body))


def test_positions_skip_stop_words_and_share_turkish_variants() -> None:
    got = index_positions("the negotiations and the talks", "en")
    assert got == {"negoti": [0], "talk": [1]}
    # A Turkish word stemmed two ways (with and without its letters) has one position.
    assert index_positions("ve ışıklar gözler", "tr") == {
        "isik": [0],
        "isikl": [0],
        "goz": [1],
        "gozle": [1],
    }


def test_arabic_stemmer_without_redos_gives_nltks_stems(shared_data: Path) -> None:
    words = {
        arabic.normalize(w)
        for line in collection_lines(shared_data, "saudinewsnet", 300)
        for w in _TOKEN_RE.findall(json.loads(line).get("body") or "")
    }
    words |= {"والمفاوضات", "مفاوضاتها", "بالمملكة", "الرياض", "أإآ", "ًٌٍَُِّْ"}
    original = SnowballStemmer("arabic")
    original.stemmer.suffixes_verb_step1_success = True  # as set in ours (search/arabic.py)
    assert len(words) > 2000
    assert [arabic._snowball.stem(w) for w in sorted(words)] == [
        original.stem(w) for w in sorted(words)
    ]


# --- the writer processes ------------------------------------------------------------------


def _postings(index_dir: Path) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """Every (field, term) -> {article id: (weight, encoded positions)}, and field lengths."""
    gen = IndexLocation(index_dir).current()
    ix = whoosh_index.open_dir(str(gen.path))
    out: dict[Any, Any] = {}
    lengths: dict[Any, Any] = {}
    with ix.reader() as r:
        ids = {n: f["id"] for n, f in r.iter_docs()}
        for field, term in r.all_terms():
            if field in ("id",):
                continue
            m = r.postings(field, term)
            got = {}
            while m.is_active():
                got[ids[m.id()]] = (m.weight(), m.value())
                m.next()
            out[(field, term)] = got
        scorable = [n for n, f in ix.schema.items() if f.scorable]
        for n, aid in ids.items():
            for field in scorable:
                lengths[(aid, field)] = r.doc_field_length(n, field) or 0  # None: unused
    return out, lengths


def test_worker_processes_build_the_same_index(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("news9", "saudinewsnet", "reuters21578"):
        (src / f"{name}.jsonl").write_text("".join(collection_lines(shared_data, name, 150)))
    monkeypatch.setattr(jobs, "REBUILD_WRITER", WriterOptions(workers=0))
    single = jobs.rebuild([src], tmp_path / "one")
    # Tiny segments and batches, so several segments come from each worker.
    options = WriterOptions(workers=2, batch_docs=7, segment_mb=1, min_bytes=0)
    monkeypatch.setattr(jobs, "REBUILD_WRITER", options)
    multi = jobs.rebuild([src], tmp_path / "two")
    assert multi.doc_count == single.doc_count > 400
    gen = IndexLocation(tmp_path / "two").current()
    assert len(list(gen.path.glob("*.seg"))) > 2
    assert _postings(tmp_path / "two") == _postings(tmp_path / "one")
    # An update on top of a multi-segment generation deletes and adds as before.
    first = src / "news9.jsonl"
    first.write_text("".join(first.read_text().splitlines(keepends=True)[:100]))
    report = jobs.update([src], tmp_path / "two")
    assert report.deleted == 50 and report.doc_count == single.doc_count - 50


def test_a_failing_worker_fails_the_write(tmp_path: Path) -> None:
    ix = whoosh_index.create_in(str(tmp_path), build_schema())
    writer = ParallelWriter(ix, WriterOptions(workers=1, batch_docs=1))
    writer.add_document(id="a", body="fine")
    writer.add_document(id="b", no_such_field="boom")
    with pytest.raises(WorkerFailed, match="no_such_field"):
        writer.commit()
    assert all(not p.is_alive() for p in writer._procs)
    assert whoosh_index.open_dir(str(tmp_path)).doc_count() == 0


def test_workers_run_below_the_job(tmp_path: Path) -> None:
    ix = whoosh_index.create_in(str(tmp_path), build_schema())
    writer = ParallelWriter(ix, WriterOptions(workers=1, nice=5))
    try:
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        pid = writer._procs[0].pid
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and os.getpriority(os.PRIO_PROCESS, pid) == mine:
            time.sleep(0.05)
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, mine + 5)
    finally:
        writer.cancel()


def test_small_inputs_write_in_process(tmp_path: Path) -> None:
    ix = whoosh_index.create_in(str(tmp_path), build_schema())
    writer = open_writer(ix, WriterOptions(workers=2), input_bytes=1000)
    assert not isinstance(writer, ParallelWriter)
    writer.cancel()


def test_workers_die_with_a_killed_job(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from whoosh import index\n"
        "from indexer.pipeline import ParallelWriter, WriterOptions\n"
        "from search.schema import build_schema\n"
        "ix = index.create_in(sys.argv[1], build_schema())\n"
        "w = ParallelWriter(ix, WriterOptions(workers=2))\n"
        "print(' '.join(str(p.pid) for p in w._procs), flush=True)\n"
        "time.sleep(60)\n"
    )
    children_die_with_killed_job(script, str(tmp_path), cwd=ROOT, expect=2)


