"""Relevance: BM25F per field and language, a proximity bonus, an optional recency boost.

The numbers here were tuned with the known-item evaluation (`python -m quality`, see
quality/README.md) on English and Arabic news; change them only with that evaluation.

- Each full-text field is scored with BM25 (Whoosh's per-field BM25F) and its weight in
  `search.schema.TEXT_FIELDS`. A field's average length is taken over the articles whose
  text is in that language's fields, not over the whole index: German articles' `body_de`
  is not "long" just because most articles have no German body.
- A word's exact form (as typed, only folded; only forms that stemming changes, see
  `analysis.exact_form`) in the title or body adds `Ranking.exact` times that field's
  weight to the word's BM25F sum, where the word's stem already matched: of two articles
  with `negotiations`/`negotiating`, the one with the query's form ranks first, while the
  stem still decides what matches.
- A query of several plain words gets a bonus for articles whose title has them
  (nearly) together, the way people remember a headline.
- `recency` multiplies a score by a factor that halves its distance to `RECENCY_FLOOR`
  every `half_life_days` before the newest article: "newest relevant" ordering.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from whoosh import query as wq
from whoosh import scoring
from whoosh.collectors import WrappingCollector
from whoosh.matching import (
    AndMaybeMatcher,
    NullMatcher,
    ReadTooFar,
    UnionMatcher,
    WrappingMatcher,
)
from whoosh.scoring import WeightLengthScorer, WeightScorer
from whoosh.searching import Results, Searcher
from whoosh.util import make_binary_tree

from search import limits
from search.languages import GENERIC
from search.query import LanguageOr, exact_of
from search.schema import ALL_TEXT_FIELDS, EXACT_FIELDS, text_field

# Exact-form field -> the kind of text it holds (its `b`).
EXACT_KINDS = {field: kind for kind, field in EXACT_FIELDS.items()}

RECENCY_FLOOR = 0.5


@dataclass(frozen=True)
class Ranking:
    """The free parameters of relevance ranking."""

    k1: float = 1.6
    title_b: float = 0.3
    summary_b: float = 0.75
    body_b: float = 0.9
    proximity: float = 0.2  # weight of the words-close-together bonus (0: off)
    slop: int = 1
    # Fields the bonus looks at: in bodies it cost MRR (a name and a topic word are
    # rarely adjacent), in titles it finds remembered headlines.
    proximity_kinds: tuple[str, ...] = ("title",)
    half_life_days: float | None = None  # recency boost (None: off)
    # IDF: "whoosh" (log(N/(df+1)) + 1 from the field's own df), "bm25" (Robertson /
    # Sparck Jones, log(1 + (N - df + .5) / (df + .5))) from the field's own df, or
    # "bm25-doc": the same from the word's df in the language's fields taken together
    # (its largest df among title, summary and body), as BM25F defines it.
    idf: str = "whoosh"
    # Score a word found in several fields as BM25F does (Robertson et al., 2004): sum its
    # weighted, length-normalised frequencies over the fields, then saturate once with
    # k1, instead of adding one saturated BM25 score per field (Whoosh's way).
    bm25f: bool = True
    # Weight of a word's exact form (`search.schema.EXACT_FIELDS`), as a share of the
    # weight of the field it is in (0: off). BM25F only. Tuned on query seed 1 (quality/
    # RESULTS.md): 1 / 2 / 3 / 4 raise `words` MRR@10 by .011 / .023 / .029 / .031 over
    # 0, `entity` within .002; 3 is where the gain levels off.
    exact: float = 3.0
    exact_kinds: tuple[str, ...] = ("title", "body")

    def b(self, kind: str) -> float:
        return float(getattr(self, f"{kind}_b", 0.75))


DEFAULT = Ranking()
# Whoosh's own BM25F with its defaults and the weights 3 / 1.5 / 1: the ranking before tuning.
UNTUNED = Ranking(k1=1.2, title_b=0.75, summary_b=0.75, body_b=0.75, bm25f=False,
                  proximity=0.0)
UNTUNED_WEIGHTS = {"title": 3.0, "summary": 1.5, "body": 1.0}


def _idf(top: Any, fieldname: str, text: str, mode: str, docs: int) -> float:
    if mode == "whoosh":
        return float(top.idf(fieldname, text))
    df = top.doc_frequency(fieldname, text)
    if mode == "bm25-doc" and fieldname in ALL_TEXT_FIELDS:
        lang = ALL_TEXT_FIELDS[fieldname][1]
        df = max(top.doc_frequency(text_field(kind, lang), text)
                 for kind in ("title", "summary", "body"))
    n = docs or top.doc_count_all()
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


class _Scorer(WeightLengthScorer):
    def __init__(self, searcher: Any, fieldname: str, text: str, B: float, K1: float,
                 avgfl: float, idf: float) -> None:
        self.idf = idf
        self.avgfl = avgfl
        self.B = B
        self.K1 = K1
        self.setup(searcher, fieldname, text)

    def _score(self, weight: float, length: int) -> float:
        return scoring.bm25(self.idf, weight, length, self.avgfl, self.B, self.K1)


class LanguageBM25F(scoring.WeightingModel):
    """BM25F with per-kind B and per-language average field lengths (module docstring)."""

    def __init__(self, ranking: Ranking = DEFAULT) -> None:
        self.ranking = ranking
        self.use_final = ranking.half_life_days is not None

    def supports_block_quality(self) -> bool:
        return True

    def scorer(self, searcher: Any, fieldname: str, text: str, qf: int = 1) -> Any:
        limits.checkpoint()  # once per term matcher: an expanded prefix may build thousands
        if not searcher.schema[fieldname].scorable:
            return WeightScorer.for_(searcher, fieldname, text)
        kind, lang = ALL_TEXT_FIELDS.get(fieldname, (fieldname, GENERIC))
        top = searcher.get_parent()
        docs = top.doc_frequency("analyzed_as", lang) if fieldname in ALL_TEXT_FIELDS else 0
        avgfl = top.field_length(fieldname) / docs if docs else top.avg_field_length(fieldname)
        idf = _idf(top, fieldname, text, self.ranking.idf, docs)
        return _Scorer(searcher, fieldname, text, self.ranking.b(kind), self.ranking.k1,
                       avgfl or 1.0, idf)

    def final(self, searcher: Any, docnum: int, score: float) -> float:
        column, newest = self._dates(searcher)
        ts = column[docnum]
        if not ts:
            return score * RECENCY_FLOOR
        age_days = max(0.0, (newest - ts) / 86400)
        half_life = self.ranking.half_life_days or 1.0
        return score * (RECENCY_FLOOR + (1 - RECENCY_FLOOR) * math.pow(0.5, age_days / half_life))

    @staticmethod
    def _dates(searcher: Any) -> tuple[Any, float]:
        """Return the publication-time column and its newest value, kept on the searcher."""
        cached = getattr(searcher, "_dateline_dates", None)
        if cached is None:
            column = searcher.reader().column_reader("pub_ts")
            cached = (column, float(max(column, default=0)))
            searcher._dateline_dates = cached
        return cached


class _TfScorer(WeightLengthScorer):
    """A term's frequency in a field, length-normalised (BM25F's per-field part)."""

    def __init__(self, searcher: Any, fieldname: str, text: str, B: float, avgfl: float
                 ) -> None:
        self.B = B
        self.avgfl = avgfl
        self.setup(searcher, fieldname, text)

    def _score(self, weight: float, length: int) -> float:
        return weight / (1 - self.B + self.B * length / self.avgfl)


class _PseudoFrequency(LanguageBM25F):
    """Scores each field's posting with `_TfScorer`; `WordGroup` saturates their sum."""

    def scorer(self, searcher: Any, fieldname: str, text: str, qf: int = 1) -> Any:
        limits.checkpoint()
        if not searcher.schema[fieldname].scorable:
            return WeightScorer.for_(searcher, fieldname, text)
        kind = EXACT_KINDS.get(fieldname) or ALL_TEXT_FIELDS.get(fieldname, (fieldname, ""))[0]
        return _TfScorer(searcher, fieldname, text, self.ranking.b(kind),
                         _avg_length(searcher.get_parent(), fieldname))


