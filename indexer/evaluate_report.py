"""The evaluate command's report: ours beside the reference, and the targets we hold to.

Targets (issue #3): body F1 at least the reference's on aeb, readability and fundus-dev,
and at least 0.90 on aeb; publication-date accuracy at least the reference's on
htmldate-dev and fundus-dev; title match at least 90% on readability and fundus-dev (near
match: the sets' truths disagree on site-name tails and on SEO vs displayed headlines, so
exact match is reported beside it); text-dump body F1 at least 0.85; our extraction time
at most 1.5 times the reference's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from indexer.evaluate import SetResult

HIGH_F1 = 0.9
LOW_F1 = 0.5
# Our time may be at most this many times the reference's.
MAX_TIME_RATIO = 1.5
REFERENCE_NAME = "trafilatura"
_LABEL = 40


# --- targets --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One quality goal: a measure of a set at least a floor, or at least the reference's."""

    set_name: str
    measure: str  # a Scores field, or "time" for our time vs the reference's
    floor: float | None = None  # None: at least the reference

    def check(self, result: SetResult) -> tuple[str, bool | None]:
        """Return a description and whether the target is met (None: cannot tell)."""
        if self.measure == "time":
            text = f"{self.set_name}: our time <= {MAX_TIME_RATIO}x the reference's"
            if result.reference is None or result.reference.seconds <= 0:
                return text, None
            ratio = result.ours.seconds / result.reference.seconds
            return f"{text} ({ratio:.2f}x)", ratio <= MAX_TIME_RATIO
        ours = getattr(result.ours, self.measure)
        if self.floor is not None:
            text = f"{self.set_name}: {self.measure} >= {self.floor:.2f} ({_fmt(ours)})"
            return text, None if ours is None else ours >= self.floor
        theirs = getattr(result.reference, self.measure) if result.reference else None
        text = f"{self.set_name}: {self.measure} >= reference ({_fmt(ours)} vs {_fmt(theirs)})"
        if ours is None or theirs is None:
            return text, None
        return text, ours >= theirs - 1e-9


TARGETS = (
    Target("extraction/aeb", "body_f1"),
    Target("extraction/aeb", "body_f1", 0.90),
    Target("extraction/readability", "body_f1"),
    Target("extraction/fundus-dev", "body_f1"),
    Target("extraction/htmldate-dev", "date"),
    Target("extraction/fundus-dev", "date"),
    Target("extraction/readability", "title_near", 0.90),
    Target("extraction/fundus-dev", "title_near", 0.90),
    Target("textdumps/aeb", "body_f1", 0.85),
    *(
        Target(name, "time")
        for name in (
            "extraction/aeb",
            "extraction/readability",
            "extraction/fundus-dev",
            "extraction/htmldate-dev",
        )
    ),
)


def check_targets(results: Iterable[SetResult]) -> list[tuple[str, bool | None]]:
    """Check every target whose set was evaluated."""
    by_name = {result.name: result for result in results}
    return [t.check(by_name[t.set_name]) for t in TARGETS if t.set_name in by_name]


# --- the report -----------------------------------------------------------------------

_ROWS = (
    ("body precision", "body_precision", False),
    ("body recall", "body_recall", False),
    ("body F1", "body_f1", False),
    (f"pages F1 >= {HIGH_F1}", "body_high", True),
    (f"pages F1 <= {LOW_F1}", "body_low", True),
    ("title exact", "title_exact", True),
    ("title near", "title_near", True),
    ("date (same day)", "date", True),
    ("author", "author", True),
    ("source", "source", True),
    ("language", "language", True),
)


def _fmt(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if percent else f"{value:.3f}"


def format_result(result: SetResult) -> str:
    """Return one set's scores as a text table, ours beside the reference."""
    head = f"{result.name} ({result.pages} pages)"
    lines = [f"{head:<{_LABEL}}{'ours':>12}{REFERENCE_NAME:>14}"]
    for label, key, percent in _ROWS:
        ours = getattr(result.ours, key)
        if ours is None:
            continue
        theirs = getattr(result.reference, key) if result.reference else None
        theirs_text = _fmt(theirs, percent) if result.reference else "n/a"
        lines.append(f"  {label:<{_LABEL - 2}}{_fmt(ours, percent):>12}{theirs_text:>14}")
    speed = f"{result.reference.pages_per_s:.1f}" if result.reference else "n/a"
    lines.append(f"  {'pages/s':<{_LABEL - 2}}{result.ours.pages_per_s:>12.1f}{speed:>14}")
    if result.ours.failed or (result.reference and result.reference.failed):
        failed = str(result.reference.failed) if result.reference else "n/a"
        lines.append(f"  {'pages refused':<{_LABEL - 2}}{result.ours.failed:>12}{failed:>14}")
    return "\n".join(lines)


def format_targets(checks: Sequence[tuple[str, bool | None]]) -> str:
    """Return the target checklist."""
    marks = {True: "ok  ", False: "MISS", None: "?   "}
    return "\n".join(["targets:", *(f"  [{marks[ok]}] {text}" for text, ok in checks)])
