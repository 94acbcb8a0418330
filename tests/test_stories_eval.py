"""The story clustering quality gate on real news (../shared/data), and real-text thresholds."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from indexer.story_eval import fingerprints, score
from indexer.story_pairs import EvalSet, build_eval_set, exact_overlap
from indexer.wire_edits import make_version, paragraphs, trim
from search.fingerprint import fingerprint, overlap
from search.stories import DEFAULT_PARAMS


@pytest.fixture(scope="module")
def eval_set(shared_data: Path) -> EvalSet:
    # A quick draw: 60 articles with reprints, the hand-judged pairs, 80 distinct pairs.
    return build_eval_set(shared_data, seed=3, originals=60, negatives=80, pool=600)


def test_quality_gate(eval_set: EvalSet) -> None:
    s = score(eval_set, fingerprints(eval_set), DEFAULT_PARAMS)
    report = s.to_dict()
    assert s.precision >= 0.98, report
    assert s.recall >= 0.90, report
    # Distinct stories on one topic are never merged, and no reprint strays.
    assert s.counts["same-topic-day"][1] == 0, report
    assert s.counts["rare-words"][1] == 0, report
    assert s.stray == 0, report


def test_estimates_track_exact_overlap_and_most_versions_stay_linked(eval_set: EvalSet) -> None:
    rng = random.Random(5)
    originals = sorted(
        (d for d in eval_set.docs.values() if not d.origin and len(d.body.split()) > 120),
        key=lambda d: d.id,
    )
    linked = 0
    for doc in rng.sample(originals, 20):
        v = make_version(doc.title, doc.body, doc.language or "en", rng)
        estimate = overlap(fingerprint(doc.body), fingerprint(v.body))
        assert abs(estimate - exact_overlap(doc.body, v.body)) < 0.15, (doc.id, v.edits)
        linked += estimate >= DEFAULT_PARAMS.threshold
    assert linked >= 17


def test_trim_keeps_the_lead_and_most_words(eval_set: EvalSet) -> None:
    rng = random.Random(9)
    for doc in sorted(eval_set.docs.values(), key=lambda d: d.id)[:50]:
        if doc.origin or len(paragraphs(doc.body)) < 2:
            continue
        cut = trim(doc.body, rng)
        assert " ".join(paragraphs(doc.body)[0].split()) in " ".join(cut.split())
        assert len(cut.split()) >= 0.4 * len(doc.body.split()) or len(paragraphs(cut)) == 1
