"""Feedback validation (CDS Hooks 2.0 §Feedback) against the project's JSON Schema."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from service.hooks.schema import definition


class FeedbackError(ValueError):
    """The feedback body does not follow the spec (-> 400 with this message)."""


@dataclass(frozen=True)
class FeedbackResult:
    stored: int
    duplicates: int
    unknown_cards: int


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(definition("feedback"), format_checker=Draft202012Validator.FORMAT_CHECKER)


def validate_feedback(body: Any) -> list[dict[str, Any]]:
    """The feedback items, or FeedbackError naming the first problem."""
    errors = sorted(_validator().iter_errors(body), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.path) or "body"
        raise FeedbackError(f"{where}: {e.message}")
    items = list(body["feedback"])
    for i, item in enumerate(items):
        # jsonschema's date-time format check needs an optional package; check RFC 3339 here.
        try:
            ts = datetime.fromisoformat(item["outcomeTimestamp"].replace("Z", "+00:00"))
        except ValueError:
            ts = None
        if ts is None or ts.tzinfo is None or "T" not in item["outcomeTimestamp"]:
            raise FeedbackError(f"feedback/{i}/outcomeTimestamp: must be an RFC 3339 date-time with a time zone")
    return items


def dedupe_key(service_id: str, item: dict[str, Any]) -> str:
    """Identity of a feedback report: the same card, outcome, time, suggestions and reason."""
    reason = (item.get("overrideReason") or {}).get("reason") or {}
    parts = [
        service_id, item["card"], item["outcome"], item["outcomeTimestamp"],
        sorted(s["id"] for s in item.get("acceptedSuggestions") or []),
        [reason.get("system"), reason.get("code")],
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()
