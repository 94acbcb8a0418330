"""The language of an article's text, for pages and dumps that do not declare one.

py3langid (langid.py's maintained fork) ships its model inside the wheel, so nothing is
downloaded; the model is loaded on first use (about three seconds) and kept per process.
"""

from __future__ import annotations

import functools
from typing import Any

# Below this many letters a guess is noise; above the sample size it is no better.
MIN_LETTERS = 60
SAMPLE_CHARS = 3000
MIN_PROBABILITY = 0.8
# The model also knows a few languages by ISO 639-3 codes; an article's language is an
# ISO 639-1 code (facets, stemmers), so varieties map to their macrolanguage and the rest,
# "zxx" (no linguistic content) included, count as not detected.
_MACRO_LANGUAGES = {
    "arz": "ar", "ary": "ar", "yue": "zh", "wuu": "zh", "uzs": "uz", "gug": "gn",
    "sdh": "ku", "fuv": "ff",
}  # fmt: skip


@functools.cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """Return the ISO 639-1 code of the language `text` is written in, or None if unsure."""
    sample = text[:SAMPLE_CHARS]
    if sum(1 for c in sample if c.isalpha()) < MIN_LETTERS:
        return None
    language, probability = _identifier().classify(sample)
    if probability < MIN_PROBABILITY:
        return None
    language = str(language)
    return language if len(language) == 2 else _MACRO_LANGUAGES.get(language)
