"""User query text -> Whoosh query, forgiving of typos but bounded in cost.

The language: words (all must match), "quoted phrases", OR, AND, NOT or a
leading `-`, `field:` prefixes (title, summary, body, source, section, author,
language), parentheses and trailing-`*` prefixes. Broken syntax (a stray quote,
an unclosed parenthesis, a lone operator) is repaired rather than rejected; only
input that would be expensive or meaningless is refused with a QueryError.

Languages: the query is parsed once per language whose fields the index has (or the
one asked for), each time with that language's analyzers, stop words and stems, and
the readings are ORed (`LanguageOr`). An article's text is in one language's fields
only, so each article is matched by the reading of its own language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from whoosh import qparser
from whoosh import query as wq
from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from search import docsets
from search.analysis import TOKEN_PATTERN, exact_form, fold, term_for
from search.errors import QueryError
from search.languages import GENERIC, SUPPORTED, query_language
from search.schema import ALL_TEXT_FIELDS, FIELD_ALIASES, TEXT_FIELDS, build_schema, text_fields

MAX_QUERY_CHARS = 1000
MAX_CLAUSES = 64
MIN_WILDCARD_PREFIX = 3

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FIELD_PREFIX = re.compile(r"(?<![\w:])(\w+):")
_OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"}


@dataclass(frozen=True)
class ParsedQuery:
    """The Whoosh query plus what the user should see about how it was read."""

    query: wq.Query
    text: str  # the repaired query string actually parsed
    notice: str = ""  # said to the user when the query was read differently

    @property
    def is_empty(self) -> bool:
        return self.query is wq.NullQuery or isinstance(self.query, wq.Every)

    def describe(self) -> str:
        """Return the parsed query as analysed terms, e.g. `title:ceas^3.0 ...`."""
        return "" if self.query is wq.NullQuery else str(self.query)


def _balance(text: str) -> str:
    """Drop the last unmatched quote and unbalanced parentheses."""
    if text.count('"') % 2:
        i = text.rfind('"')
        text = text[:i] + " " + text[i + 1 :]
    out, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                ch = " "
            else:
                depth -= 1
        out.append(ch)
    return "".join(out) + ")" * depth


def _rewrite_fields(text: str) -> str:
    """Map field aliases to index fields; unknown `name:` becomes plain text."""

    def repl(m: re.Match[str]) -> str:
        field = FIELD_ALIASES.get(m.group(1).lower())
        return f"{field}:" if field else f"{m.group(1)} "

    return _FIELD_PREFIX.sub(repl, text)


def _strip_dangling_operators(text: str) -> str:
    words = text.split()
    while words and words[-1].strip("()") in _OPERATORS:
        words.pop()
    while words and words[0].strip("()") in _OPERATORS - {"NOT"}:
        words.pop(0)
    return " ".join(words)


def repair(text: str) -> str:
    """Return the query text with control characters and broken syntax fixed."""
    text = _CONTROL.sub(" ", text)
    text = _balance(text)
    text = _rewrite_fields(text)
    return _strip_dangling_operators(text)


class LanguageOr(wq.Or):
    """The readings of one query in several languages' fields, any of which may match."""


_TOKEN_RE = re.compile(TOKEN_PATTERN)


def exact_of(q: wq.Query) -> str | None:
    """Return the exact form (`analysis.exact_form`) of the word a full-text term was read
    from, or None when unknown (a term not from one query word, or built elsewhere)."""
    return getattr(q, "exact", None)


class _Parser(qparser.QueryParser):
    """Remembers on each full-text `Term` the word it was read from, as its exact form.

    The stem alone cannot tell `negotiations` from `negotiating`; ranking uses the form
    (search/ranking.py, `Ranking.exact`). An attribute, not a Term subclass, so every
    consumer of plain Terms (match sets, highlighting) sees the same query as before.
    """

    def term_query(self, fieldname, text, termclass, boost=1.0, tokenize=True,  # type: ignore[no-untyped-def]
                   removestops=True):
        q = super().term_query(fieldname, text, termclass, boost, tokenize, removestops)
        if type(q) is wq.Term and fieldname in ALL_TEXT_FIELDS and isinstance(text, str):
            words = _TOKEN_RE.findall(text)
            if len(words) == 1:
                form = exact_form(words[0])
                if form is not None:
                    q.exact = form  # type: ignore[attr-defined]
        return q


