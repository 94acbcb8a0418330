"""Language-aware analysis: each language's words meet their inflections, English is unchanged."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

from search.analysis import (
    ARABIC,
    CYRILLIC,
    LATIN,
    fold,
    make_analyzer,
    script,
    term_for,
    terms,
    variants,
)
from search.arabic import normalize
from search.languages import GENERIC, analysis_language, query_language
from search.languages import normalize as normalize_code
from search.models import Article
from search.schema import build_schema, to_document

ROOT = Path(__file__).resolve().parents[1]


def same(lang: str, *words: str) -> None:
    found = {term_for(w, lang) for w in words}
    assert len(found) == 1 and None not in found, {w: term_for(w, lang) for w in words}


def test_english_terms_are_unchanged() -> None:
    # The analysis of English (and undeclared Latin-script text) is what it was.
    assert terms("Negotiations were negotiating") == ["negoti", "negoti"]
    assert terms("running") == ["run"]
    assert terms("İSTANBUL Kalın Türkiye's café") == ["istanbul", "kalin", "turkiy", "cafe"]
    assert terms("the of and") == []


def test_turkish_inflections_meet() -> None:
    same("tr", "müzakere", "müzakereler", "müzakereleri", "müzakerede", "müzakereye",
         "müzakerelerin")
    same("tr", "istasyonu", "istasyonları", "istasyonunun")  # from an Anadolu Ajansı story
    same("tr", "kurban", "kurbanın", "kurbanlar")
    same("tr", "İstanbul", "İSTANBUL", "istanbul")


def test_turkish_typed_without_its_letters_still_meets() -> None:
    # Indexed under both stems, so a query typed on an ASCII keyboard matches.
    for word in ("müzakerelerde", "şarj", "aracılığıyla", "edileceğini", "haftadır"):
        plain = fold(word.replace("I", "ı"))
        assert term_for(plain, "tr") in variants(word, "tr"), word
    assert variants("kitap", "tr") == (term_for("kitap", "tr"),)


def test_turkish_casing_and_stop_words() -> None:
    assert term_for("ISPARTA", "tr") == term_for("ısparta", "tr")
    assert term_for("ve", "tr") is None and term_for("için", "tr") is None
    assert term_for("ile", "tr") is None and term_for("ile") == "ile"  # not English


def test_german_and_french_stems() -> None:
    same("de", "Verhandlungen", "Verhandlung")
    same("de", "Männer", "Mann")
    assert term_for("für", "de") is None and term_for("fur", "de") is None
    same("fr", "négociations", "négociation", "negociations")


def test_arabic_normalisation() -> None:
    assert normalize("أحمد") == normalize("إحمد") == normalize("احمد") == "احمد"
    assert normalize("مدرسة") == "مدرسه"  # taa marbuta
    assert normalize("على") == "علي"  # alef maksura
    assert normalize("مُفَاوَضَات") == "مفاوضات"  # diacritics
    assert normalize("مفـــاوضات") == "مفاوضات"  # tatweel


def test_arabic_words_meet_their_forms() -> None:
    same(GENERIC, "مفاوضات", "المفاوضات", "والمفاوضات", "مُفاوَضات")
    same(GENERIC, "التطرف", "للتطرف")
    assert term_for("في") is None and term_for("الذي") is None


def test_arabic_stems_do_not_depend_on_the_words_stemmed_before() -> None:
    # NLTK's stemmer keeps one flag set once a verb with a pronoun suffix has been
    # stemmed; these verbs stemmed otherwise before that in a fresh process.
    words = ["ابدوا", "ابرمتم", "ابقوا", "اتجهوا"]
    code = ("import sys; from search import arabic; "
            "[arabic.term(w) for w in sys.argv[2:] if sys.argv[1] == 'warm']; "
            f"print(' '.join(arabic.term(w) or '-' for w in {words!r}))")
    fresh, warm = (subprocess.run([sys.executable, "-c", code, how, "كتبه"], check=True,
                                  capture_output=True, text=True, cwd=ROOT).stdout
                   for how in ("fresh", "warm"))
    assert fresh == warm
    assert fresh.split() == ["ابدو", "ابرمتم", "ابقو", "اتجه"]


def test_words_are_routed_by_script() -> None:
    assert (script("budget"), script("مفاوضات"), script("переговоры")) == (LATIN, ARABIC, CYRILLIC)
    # An Arabic or Russian word is analysed the same in any language's fields.
    assert term_for("المفاوضات", "de") == term_for("المفاوضات")
    same(GENERIC, "переговоры", "переговоров")


def test_language_codes() -> None:
    assert normalize_code("de-AT") == "de" and normalize_code("nb") == "no"
    assert analysis_language("tr-TR") == "tr" and analysis_language("ar") == GENERIC
    assert analysis_language(None) == GENERIC and analysis_language("ja") == GENERIC
    assert query_language("ru") == GENERIC and query_language("xx") is None


def test_analyzers_pickle_and_keep_positions() -> None:
    ana = pickle.loads(pickle.dumps(make_analyzer("tr")))
    tokens = [(t.text, t.pos) for t in ana("Türkiye'de müzakereler sürüyor", positions=True,
                                           mode="index")]
    positions = [p for _, p in tokens]
    assert positions == sorted(positions) and len(set(positions)) == 3  # "de" is a stop word
    assert make_analyzer("tr") == make_analyzer("tr") != make_analyzer("de")


def test_documents_go_to_their_language_fields() -> None:
    schema = build_schema()
    tr = to_document(Article(id="a", title="Müzakereler", body="Gövde", language="tr"))
    assert tr["title"] == "" and tr["_stored_title"] == "Müzakereler"
    assert tr["title_tr"] == "Müzakereler" and tr["analyzed_as"] == "tr"
    en = to_document(Article(id="b", title="Talks", body="Body", language="en"))
    assert en["title"] == "Talks" and "title_tr" not in en and en["analyzed_as"] == "en"
    assert all(name in schema for name in tr if not name.startswith("_"))


def test_exact_forms_fold_but_do_not_stem() -> None:
    from search.analysis import exact_form

    assert exact_form("Negotiations") == "negotiations" != exact_form("negotiating")
    assert exact_form("İSTANBULS") == exact_form("istanbuls") == "istanbuls"
    assert exact_form("TÜRKİYE") == exact_form("Türkiye") == "turkiye"
    assert exact_form("MÜZAKERELER") == exact_form("müzakereler") == "muzakereler"
    # Arabic: normalised (vowel marks, hamza forms, taa marbuta), prefixes kept.
    assert exact_form("المُفاوَضات") == "المفاوضات" != exact_form("مفاوضات") == "مفاوضات"
    assert exact_form("المدرسة") == "المدرسه"
    assert exact_form("the") is None and exact_form("في") is None
    # A word that is its own stem, or has digits (never stemmed), has no other form to
    # tell apart from in the shared fields: nothing is kept for it.
    assert exact_form("gaza") is None and exact_form("talk") is None
    assert exact_form("Kalın") is None and exact_form("أحمد") is None
    assert exact_form("2024") is None and exact_form("x1") is None


def test_exact_fields_index_what_their_analyzer_gives() -> None:
    from whoosh.fields import TEXT
    from whoosh.formats import Existence

    from search.analysis import (
        forget_index_memos,
        index_exact,
        index_positions,
        make_exact_analyzer,
    )
    from search.schema import EXACT_FIELDS, ExactText

    reference = TEXT(analyzer=make_exact_analyzer(), phrase=False)
    reference.format = Existence(field_boost=1.0)  # presence only, as ExactText
    fast = ExactText()
    texts = [
        "Türkiye'nin müzakereleri: Dışişleri Bakanı İstanbul'da MÜZAKERELERDE konuştu.",
        "The Security Council's negotiations on Gaza resumed; Negotiations, said the end.",
        "وقالت الحكومة إن المفاوضات والمفاوضات الجارية مع الأطراف ستستمر، ولكن بشروط.",
        "Москва заявила о переговорах; Κυβέρνηση 政府 the the a 2024 x1 É é e\u0301",
        "",
    ]
    for text in texts:
        assert sorted(fast.index(text)) == sorted(reference.index(text)), text
    for text in texts:  # after the shared fields' analysis, whose stems it then reuses
        forget_index_memos()
        index_positions(text)
        assert sorted(fast.index(text)) == sorted(reference.index(text)), text
    assert index_exact("Negotiations and the negotiations in 2024") == {"negotiations"}
    schema = build_schema()
    assert type(schema["body_exact"].format) is Existence
    assert not schema["body_exact"].stored
    tr = to_document(Article(id="a", title="Müzakereler", body="Gövde", language="tr"))
    assert tr[EXACT_FIELDS["title"]] == "Müzakereler" and tr[EXACT_FIELDS["body"]] == "Gövde"


def test_query_words_carry_their_exact_form() -> None:
    from whoosh import query as wq

    from search.query import exact_of, parse

    q = parse('Negotiations title:Gaza "oil price" negot* المفاوضات', ["en", "tr"]).query
    found = {(leaf.fieldname, exact_of(leaf)) for leaf in q.leaves()}
    assert ("body", "negotiations") in found and ("body_tr", "negotiations") in found
    assert ("title", None) in found and ("body", "المفاوضات") in found  # gaza: its own stem
    assert {form for _f, form in found} == {"negotiations", "المفاوضات", None}
    assert all(exact_of(leaf) is None for leaf in q.leaves() if type(leaf) is not wq.Term)


def test_exact_fields_index_what_their_analyzer_gives_on_real_articles(shared_data: Path
                                                                       ) -> None:
    import gzip
    import itertools
    import json

    from whoosh.fields import TEXT
    from whoosh.formats import Existence

    from search.analysis import make_exact_analyzer

    reference = TEXT(analyzer=make_exact_analyzer(), phrase=False)
    reference.format = Existence(field_boost=1.0)
    fast = build_schema()["body_exact"]
    for name in ("news9", "saudinewsnet", "reuters21578"):
        with gzip.open(shared_data / "collections" / f"{name}.jsonl.gz", "rt",
                       encoding="utf-8") as f:
            for line in itertools.islice(f, 40):
                body = json.loads(line).get("body") or ""
                assert sorted(fast.index(body)) == sorted(reference.index(body))
