"""Per-request searcher on `g`, borrowed from the app's pool and returned on teardown."""

from __future__ import annotations

from contextlib import ExitStack

from flask import Flask, current_app, g
from whoosh.searching import Searcher

from search import storymap
from search.index import Generation, SearcherPool


def pool() -> SearcherPool:
    return current_app.extensions["dateline_pool"]  # type: ignore[no-any-return]


def searcher() -> Searcher:
    """Return this request's searcher (raises IndexUnavailable when there is no index)."""
    if "searcher" not in g:
        stack = ExitStack()
        s, gen = stack.enter_context(pool().searcher())
        g.searcher_stack, g.searcher, g.generation = stack, s, gen
    return g.searcher  # type: ignore[no-any-return]


def generation() -> Generation:
    searcher()
    return g.generation  # type: ignore[no-any-return]


def story_map() -> storymap.StoryMap | None:
    """Return the served generation's story map (None when it has none)."""
    return storymap.load(generation().path)


def _release(exc: BaseException | None) -> None:
    stack = g.pop("searcher_stack", None)
    if stack is not None:
        stack.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_release)