def _avg_length(top: Any, fieldname: str) -> float:
    lang = ALL_TEXT_FIELDS.get(fieldname, ("", GENERIC))[1]
    docs = top.doc_frequency("analyzed_as", lang) if fieldname in ALL_TEXT_FIELDS else 0
    avgfl = top.field_length(fieldname) / docs if docs else top.avg_field_length(fieldname)
    return float(avgfl or 1.0)


class _Saturated(WrappingMatcher):
    """idf * s (k1 + 1) / (k1 + s) of the summed pseudo-frequencies s of its child."""

    def __init__(self, child: Any, idf: float, k1: float) -> None:
        super().__init__(child)
        self.idf = idf
        self.k1 = k1

    def _replacement(self, newchild: Any) -> _Saturated:
        return _Saturated(newchild, self.idf, self.k1)

    def copy(self) -> _Saturated:
        return _Saturated(self.child.copy(), self.idf, self.k1)

    def supports_block_quality(self) -> bool:
        return False

    def max_quality(self) -> float:
        return self.idf * (self.k1 + 1)

    def score(self) -> float:
        s = self.child.score()
        return self.idf * s * (self.k1 + 1) / (self.k1 + s)


class _Optional(AndMaybeMatcher):
    """`AndMaybeMatcher` whose `skip_to` keeps `b` on `a`'s document.

    Whoosh's skips `b` to the id asked for, not to where `a` landed, so inside an
    intersection `b` could lag behind `a` and its score be lost.
    """

    def skip_to(self, id: int) -> bool:  # type: ignore[override]  # Whoosh's returns bool too
        a, b = self.a, self.b
        if not a.is_active():
            raise ReadTooFar
        ra = a.skip_to(id)
        rb = False
        if a.is_active() and b.is_active():
            rb = b.skip_to(a.id())
        return bool(ra or rb)


