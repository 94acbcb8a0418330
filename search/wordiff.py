"""Word-level differences between two versions of a story, for the story page.

`diff_words(first, other)` compares the words of two texts (difflib over word
tokens, case and line breaks included) and returns runs of the other text's
words labelled "equal" or "insert", with the first text's removed words as
"delete" runs in between. Whitespace is kept with the word before it, so
joining the texts of the equal and insert runs gives back `other` exactly
(line breaks included), and the equal and delete runs hold `first`'s words in
order. Pure: no HTML; the page escapes.
"""

from __future__ import annotations

import difflib
import re

EQUAL, INSERT, DELETE = "equal", "insert", "delete"

# A word and the whitespace after it; leading whitespace is its own token.
_TOKEN = re.compile(r"\S+\s*|\s+")

# Beyond this many tokens per side, compare line by line first (difflib is quadratic).
MAX_TOKENS = 20_000


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def diff_words(first: str, other: str) -> list[tuple[str, str]]:
    """Return [(op, text)] turning `first` into `other`: "equal", "delete" or "insert".

    Words compare by their text without the whitespace after them, so a re-wrapped
    line is not a change; the text of an "equal" run is `other`'s (its spacing).
    """
    a, b = _tokens(first), _tokens(other)
    if len(a) > MAX_TOKENS or len(b) > MAX_TOKENS:
        return _coarse(first, other)
    ka, kb = [t.strip() for t in a], [t.strip() for t in b]
    out: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, ka, kb, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            _emit(out, EQUAL, "".join(b[j1:j2]))
        else:
            if i2 > i1:
                _emit(out, DELETE, "".join(a[i1:i2]))
            if j2 > j1:
                _emit(out, INSERT, "".join(b[j1:j2]))
    return out


def _emit(out: list[tuple[str, str]], op: str, text: str) -> None:
    if not text:
        return
    if out and out[-1][0] == op:
        out[-1] = (op, out[-1][1] + text)
    else:
        out.append((op, text))


def _coarse(first: str, other: str) -> list[tuple[str, str]]:
    """Diff very long texts by lines, so a pathological page stays fast."""
    a, b = first.splitlines(keepends=True), other.splitlines(keepends=True)
    out: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            _emit(out, EQUAL, "".join(b[j1:j2]))
        else:
            _emit(out, DELETE, "".join(a[i1:i2]))
            _emit(out, INSERT, "".join(b[j1:j2]))
    return out


def changed_share(ops: list[tuple[str, str]]) -> float:
    """Return the share of the other version's words that are not in the first."""
    inserted = sum(len(t.split()) for op, t in ops if op == INSERT)
    total = sum(len(t.split()) for op, t in ops if op != DELETE)
    return inserted / total if total else 0.0
