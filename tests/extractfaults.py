"""Extraction functions that fail on purpose, for the page-extraction pool's tests.

Module-level (not in a test file) so a spawned pool process can import them by name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from indexer import extractpool
from indexer.extractpool import Extracted
from search.models import Article


def _boom(_src: object) -> Iterator[Article]:
    raise ZeroDivisionError("a bug in an extractor")
    yield  # a generator, as extraction is


def crash_on_marker(path: str) -> Extracted:
    """`extract_file`, except that the extractor raises on files named *crash*."""
    if "crash" in os.path.basename(path):
        real = extractpool.source_items
        extractpool.source_items = _boom  # type: ignore[assignment]
        try:
            return extractpool.extract_file(path)
        finally:
            extractpool.source_items = real  # type: ignore[assignment]
    return extractpool.extract_file(path)


def die_on_marker(path: str) -> Extracted:
    """`extract_file`, except that the process dies on files named *die*."""
    if "die" in os.path.basename(path):
        os._exit(3)
    return extractpool.extract_file(path)