class WordGroup(wq.Or):
    """One word searched in one language's fields, scored as BM25F (see `Ranking.bm25f`).

    `exact` holds the word's exact-form terms (`Ranking.exact`): they add to the sum
    only in documents the stemmed terms match, so they never change what matches.
    """

    def __init__(self, subqueries: Sequence[wq.Query], ranking: Ranking,
                 exact: Sequence[wq.Term] = ()) -> None:
        super().__init__(list(subqueries))
        self.ranking = ranking
        self.exact = tuple(exact)

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        context = context or searcher.context()
        if context.weighting is None:  # matching only: no scores needed
            return super().matcher(searcher, context)
        sub = context.set(weighting=_pseudo(self.ranking))
        ms = [q.matcher(searcher, sub) for q in self.subqueries]
        ms = [m for m in ms if m.is_active()]
        if not ms:
            return NullMatcher()
        matcher = make_binary_tree(UnionMatcher, ms)
        exact = [q.matcher(searcher, sub) for q in self.exact
                 if q.fieldname in searcher.schema]  # an index from before the fields
        exact = [m for m in exact if m.is_active()]
        if exact:
            matcher = _Optional(matcher, make_binary_tree(UnionMatcher, exact))
        top = searcher.get_parent()
        terms = [q for q in self.subqueries if isinstance(q, wq.Term)]
        lang = ALL_TEXT_FIELDS[terms[0].fieldname][1]
        df = max(top.doc_frequency(q.fieldname, q.text) for q in terms)
        n = top.doc_frequency("analyzed_as", lang) or top.doc_count_all()
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return _Saturated(matcher, idf, self.ranking.k1)


def _pseudo(ranking: Ranking) -> _PseudoFrequency:
    if ranking not in _PSEUDO:
        _PSEUDO[ranking] = _PseudoFrequency(ranking)
    return _PSEUDO[ranking]


def _exact_terms(children: Sequence[wq.Term], ranking: Ranking) -> list[wq.Term]:
    """Return the exact-form terms of one word's group, each weighted `ranking.exact`
    times its kind's term (so field weights set by the query, or by tuning, carry over)."""
    form = exact_of(children[0])
    if ranking.exact <= 0 or form is None:
        return []
    out = []
    for c in children:
        kind = ALL_TEXT_FIELDS[c.fieldname][0]
        field = EXACT_FIELDS.get(kind)
        if field is not None and kind in ranking.exact_kinds and exact_of(c) == form:
            out.append(wq.Term(field, form, boost=c.boost * ranking.exact))
    return out


def as_bm25f(q: wq.Query, ranking: Ranking = DEFAULT) -> wq.Query:
    """Replace each word-in-every-field group of `q` by a `WordGroup`."""

    def fix(node: wq.Query) -> wq.Query:
        kids = list(node.children()) if type(node) is wq.Or else []
        children = [c for c in kids if isinstance(c, wq.Term)]
        if children and len(children) == len(kids) and all(
            c.fieldname in ALL_TEXT_FIELDS for c in children
        ):
            langs = {ALL_TEXT_FIELDS[c.fieldname][1] for c in children}
            if len(langs) == 1 and len({c.text for c in children}) == 1:
                return WordGroup(children, ranking, _exact_terms(children, ranking))
        return node

    return q.accept(fix)


