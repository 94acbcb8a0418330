"""Word-level diff of two versions of a story (the story page)."""

from __future__ import annotations

from search.wordiff import DELETE, EQUAL, INSERT, changed_share, diff_words

FIRST = "LONDON (Reuters) - Shares rose on Monday,\nanalysts said.\n\nMore to follow."


def _side(ops: list[tuple[str, str]], keep: str) -> str:
    return "".join(t for op, t in ops if op in (EQUAL, keep))


def test_identical_texts_are_one_equal_run() -> None:
    assert diff_words(FIRST, FIRST) == [(EQUAL, FIRST)]


def test_changes_are_word_runs_and_other_is_rebuilt_exactly() -> None:
    other = "Shares rose sharply on Monday, analysts said.\n\nMore to follow."
    ops = diff_words(FIRST, other)
    assert ops[0] == (DELETE, "LONDON (Reuters) - ")
    assert (INSERT, "sharply ") in ops
    assert _side(ops, INSERT) == other
    assert _side(ops, DELETE).split() == FIRST.split()


def test_rewrapping_is_not_a_change() -> None:
    rewrapped = FIRST.replace(",\n", ", ").replace(" on ", "\non ")
    ops = diff_words(FIRST, rewrapped)
    assert [op for op, _ in ops] == [EQUAL]
    assert _side(ops, INSERT) == rewrapped


def test_changed_share_and_edges() -> None:
    assert changed_share(diff_words(FIRST, FIRST)) == 0.0
    assert diff_words("", "") == []
    assert diff_words("", "new text") == [(INSERT, "new text")]
    assert diff_words("old text", "") == [(DELETE, "old text")]
    assert changed_share(diff_words("a b c d", "a b c d e")) == 0.2


def test_arabic_and_markup_are_kept_as_text() -> None:
    ops = diff_words("قال الوزير <b>اليوم</b>", "أكد الوزير <b>اليوم</b>")
    assert ops == [(DELETE, "قال "), (INSERT, "أكد "), (EQUAL, "الوزير <b>اليوم</b>")]
