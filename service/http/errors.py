"""JSON error bodies for every HTTP error (never an HTML page to an EHR)."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def error_response(status: int, error: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": error, "message": message}), status


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        code = exc.code or 500
        name = (exc.name or "error").lower().replace(" ", "_")
        resp, status = error_response(code, name, exc.description or exc.name or "error")
        for header, value in exc.get_headers():  # e.g. Allow on 405 (RFC 9110 §15.5.6)
            if header.lower() != "content-type":
                resp.headers[header] = value
        return resp, status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        # The traceback goes to the log; the client learns nothing internal.
        log.exception("unhandled error")
        return error_response(500, "internal_error", "The service failed to process the request.")
