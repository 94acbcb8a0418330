"""Which languages get their own analysis, and which analysis an article gets.

A Whoosh field has one analyzer, and an analyzer never sees the document's language, so
the language is decided before indexing and the text goes to that language's fields:

- Scripts that name their language well enough need no fields of their own: the shared
  (unsuffixed) `title`, `summary` and `body` route every *word* by its script. Latin words
  get English analysis, Arabic-script words Arabic analysis (normalisation + stemming),
  Cyrillic words Russian Snowball, anything else is only folded. English, Arabic, Russian
  and every article whose language is unknown or has no stemmer share these fields, so an
  English-and-Arabic archive is searched exactly as cheaply as an English one.
- Other Latin-script languages with a stemmer (German, Turkish, French, ...) would collide
  with English in those fields, so their articles go to `title_de`, `body_tr`, ... analysed
  with their own stemmer and stop words; a query is analysed once per language present.

The analysis language of an article, in order: its declared or detected `Article.language`
(the indexer detects it from the text when a page declares none) when that language has
its own fields; else the shared fields, where each word's script decides.
"""

from __future__ import annotations

# The shared fields' name for their analysis: English words, plus script routing.
GENERIC = "en"

# Languages analysed in the shared fields (their script identifies them).
SHARED = {"en": "English", "ar": "Arabic", "ru": "Russian"}

# Latin-script languages with a stemmer of their own and fields of their own.
OWN_FIELDS = {
    "da": "Danish",
    "de": "German",
    "es": "Spanish",
    "fi": "Finnish",
    "fr": "French",
    "hu": "Hungarian",
    "it": "Italian",
    "nl": "Dutch",
    "no": "Norwegian",
    "pt": "Portuguese",
    "ro": "Romanian",
    "sv": "Swedish",
    "tr": "Turkish",
}

# Every language a query may be analysed as (the `lang` search parameter).
SUPPORTED = {**SHARED, **OWN_FIELDS}

# Codes seen in metadata that mean a supported language under another name.
_ALIASES = {
    "nb": "no",
    "nn": "no",
    "eng": "en",
    "ara": "ar",
    "deu": "de",
    "ger": "de",
    "tur": "tr",
    "fra": "fr",
    "fre": "fr",
    "spa": "es",
    "rus": "ru",
}


def normalize(code: str | None) -> str | None:
    """Return the two-letter code of a language tag (`de-AT` -> `de`, `nb` -> `no`)."""
    if not code:
        return None
    primary = code.strip().replace("_", "-").split("-", 1)[0].lower()
    if not primary.isalpha():
        return None
    return _ALIASES.get(primary, primary)


def analysis_language(declared: str | None) -> str:
    """Return the fields' language for an article: its own, or the shared `GENERIC` ones."""
    code = normalize(declared)
    return code if code in OWN_FIELDS else GENERIC


def query_language(code: str | None) -> str | None:
    """Return the fields' language for a query's `lang`; None when `code` is unsupported."""
    norm = normalize(code)
    if norm not in SUPPORTED:
        return None
    return norm if norm in OWN_FIELDS else GENERIC