_PSEUDO: dict[Ranking, _PseudoFrequency] = {}
_WEIGHTINGS: dict[Ranking, LanguageBM25F] = {}


def weighting(ranking: Ranking = DEFAULT) -> LanguageBM25F:
    """Return the (shared) weighting model for a set of parameters."""
    if ranking not in _WEIGHTINGS:
        _WEIGHTINGS[ranking] = LanguageBM25F(ranking)
    return _WEIGHTINGS[ranking]


def ranked_searcher(searcher: Searcher, ranking: Ranking = DEFAULT) -> Searcher:
    """Return a searcher over the same reader that scores with `ranking`.

    Whoosh takes the final-score hook from the searcher, not the search, so ranking
    needs its own searcher; it shares the reader (no files are opened) and is kept
    on the pooled searcher, so it and its IDF cache live exactly as long as that one.
    """
    per_searcher: dict[Ranking, Searcher] | None = getattr(searcher, "_dateline_ranked", None)
    if per_searcher is None:
        per_searcher = {}
        searcher._dateline_ranked = per_searcher  # type: ignore[attr-defined]
    ranked = per_searcher.get(ranking)
    if ranked is None:
        ranked = per_searcher[ranking] = Searcher(
            searcher.reader(), weighting=weighting(ranking), closereader=False
        )
    return ranked


def _plain_words(q: wq.Query) -> tuple[str, list[str]] | None:
    """Return (language, stems) when `q` is an AND of single words read in one language."""
    if not isinstance(q, wq.And):
        return None
    lang = None
    stems = []
    for child in q.children():
        kids = list(child.children()) if isinstance(child, wq.Or) else []
        terms = [t for t in kids if isinstance(t, wq.Term)]
        if not terms or len(terms) != len(kids) or not all(
            t.fieldname in ALL_TEXT_FIELDS for t in terms
        ):
            return None
        body = [t for t in terms if ALL_TEXT_FIELDS[t.fieldname][0] == "body"]
        if len(body) != 1:
            return None
        field_lang = ALL_TEXT_FIELDS[body[0].fieldname][1]
        if lang not in (None, field_lang):
            return None
        lang = field_lang
        stems.append(str(body[0].text))
    if lang is None or len(stems) < 2:
        return None
    return lang, stems


def with_proximity(q: wq.Query, ranking: Ranking = DEFAULT) -> wq.Query:
    """Add the words-close-together bonus to each language's reading of a plain query."""
    if ranking.proximity <= 0:
        return q
    if isinstance(q, LanguageOr):
        return LanguageOr([with_proximity(c, ranking) for c in q.children()])
    found = _plain_words(q)
    if found is None:
        return q
    lang, stems = found
    near = wq.Or([
        wq.Phrase(text_field(kind, lang), stems, slop=ranking.slop, boost=ranking.proximity)
        for kind in ranking.proximity_kinds
    ])
    return wq.AndMaybe(q, near)


class _Deadline(WrappingCollector):
    """Passes `limits.checkpoint` every CHECK_EVERY matches, so scoring stops at the deadline.

    A match of a query with thousands of terms (a lifted expansion cap) can take a
    millisecond to score, so the check is frequent; it costs well under a microsecond.
    """

    CHECK_EVERY = 16

    def collect_matches(self) -> None:
        child, check = self.child, self.CHECK_EVERY
        collect = child.collect
        for i, sub_docnum in enumerate(child.matches()):
            if not i % check:
                limits.checkpoint()
            collect(sub_docnum)


def search(searcher: Searcher, q: wq.Query, ranking: Ranking = DEFAULT,
           **kwargs: Any) -> Results:
    """Run `searcher.search(q, **kwargs)` ranked by `ranking`, within the search deadline."""
    q = with_proximity(q, ranking)
    if ranking.bm25f:
        q = as_bm25f(q, ranking)
    ranked = ranked_searcher(searcher, ranking)
    collector = _Deadline(ranked.collector(**kwargs))
    ranked.search_with_collector(q, collector)
    return collector.results()
