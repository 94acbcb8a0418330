"""Errors that carry the HTTP status a web layer should answer with."""

from __future__ import annotations


class SearchError(Exception):
    """Base of every error the search library raises on purpose."""

    status = 500
    code = "search_error"

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "parameter": self.parameter}


class QueryError(SearchError):
    """The user's query or parameters cannot be searched as given."""

    status = 400
    code = "bad_query"


class ArticleNotFound(SearchError):
    status = 404
    code = "not_found"


class IndexUnavailable(SearchError):
    """No published index generation can be opened."""

    status = 503
    code = "index_unavailable"
