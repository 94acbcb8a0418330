"""The Whoosh schema and the mapping between `Article` and stored documents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from operator import sub
from pickle import dumps
from typing import Any, cast

from whoosh.analysis import RegexTokenizer
from whoosh.columns import NumericColumn
from whoosh.fields import COLUMN, DATETIME, ID, KEYWORD, STORED, TEXT, Schema
from whoosh.formats import Existence, Positions
from whoosh.system import pack_uint

from search.analysis import (
    ANALYSIS_VERSION,
    index_exact,
    index_positions,
    make_analyzer,
    make_exact_analyzer,
)
from search.languages import GENERIC, OWN_FIELDS, analysis_language
from search.models import Article

# Bump on any change to fields or analysis: `update` must then refuse and ask
# for a rebuild, because old segments would answer queries differently.
# Fields version 2 added the exact, multi-valued `author` facet field; 3 the
# per-language text fields and `analyzed_as`; 4 the exact-form fields `title_exact` and
# `body_exact` (and 3's fast-path `AnalyzedText`, which changed the pickled schema);
# 5 made `has_date` and `pub_ts` columns only (their terms were never searched).
FIELDS_VERSION = 5
SCHEMA_VERSION = f"{FIELDS_VERSION}.{ANALYSIS_VERSION}"

# Full-text fields searched when the query names no field, with their weights.
# These are the shared fields; a language with its own fields has the same three
# with a suffix (`title_de`), weighted alike (see `text_fields`).
# Tuned with the known-item evaluation (quality/README.md; was 3 / 1.5 / 1). The summary
# is the standfirst, or else the body's first paragraph, so its words are in the body too.
TEXT_FIELDS = {"title": 4.0, "summary": 0.25, "body": 1.0}


def text_field(kind: str, lang: str = GENERIC) -> str:
    """Return the field holding `kind` (title, summary, body) for articles in `lang`."""
    return kind if lang == GENERIC else f"{kind}_{lang}"


def text_fields(lang: str = GENERIC) -> dict[str, float]:
    """Return one language's full-text fields with their weights."""
    return {text_field(kind, lang): weight for kind, weight in TEXT_FIELDS.items()}


# Kinds of text whose inflected words are also indexed as written (only folded), for
# ranking: kind -> field. One field per kind for every language; see `ExactText`.
EXACT_FIELDS = {"title": "title_exact", "body": "body_exact"}


# Every full-text field -> (kind, language).
ALL_TEXT_FIELDS: dict[str, tuple[str, str]] = {
    text_field(kind, lang): (kind, lang)
    for lang in (GENERIC, *OWN_FIELDS)
    for kind in TEXT_FIELDS
}

# What a user may write before a colon, and the indexed field it means.
FIELD_ALIASES = {
    "title": "title",
    "summary": "summary",
    "body": "body",
    "text": "body",
    "source": "source_text",
    "outlet": "source_text",
    "section": "section_text",
    "author": "author_text",
    "by": "author_text",
    "language": "language",
    "lang": "language",
}

FACET_FIELDS = ("source", "section", "language", "author", "year", "month")

# Authors are joined with this separator into the `author` field, one exact term each.
AUTHOR_SEPARATOR = "\n"


def _encode_positions(where: list[int]) -> bytes:
    """`Positions.encode`, byte for byte, without its per-position Python loop."""
    if len(where) == 1:  # most postings: one position, whose delta from 0 is itself
        p = where[0]
        return _ONE_AT[p] if p < _ONE_AT_LIMIT else _ONE + dumps(where, 2)
    return pack_uint(len(where)) + dumps([where[0], *map(sub, where[1:], where)], 2)


_ONE = pack_uint(1)
# One position's encoding for the first positions of a text (~0.5 MB): a list lookup
# instead of a pickle for most of a body's postings.
_ONE_AT_LIMIT = 1 << 13
_ONE_AT = [_ONE + dumps([p], 2) for p in range(_ONE_AT_LIMIT)]

