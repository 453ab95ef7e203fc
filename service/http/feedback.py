"""Feedback endpoint handler (CDS Hooks 2.0 §Feedback).

The default handler validates the shape and acknowledges; the store
(issue 6) replaces it with one that persists idempotently.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from service.http.errors import error_response


def default_feedback_handler(service_id: str, body: Any) -> Any:
    items = body.get("feedback") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        return error_response(400, "bad_request", "feedback must be a non-empty array")
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("card"), str):
            return error_response(400, "bad_request", f"feedback[{i}].card is required")
        if item.get("outcome") not in ("accepted", "overridden"):
            return error_response(
                400, "bad_request", f"feedback[{i}].outcome must be accepted or overridden"
            )
    return jsonify({}), 200
