"""More like this: articles that share an article's key terms.

Whoosh's `more_like` picks the terms of the article's title and body that are
frequent in it but rare in the index (Bo1 model) and searches for them. The
body is not stored with term vectors, so its stored text is analysed again;
only its start is used, which bounds the cost and holds the story's gist.
Articles with the same title (syndicated copies) are skipped.
"""

from __future__ import annotations

from whoosh.searching import Searcher

from search.engine import get_article
from search.languages import analysis_language
from search.models import Related
from search.schema import from_stored, text_field

KEY_TERMS = 12
SCAN_CHARS = 8_000


def more_like_this(searcher: Searcher, article_id: str, limit: int = 5) -> tuple[Related, ...]:
    """Return up to `limit` articles most similar to article `article_id`."""
    article = get_article(searcher, article_id)
    docnum = searcher.document_number(id=article_id)
    if docnum is None:
        return ()
    text = f"{article.title}\n{article.summary}\n{article.body[:SCAN_CHARS]}"
    # An article's words are indexed in its language's body field (search.languages):
    # look there first, then in the shared fields, where names and loanwords still meet.
    own = text_field("body", analysis_language(article.language))
    seen_titles = {article.title.strip().lower()}
    out: list[Related] = []
    for field in dict.fromkeys((own, "body")):
        results = searcher.more_like(docnum, field, text=text, top=limit * 3,
                                     numterms=KEY_TERMS)
        for hit in results:
            a = from_stored(hit.fields())
            title = a.title.strip().lower()
            if title in seen_titles:
                continue
            seen_titles.add(title)
            out.append(Related(id=a.id, title=a.title, source=a.source, published=a.published))
            if len(out) == limit:
                return tuple(out)
    return tuple(out)
