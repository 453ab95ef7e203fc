"""The web service's logging: one line per request, the start-up configuration line, request ids.

The JSON format and the redaction of tokens and JWTs live in service/log_format.py
(shared with the audit writer process, which has no Flask).  Clinical values are
never passed to the logger: log calls carry ids, statuses and timings only.
"""

from __future__ import annotations

import logging
import random
import re
import time
from typing import Any

from flask import Flask, Response, g, request

from service.log_format import configure_logging

__all__ = ["configure_logging", "install_request_logging", "log_configuration", "new_request_id"]


def log_configuration(settings: Any, trusted_issuers: list[str]) -> None:
    """One start-up line naming who may call and from where, and a warning for what is development-only."""
    log = logging.getLogger("cds.config")
    log.info("configuration", extra={
        "jwt_required": settings.jwt_required,
        "trusted_issuers": trusted_issuers if settings.jwt_required else "not checked (JWT off)",
        "cors_origins": list(settings.cors_origins),
        "fhir_servers": list(settings.allowed_fhir_servers),
    })
    loose = [o for o in settings.cors_origins if o == "*" or "localhost" in o or "127.0.0.1" in o]
    if loose:
        log.warning("CORS allows %s: development only", ", ".join(loose))


_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def new_request_id() -> str:
    """32 hex digits, as ``uuid4().hex`` gave.  A correlation id must be unique, not secret, so
    it comes from the random module (reseeded in every forked worker), not from the OS: no
    system call per request, so no release of the GIL for another thread to take."""
    return f"{random.getrandbits(128):032x}"


def install_request_logging(app: Flask) -> None:
    """One log line per request: id, service, status, duration (no bodies, no headers)."""
    log = logging.getLogger("cds.request")

    @app.before_request
    def _start() -> None:
        g.request_started = time.perf_counter()
        supplied = request.environ.get("HTTP_X_REQUEST_ID", "")
        g.request_id = supplied if _REQUEST_ID.fullmatch(supplied) else new_request_id()

    @app.after_request
    def _log(response: Response) -> Response:
        started = g.get("request_started")
        duration = round((time.perf_counter() - started) * 1000, 1) if started else None
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if not log.isEnabledFor(logging.INFO):
            return response  # CDS_LOG_LEVEL=WARNING: no request line to build
        outcome = g.get("hook_outcome")
        log.info("request", extra={
            "request_id": g.get("request_id"), "method": request.method, "path": request.path,
            "service_id": g.get("service_id"), "status": response.status_code, "duration_ms": duration,
            "timings": getattr(outcome, "timings", None),
            "cards": len(outcome.cards) if outcome is not None else None,
        })
        return response
