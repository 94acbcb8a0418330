"""One error handler: JSON for /api/, an HTML page for people; no tracebacks shown."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException

from search.errors import SearchError

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _render(status: int, code: str, message: str, parameter: str | None = None) -> tuple[Response | str, int]:
    if _wants_json():
        body = {"ok": False, "error": {"code": code, "message": message, "parameter": parameter}}
        from flask import jsonify

        return jsonify(body), status
    try:
        return render_template("error.html", status=status, message=message, parameter=parameter), status
    except OSError:  # e.g. out of file descriptors before the template was first loaded
        return Response(f"{status} {message}\n", mimetype="text/plain"), status


def handle_search_error(e: SearchError) -> tuple[Response | str, int]:
    return _render(e.status, e.code, e.message, e.parameter)


def handle_http_error(e: HTTPException) -> tuple[Response | str, int]:
    code = (e.name or "error").lower().replace(" ", "_")
    return _render(e.code or 500, code, e.description or e.name or "Error")


def handle_unexpected(e: Exception) -> tuple[Response | str, int]:
    request_id = uuid.uuid4().hex[:12]
    log.exception("unhandled error (request %s) on %s", request_id, request.full_path)
    return _render(500, "internal_error",
                   f"Something went wrong on our side (request id {request_id}).")


def init_app(app: Flask) -> None:
    app.register_error_handler(SearchError, handle_search_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
