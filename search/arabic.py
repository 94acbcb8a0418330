"""Arabic words -> index terms: normalisation, stop words, NLTK's Snowball light stemmer.

Normalisation (Larkey et al.'s, as used by most Arabic IR systems), applied to text and
queries alike so that spelling variants people actually type meet:
diacritics (harakat, shadda, sukun, dagger alef) and tatweel dropped; alef with hamza
above or below, madda and wasla -> bare alef; hamza on waw or yeh -> the bare letter;
alef maksura -> yeh; taa marbuta -> heh. Snowball's Arabic stemmer then strips the
prefixes (the article, `wa-`, `bi-`, ...) and suffixes (plurals, pronouns) that news
words carry, so `مفاوضات`, `المفاوضات` and `والمفاوضات` are one term.

Why a light stemmer and not NLTK's ISRI root stemmer: on the known-item evaluation
(quality/README.md, 4k-article sample) ISRI cost 0.10 MRR@10 on Arabic queries (0.854
against 0.952): mapping words to roots merges far too much (`مفاوضات` "negotiations"
becomes `فاض`, "overflowed"). This matches the Arabic IR literature, where light stemming
beats root extraction. Stemming at all still costs exact-word queries a little (see
quality/RESULTS.md); it is what lets `مفاوضات` find `مفاوضة` and `مفاوضاتها`.
Neither stemmer needs a data download.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from nltk.stem.snowball import SnowballStemmer

_DIACRITICS = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_LETTERS = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ؤ": "و",
        "ئ": "ي",
        "ى": "ي",
        "ة": "ه",
        "ی": "ي",  # Persian yeh, common in text typed on Persian keyboards
        "ک": "ك",  # Persian keheh
    }
)


def normalize(word: str) -> str:
    """Return the normalised spelling of an Arabic word (see the module docstring)."""
    w = unicodedata.normalize("NFKC", word)  # presentation forms -> letters
    return _DIACRITICS.sub("", w).translate(_LETTERS)


# Function words: prepositions, conjunctions, pronouns, demonstratives, relatives and the
# commonest particles and auxiliaries, listed in normalised spelling.
STOP_WORDS: frozenset[str] = frozenset(
    normalize(w)
    for w in """
    في من على إلى الى عن مع عند منذ حتى بين خلال حول ضد دون نحو لدى لدي
    و أو او ثم بل لكن لكنه ولكن أم إما اما
    أن ان إن لأن لان كي لكي كما مثل غير سوى بعد قبل فوق تحت أمام امام وراء
    قد لقد لا لم لن ما ماذا هل ليس ليست لست إلا الا إذا اذا إذ اذ لو لولا كل بعض أي اي
    هذا هذه ذلك تلك هؤلاء أولئك هنا هناك هنالك
    الذي التي الذين اللذين اللتين اللواتي اللاتي
    هو هي هم هن هما أنا انا نحن أنت انت أنتم انتم
    كان كانت كانوا يكون تكون أصبح اصبح ليسوا
    به بها بهم له لها لهم فيه فيها فيهم منه منها منهم عليه عليها عليهم إليه اليه إليها اليها
    عنه عنها وفي ومن وعلى وإلى وعن ومع وأن وان وقد ولا ولم وما وهو وهي وهذا وهذه وكان وكانت
    أيضا ايضا فقط جدا حيث حين بينما كذلك لذلك أكثر اكثر أقل اقل
    """.split()
)



def _plain_re_stemmer() -> SnowballStemmer:
    """Return NLTK's Arabic Snowball stemmer with its seven patterns compiled by `re`.

    NLTK wraps them in `nltk.redos` (the `regex` module with a timeout per call, against
    crafted input): that wrapper was two thirds of the stemmer's time, and the stemmer
    the largest cost of indexing Arabic. The patterns are single character classes, so
    they cannot backtrack; `re` matches the same characters (same stems on 210k corpus
    words, tests/test_index_pipeline.py) about three times faster.
    """
    stemmer = SnowballStemmer("arabic")
    inner = stemmer.stemmer
    for name in (
        "vocalization", "kasheeda", "arabic_punctuation_marks", "initial_hamzat",
        "waw_hamza", "yeh_hamza", "alefat",
    ):  # fmt: skip
        attr = f"_ArabicStemmer__{name}"
        setattr(inner, attr, re.compile(getattr(inner, attr).pattern))
    # NLTK's `stem` resets every step's flag but this one, so once one word has set it
    # (the first verb with a pronoun suffix, `كتبه`), it stays set for the process: a
    # word stemmed before then got another stem than after (`ابدوا` -> `ابد`, later
    # `ابدو`; 2,438 of the corpus's 252k stemmable words). A query process answered
    # differently from the index until its users happened to type such a verb. Set from
    # the start, every word gets the stem it got in the indexes built so far.
    inner.suffixes_verb_step1_success = True
    return stemmer


_snowball = _plain_re_stemmer()


@lru_cache(maxsize=1 << 14)  # small: `analysis`' own memos hold the vocabulary (FOLD_CACHE_SIZE)
def term(word: str) -> str | None:
    """Return the index term of one Arabic-script word, or None for a stop word."""
    w = normalize(word)
    if not w or w in STOP_WORDS:
        return None
    if len(w) <= 2:
        return w
    return normalize(_snowball.stem(w)) or w