def _make_parser(lang: str = GENERIC) -> qparser.QueryParser:
    fields = text_fields(lang)
    parser = _Parser(None, _schema(), group=qparser.AndGroup)  # as MultifieldParser does
    parser.add_plugin(qparser.MultifieldPlugin(list(fields), fieldboosts=fields))
    if lang != GENERIC:
        # `title:x` means this language's title field when reading the query in it.
        aliases = {field: [kind] for field, (kind, of) in ALL_TEXT_FIELDS.items() if of == lang}
        parser.add_plugin(qparser.FieldAliasPlugin(aliases))
    # A minus only negates at the start of a word: "cease-fire" is one phrase.
    parser.add_plugin(
        qparser.PlusMinusPlugin(plusexpr=r"(?<![^\s(])\+", minusexpr=r"(?<![^\s(])-")
    )
    parser.remove_plugin_class(qparser.BoostPlugin)
    return parser


_SCHEMA = None
_PARSERS: dict[str, qparser.QueryParser] = {}


def _schema():  # type: ignore[no-untyped-def]
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = build_schema()
    return _SCHEMA


def parser(lang: str = GENERIC) -> qparser.QueryParser:
    """Return the (cached) parser reading queries in `lang`'s fields."""
    if lang not in _PARSERS:
        _PARSERS[lang] = _make_parser(lang)
    return _PARSERS[lang]


def _check_cost(q: wq.Query) -> None:
    clauses = 0
    for sub in q.leaves():
        clauses += 1
        if isinstance(sub, (wq.Wildcard, wq.Prefix)):
            text = sub.text
            literal = re.split(r"[*?]", text, maxsplit=1)[0]
            if len(literal) < MIN_WILDCARD_PREFIX:
                raise QueryError(
                    f"Wildcards need at least {MIN_WILDCARD_PREFIX} letters before the "
                    f"`*` (got `{text}*`)." if isinstance(sub, wq.Prefix) else
                    f"Wildcards need at least {MIN_WILDCARD_PREFIX} letters before the "
                    f"`*` or `?` (got `{text}`).",
                    parameter="q",
                )
    if clauses > MAX_CLAUSES * len(TEXT_FIELDS):
        raise QueryError(
            f"The query has too many terms; use at most {MAX_CLAUSES}.", parameter="q"
        )


def _stem_prefixes(q: wq.Query) -> wq.Query:
    """Fold a prefix and shorten it to what stemming keeps, so it meets the indexed terms.

    The index holds stems ("negotiations" -> "negoti"), so `negotiat*` must look
    for `negoti*`: stemming strips up to a couple of letters before a suffix, so
    the prefix is cut to its own stem, and by at least two letters (never below
    the minimum wildcard prefix).
    """
    if isinstance(q, wq.Prefix):
        lang = ALL_TEXT_FIELDS.get(q.fieldname, ("", GENERIC))[1]
        folded = fold(q.text)
        cut = folded[: max(MIN_WILDCARD_PREFIX, len(folded) - 2)]
        stem = term_for(folded, lang) or folded
        text = stem if folded.startswith(stem) and len(stem) < len(cut) else cut
        return wq.Prefix(q.fieldname, text, boost=q.boost)
    if isinstance(q, wq.Wildcard):
        return wq.Wildcard(q.fieldname, fold(q.text), boost=q.boost)
    return q


def _needs_a_match(q: wq.Query) -> bool:
    """True when every document `q` matches holds one of its positive terms."""
    if isinstance(q, wq.Not):
        return False
    if isinstance(q, wq.AndNot | wq.AndMaybe):
        return _needs_a_match(q.a)
    if isinstance(q, wq.And):
        return any(_needs_a_match(c) for c in q.children())
    if isinstance(q, wq.Or):
        return all(_needs_a_match(c) for c in q.children())
    return not isinstance(q, wq.Every)


