"""User query text -> Whoosh query, forgiving of typos but bounded in cost.

The language: words (all must match), "quoted phrases", OR, AND, NOT or a
leading `-`, `field:` prefixes (title, summary, body, source, section, author,
language), parentheses and trailing-`*` prefixes. Broken syntax (a stray quote,
an unclosed parenthesis, a lone operator) is repaired rather than rejected; only
input that would be expensive or meaningless is refused with a QueryError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from whoosh import qparser
from whoosh import query as wq

from search.analysis import fold, term_for
from search.errors import QueryError
from search.schema import FIELD_ALIASES, TEXT_FIELDS, build_schema

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


def _make_parser() -> qparser.QueryParser:
    schema = build_schema()
    parser = qparser.MultifieldParser(
        list(TEXT_FIELDS), schema, fieldboosts=TEXT_FIELDS, group=qparser.AndGroup
    )
    # A minus only negates at the start of a word: "cease-fire" is one phrase.
    parser.add_plugin(
        qparser.PlusMinusPlugin(plusexpr=r"(?<![^\s(])\+", minusexpr=r"(?<![^\s(])-")
    )
    parser.remove_plugin_class(qparser.BoostPlugin)
    return parser


_PARSER: qparser.QueryParser | None = None


def parser() -> qparser.QueryParser:
    global _PARSER
    if _PARSER is None:
        _PARSER = _make_parser()
    return _PARSER


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
        folded = fold(q.text)
        cut = folded[: max(MIN_WILDCARD_PREFIX, len(folded) - 2)]
        stem = term_for(folded) or folded
        text = stem if folded.startswith(stem) and len(stem) < len(cut) else cut
        return wq.Prefix(q.fieldname, text, boost=q.boost)
    if isinstance(q, wq.Wildcard):
        return wq.Wildcard(q.fieldname, fold(q.text), boost=q.boost)
    return q


def parse(text: str) -> ParsedQuery:
    """Parse a user's query; an empty query means every document."""
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
    q = parser().parse(fixed)
    _check_cost(q)
    q = q.accept(_stem_prefixes)
    if q is wq.NullQuery:
        return ParsedQuery(q, fixed, "The query has only very common words; add a more specific one.")
    return ParsedQuery(q, fixed)
