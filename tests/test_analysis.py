"""Language-aware analysis: each language's words meet their inflections, English is unchanged."""

from __future__ import annotations

import pickle

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