def _can_match(q: wq.Query, reader: IndexReader) -> bool:
    """False when `q` certainly matches nothing in `reader` (a required word is absent)."""
    if isinstance(q, wq.Term):
        return bool(reader.doc_frequency(q.fieldname, q.text))
    if isinstance(q, wq.Phrase):
        return all(reader.doc_frequency(q.fieldname, w) for w in q.words)
    if isinstance(q, wq.AndNot | wq.AndMaybe):
        return _can_match(q.a, reader)
    if isinstance(q, wq.And):
        return all(_can_match(c, reader) for c in q.children())
    if isinstance(q, wq.Or):
        return any(_can_match(c, reader) for c in q.children())
    return True


@lru_cache(maxsize=512)
def _readings(fixed: str, langs: tuple[str, ...]) -> tuple[wq.Query, ...]:
    """Return the query read in each language (cached: a page parses its query often)."""
    readings = []
    for lang in langs:
        one = parser(lang).parse(fixed)
        _check_cost(one)
        one = one.accept(_stem_prefixes)
        if one is wq.NullQuery:
            continue
        if len(langs) > 1 and not _needs_a_match(one):
            # "NOT x" must not match the articles of every other language.
            one = wq.And([one, wq.Term("analyzed_as", lang)])
        readings.append(one)
    return tuple(readings)


def parse(
    text: str, languages: Iterable[str] = (GENERIC,), reader: IndexReader | None = None
) -> ParsedQuery:
    """Parse a user's query in each of `languages`; an empty query means every document.

    With a `reader`, readings that cannot match there (a required word is in none of
    that language's articles) are left out: most queries then run in one language's
    fields, not in all of them.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"The query is too long ({len(text)} characters; at most {MAX_QUERY_CHARS}).",
            parameter="q",
        )
    if not text.strip():
        return ParsedQuery(wq.Every(), "")
    fixed = repair(text)
    if not fixed.strip():
        return ParsedQuery(wq.NullQuery, "", "The query has no words to search for.")
    readings = list(_readings(fixed, tuple(dict.fromkeys(languages)) or (GENERIC,)))
    if reader is not None and len(readings) > 1:
        # Keep one reading even when none can match: the query stays readable.
        readings = [r for r in readings if _can_match(r, reader)] or readings[:1]
    q = wq.NullQuery if not readings else readings[0] if len(readings) == 1 \
        else LanguageOr(readings)
    if q is wq.NullQuery:
        return ParsedQuery(q, fixed, "The query has only very common words; add a more specific one.")
    return ParsedQuery(q, fixed)


def query_languages(searcher: Searcher, lang: str | None = None) -> list[str]:
    """Return the languages to read a query in: the one asked for, or every one indexed.

    `lang` is a language code (`tr`, `de-AT`); English, Arabic and Russian all mean the
    shared fields. An unsupported code is a QueryError naming the `lang` parameter.
    """
    if lang:
        fields_lang = query_language(lang)
        if fields_lang is None:
            raise QueryError(
                f"lang must be one of {', '.join(sorted(SUPPORTED))}, not {lang[:20]!r}.",
                parameter="lang",
            )
        return [fields_lang]
    present = {t if isinstance(t, str) else t.decode("utf-8")
               for t in searcher.reader().field_terms("analyzed_as")} \
        if "analyzed_as" in searcher.schema else set()
    return [GENERIC, *sorted(present - {GENERIC})] if present - {GENERIC} else [GENERIC]


def parse_in(searcher: Searcher, text: str, lang: str | None = None) -> ParsedQuery:
    """Parse `text` for `searcher`'s index: in `lang`, or in every language it holds.

    Which languages an index holds is a walk over the `analyzed_as` terms of every
    segment: constant for a reader, so read once per reader (`docsets.FILTERS`).
    """
    reader = searcher.reader()
    key = ("languages", lang)
    langs = docsets.FILTERS.get(reader, key)
    if langs is None:
        langs = tuple(query_languages(searcher, lang))
        docsets.FILTERS.put(reader, key, langs)
    return parse(text, langs, reader)
