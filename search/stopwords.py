"""English stop words, shipped with the code so nothing is downloaded at run time.

The list is the Snowball project's English stop list (the one NLTK's `stopwords`
corpus ships), without negations ("no", "not", "nor"), which change a news
query's meaning and so should stay searchable.
"""

from __future__ import annotations

ENGLISH: frozenset[str] = frozenset(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his
    himself she her hers herself it its itself they them their theirs themselves what
    which who whom this that these those am is are was were be been being have has had
    having do does did doing would should could ought a an the and but if or because as
    until while of at by for with about against between into through during before after
    above below to from up down in out on off over under again further then once here
    there when where why how all any both each few more most other some such only own
    same so than too very s t can will just don now d ll m o re ve y ain aren couldn
    didn doesn hadn hasn haven isn ma mightn mustn needn shan shouldn wasn weren won
    wouldn
    """.split()
)
