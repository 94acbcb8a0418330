"""What extraction refuses: a wholly unusable file, or one record of a file."""

from __future__ import annotations

from dataclasses import dataclass


class ExtractionError(Exception):
    """The input cannot become an article; `reason` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Skipped:
    """A file or record that could not become an Article, and why."""

    path: str
    reason: str
