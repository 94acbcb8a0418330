"""Per-search work budgets: how far a prefix may expand, and a deadline.

search/query.py already refuses what is expensive on its face (too long, too many
clauses, a wildcard with fewer than MIN_WILDCARD_PREFIX letters). What it cannot
see without the index is how many terms a prefix such as `con*` expands to; that
is checked here against the reader, reading at most `max_expansions + 1` terms.

The deadline is cooperative: `checkpoint()` is called between the stages of a
search and inside their long loops (every few thousand postings read, every 32
terms of an expansion, every term matcher built and every 16 matches scored,
each highlighted hit, each did-you-mean candidate), so a search stops soon
after the deadline even inside a stage. Measured on a 3,000-article index with
the expansion cap lifted (`con*` -> 6,000 terms) on the loaded 2-core machine:
the 503 came a median 4-6 ms (at most ~110 ms) after the deadline, against a
median 0.6-0.9 s (at most 10 s) when it was checked only between stages. The
budgets above still keep every stage short.

The web layer starts a budget per request from app config (MAX_EXPANSIONS,
SEARCH_DEADLINE_S); library callers get the default caps and no deadline unless
they use `with budget(...)`.
"""

from __future__ import annotations

import contextvars
import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from whoosh import query as wq
from whoosh.reading import IndexReader

from search.errors import QueryError, SearchError

MAX_EXPANSIONS = 200
DEADLINE_S = 5.0


class SearchTimeout(SearchError):
    """The search ran past its deadline."""

    status = 503
    code = "search_timeout"


@dataclass(frozen=True)
class Budget:
    max_expansions: int = MAX_EXPANSIONS
    deadline_s: float | None = DEADLINE_S
    started: float = 0.0  # time.monotonic() when the budget began


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("budget", default=None)


_UNTIMED = Budget(deadline_s=None)


def current() -> Budget:
    """Return this context's budget; without one, default caps and no deadline."""
    return _current.get() or _UNTIMED


@contextmanager
def budget(
    max_expansions: int = MAX_EXPANSIONS, deadline_s: float | None = DEADLINE_S
) -> Iterator[Budget]:
    """Run the block under these budgets; the deadline starts now."""
    b = Budget(max_expansions, deadline_s, time.monotonic())
    token = _current.set(b)
    try:
        yield b
    finally:
        _current.reset(token)


def start(
    max_expansions: int = MAX_EXPANSIONS, deadline_s: float | None = DEADLINE_S
) -> contextvars.Token[Budget | None]:
    """Begin a budget for this context (one web request); pass the token to `end`."""
    return _current.set(Budget(max_expansions, deadline_s, time.monotonic()))


def end(token: contextvars.Token[Budget | None]) -> None:
    """End the budget `start` began, so it cannot leak into later work on this thread."""
    try:
        _current.reset(token)
    except ValueError:  # set in another context; nothing of ours to undo here
        pass


def checkpoint() -> None:
    """Raise SearchTimeout when the current budget's deadline has passed."""
    b = current()
    if b.deadline_s is not None and time.monotonic() - b.started > b.deadline_s:
        raise SearchTimeout(
            f"The search took too long (over {b.deadline_s:g} s); narrow it with more "
            "words, a longer prefix or a filter.",
            parameter="q",
        )


def check_expansions(q: wq.Query, reader: IndexReader) -> None:
    """Refuse a query whose prefixes or wildcards match too many index terms."""
    limit = current().max_expansions
    for leaf in q.leaves():
        if not isinstance(leaf, (wq.Prefix, wq.Wildcard, wq.FuzzyTerm)):
            continue
        n = 0
        for _ in itertools.islice(leaf._btexts(reader), limit + 1):
            n += 1
            if not n % 256:  # a lifted cap may mean reading many terms
                checkpoint()
        if n > limit:
            shown = f"{leaf.text}*" if isinstance(leaf, wq.Prefix) else leaf.text
            raise QueryError(
                f"`{shown}` matches more than {limit} different words; use a longer prefix.",
                parameter="q",
            )