# What `pool_postings` returns: a text's terms, each one's frequency, and each one's
# value bytes (None: the format stores none).
TextPostings = tuple[list[str], list[int], list[bytes] | None]


class AnalyzedText(TEXT):
    """A phrase-searchable TEXT field indexed through `analysis.index_positions`.

    Same terms, positions and weights as Whoosh's analyzer path (which still serves
    queries and highlighting), at a fraction of the per-word cost: analysis was the
    largest part of `add_document`. Module-level because Whoosh pickles the schema.
    """

    def __init__(self, lang: str = GENERIC, **kwargs: Any) -> None:
        super().__init__(analyzer=make_analyzer(lang), phrase=True, **kwargs)
        self.lang = lang

    def index(self, value: Any, **kwargs: Any) -> Any:
        got = self.pool_postings(value)
        if got is None:
            return super().index(value, **kwargs)
        boost = cast(Positions, self.format).field_boost
        terms, freqs, values = got
        assert values is not None
        return [(term.encode("utf-8"), freq, float(freq) * boost, value)
                for term, freq, value in zip(terms, freqs, values, strict=True)]

    def pool_postings(self, value: Any) -> TextPostings | None:
        """`index` as whole lists, terms unencoded: a segment writer's fast path
        (indexer/segwriter.py), which numbers each distinct term once, not each posting.
        Weights are the frequencies times the format's `field_boost`. None: not text."""
        if not isinstance(value, str):
            return None
        fmt = cast(Positions, self.format)  # phrase=True: positions in every posting
        encode = _encode_positions if type(fmt) is Positions else fmt.encode
        found = index_positions(value, self.lang)
        wheres = list(found.values())
        return list(found), list(map(len, wheres)), list(map(encode, wheres))


