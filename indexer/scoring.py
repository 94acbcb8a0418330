"""How close an extracted field is to the truth: the measures `indexer.evaluate` reports.

The same functions score our extractor, the reference extractor and the golden-file tests,
so a number in the README, in `python -m indexer evaluate` and in a test failure means the
same thing:

- body: bag-of-words precision / recall / F1 over lowercased `\\w+` tokens, per page.
- title: exact (case and whitespace ignored) or near (token F1 >= NEAR_TITLE_F1).
- date: the same calendar day as the truth's first ten characters (YYYY-MM-DD), read in
  the page's own time zone, as the page printed it.
- authors: the same set of name words, "By" and separators ignored ("By Jane Roe, John
  Doe" matches "Jane Roe; John Doe").
- source: the outlet names squashed to letters and digits (accents folded, a domain's
  ending dropped), equal or one inside the other ("DER STANDARD" matches "DerStandard",
  "Börsen-Zeitung" matches "BoersenZeitung", "DW.COM" matches "DW").
- language: the same primary subtag ("en-US" matches "en").
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

NEAR_TITLE_F1 = 0.8
_WORD = re.compile(r"\w+")
# Words that join or introduce names, not names themselves.
_NAME_GLUE = frozenset("by and und et y e og ve von par por with written".split())


def word_tokens(text: str | None) -> Counter[str]:
    """Return the lowercased word tokens of `text` with their counts (a bag of words)."""
    return Counter(_WORD.findall((text or "").lower()))


def precision_recall_f1(found: str | None, wanted: str | None) -> tuple[float, float, float]:
    """Return bag-of-words precision, recall and F1 of `found` against `wanted`."""
    ours, truth = word_tokens(found), word_tokens(wanted)
    if not ours and not truth:
        return 1.0, 1.0, 1.0
    overlap = sum((ours & truth).values())
    if not overlap:
        return 0.0, 0.0, 0.0
    precision = overlap / sum(ours.values())
    recall = overlap / sum(truth.values())
    return precision, recall, 2 * precision * recall / (precision + recall)


def token_f1(found: str | None, wanted: str | None) -> float:
    """Return the bag-of-words F1 of `found` against `wanted`."""
    return precision_recall_f1(found, wanted)[2]


def normalized(text: str | None) -> str:
    """Return `text` NFC, casefolded, with whitespace runs (NBSP too) as single spaces."""
    return " ".join(unicodedata.normalize("NFC", text or "").split()).casefold()


def title_match(found: str | None, wanted: str) -> tuple[bool, bool]:
    """Return (exact, near): equal ignoring case and spaces; token F1 >= NEAR_TITLE_F1."""
    exact = bool(found) and normalized(found) == normalized(wanted)
    return exact, exact or token_f1(found, wanted) >= NEAR_TITLE_F1


def same_day(found: str | None, wanted: str) -> bool:
    """Tell whether an ISO date or datetime `found` falls on the truth's YYYY-MM-DD."""
    return bool(found) and str(found)[:10] == wanted.strip()[:10]


def name_words(names: Sequence[str] | str | None) -> frozenset[str]:
    """Return the words of a list of names (or one "A; B" string), glue words dropped."""
    if isinstance(names, str):
        names = [names]
    words = (w for name in names or () for w in _WORD.findall(normalized(name)))
    return frozenset(w for w in words if w not in _NAME_GLUE and not w.isdigit())


def authors_match(found: Sequence[str] | str | None, wanted: str) -> bool:
    """Tell whether the found authors are the true ones (same set of name words)."""
    truth = name_words(wanted)
    return bool(truth) and name_words(found) == truth


_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_TLD = re.compile(r"\.(?:com|net|org|co\.uk|[a-z]{2})$")


def _squashed(value: str | None) -> set[str]:
    """Return a name as letters and digits only, accents folded two ways (ö -> o, oe)."""
    text = _TLD.sub("", normalized(value).removeprefix("www.")).replace("ı", "i")
    variants = set()
    for form in (text, text.translate(_GERMAN)):
        bare = "".join(
            c for c in unicodedata.normalize("NFKD", form) if not unicodedata.combining(c)
        )
        variants.add(re.sub(r"[\W_]+", "", bare))
    return {v for v in variants if v}


def source_match(found: str | None, wanted: str) -> bool:
    """Tell whether `found` names the outlet `wanted` ("Der Standard" ~ "DerStandard")."""
    return any(
        ours == truth or (min(len(ours), len(truth)) >= 2 and (ours in truth or truth in ours))
        for ours in _squashed(found)
        for truth in _squashed(wanted)
    )


def language_match(found: str | None, wanted: str) -> bool:
    """Tell whether two language tags share their primary subtag ("en-US" ~ "en")."""
    primary = [re.split(r"[-_]", (tag or "").strip().lower())[0] for tag in (found, wanted)]
    return bool(primary[0]) and primary[0] == primary[1]