class ExactText(TEXT):
    """Words as written (folded, not stemmed), present or not: a ranking signal.

    Only words that stemming changes (`analysis.exact_form`): a word that is its own
    stem has no other form to be told apart from.

    An exact-form term never decides whether an article matches (the stemmed fields
    do); search/ranking.py adds it to the BM25F sum of the word it came from, so an
    article with the query's own form of a word ranks above one with only another
    inflection. Presence only (Whoosh's `Existence`: no frequencies, no positions)
    and no stored text keep it small; a document's length here is its number of
    distinct words. Indexed through `analysis.index_exact`, the analyzer's terms at
    less cost.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(analyzer=make_exact_analyzer(), phrase=False, **kwargs)
        self.format = Existence(field_boost=1.0)

    def index(self, value: Any, **kwargs: Any) -> Any:
        got = self.pool_postings(value)
        if got is None:
            return super().index(value, **kwargs)
        boost = cast(Existence, self.format).field_boost
        return [(term.encode("utf-8"), 1, boost, b"") for term in got[0]]

    def pool_postings(self, value: Any) -> TextPostings | None:
        """`index` as whole lists (see `AnalyzedText.pool_postings`): presence only."""
        if not isinstance(value, str):
            return None
        terms = list(index_exact(value))
        return terms, [1] * len(terms), None


def build_schema() -> Schema:
    """Return the schema: stemmed text, exact sortable facets, a sortable date."""
    own = {
        text_field(kind, lang): AnalyzedText(lang)
        for lang in OWN_FIELDS
        for kind in TEXT_FIELDS
    }
    return Schema(
        id=ID(unique=True, stored=True),
        url=STORED(),
        path=STORED(),
        content_hash=STORED(),
        title=AnalyzedText(stored=True),
        summary=AnalyzedText(stored=True),
        body=AnalyzedText(stored=True),
        source=ID(stored=True, sortable=True),
        source_text=AnalyzedText(),
        section=ID(stored=True, sortable=True),
        section_text=AnalyzedText(),
        authors=STORED(),
        author_text=AnalyzedText(),
        # One exact term per author (a name keeps its case and spaces), for the facet.
        author=KEYWORD(analyzer=RegexTokenizer(r"[^\n]+")),  # type: ignore[arg-type]
        language=ID(stored=True, sortable=True),
        published=DATETIME(stored=True),
        published_iso=STORED(),
        # Sort keys live in plain integer columns because Whoosh stores a
        # missing DATETIME as the maximum value (it would sort first). Columns only:
        # dates are searched through `published`; as NUMERIC terms, `pub_ts` alone was
        # 16 terms an article (~6% of all postings) that no query read.
        has_date=COLUMN(NumericColumn("B", default=0)),
        pub_ts=COLUMN(NumericColumn("q", default=0)),
        year=ID(sortable=True),
        month=ID(sortable=True),
        # Whose fields hold the text: `en` (the shared ones) or a language of OWN_FIELDS.
        analyzed_as=ID(stored=True),
        **{field: ExactText() for field in EXACT_FIELDS.values()},
        **own,
    )


def to_document(a: Article) -> dict[str, Any]:
    """Return the fields Whoosh stores and indexes for one article.

    The text is always stored in `title`, `summary` and `body`; it is indexed there too
    unless the article's language has fields of its own (`search.languages`), which
    then index it with that language's analyzer. Title and body are also indexed as
    written in the language-independent `EXACT_FIELDS`.
    """
    lang = analysis_language(a.language)
    doc: dict[str, Any] = {
        "id": a.id,
        "url": a.url,
        "path": a.path,
        "content_hash": a.content_hash,
        "title": a.title,
        "summary": a.summary,
        "body": a.body,
        "authors": list(a.authors),
        "has_date": 0,
        "pub_ts": 0,
        "analyzed_as": lang,
    }
    if lang != GENERIC:
        for kind in TEXT_FIELDS:
            doc[f"_stored_{kind}"] = doc[kind]
            doc[text_field(kind, lang)] = doc[kind]
            doc[kind] = ""  # stored from `_stored_<kind>`, indexed in the language's field
    # The same string objects as above: a document pickled to a writer process
    # carries each text once.
    doc[EXACT_FIELDS["title"]] = a.title
    doc[EXACT_FIELDS["body"]] = a.body
    if a.source:
        doc["source"] = a.source
        doc["source_text"] = a.source
    if a.section:
        doc["section"] = a.section
        doc["section_text"] = a.section
    if a.authors:
        doc["author_text"] = " ; ".join(a.authors)
        names = [" ".join(n.split()) for n in a.authors]
        doc["author"] = AUTHOR_SEPARATOR.join(n for n in names if n)
    if a.language:
        doc["language"] = a.language
    if a.published is not None:
        utc = a.published.astimezone(dt.timezone.utc)
        # Whoosh's DATETIME wants naive UTC; we keep the original offset in `published_iso`.
        doc["published"] = utc.replace(tzinfo=None)
        doc["has_date"] = 1
        doc["pub_ts"] = int(utc.timestamp())
        doc["year"] = f"{utc.year:04d}"
        doc["month"] = f"{utc.year:04d}-{utc.month:02d}"
        doc["published_iso"] = a.published.isoformat()
    return doc


def from_stored(fields: Mapping[str, Any]) -> Article:
    """Rebuild an `Article` from a stored document."""
    published = None
    iso = fields.get("published_iso")
    if iso:
        published = dt.datetime.fromisoformat(iso)
    elif fields.get("published") is not None:
        published = fields["published"].replace(tzinfo=dt.timezone.utc)
    return Article(
        id=fields["id"],
        title=fields.get("title") or "",
        body=fields.get("body") or "",
        url=fields.get("url"),
        summary=fields.get("summary") or "",
        source=fields.get("source"),
        section=fields.get("section"),
        authors=tuple(fields.get("authors") or ()),
        published=published,
        language=fields.get("language"),
        path=fields.get("path"),
        content_hash=fields.get("content_hash") or "",
    )
