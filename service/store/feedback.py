"""Feedback validation (CDS Hooks 2.0 §Feedback) against the project's JSON Schema."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from service.hooks.schema import definition
from service.store.models import Feedback

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator


class FeedbackError(ValueError):
    """The feedback body does not follow the spec (-> 400 with this message)."""


class TooManyFeedbackItems(FeedbackError):
    """More items in one body than ``CDS_MAX_FEEDBACK_ITEMS`` (-> 413)."""


@dataclass(frozen=True)
class FeedbackResult:
    stored: int
    duplicates: int
    unknown_cards: int


@cache
def _validator() -> Draft202012Validator:
    # Loaded here: the audit writer process imports this module for dedupe_key and needs no schema.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(definition("feedback"), format_checker=Draft202012Validator.FORMAT_CHECKER)


def _column_length(column: str) -> int:
    length = getattr(Feedback.__table__.c[column].type, "length", None)
    assert isinstance(length, int), column
    return length


#: Item fields stored in bounded columns (models.Feedback), by path within the item.
_BOUNDED: dict[tuple[str, ...], str] = {
    ("card",): "card_uuid",
    ("outcomeTimestamp",): "outcome_timestamp",
    ("overrideReason", "reason", "system"): "override_system",
    ("overrideReason", "reason", "code"): "override_code",
}


def _strings(value: Any, path: str) -> list[tuple[str, str]]:
    """(path, string) of every string in a JSON value (keys included)."""
    if isinstance(value, str):
        return [(path, value)]
    out: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out += [(f"{path}/{k}", k), *_strings(v, f"{path}/{k}")]
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _strings(v, f"{path}/{i}")
    return out


def _check_storable(item: dict[str, Any], where: str) -> None:
    """FeedbackError for values PostgreSQL would refuse (NUL, over a column's length).

    Otherwise the insert fails, the endpoint answers 503 "retry later", and the
    EHR retries a report that can never be stored.
    """
    for path, text in _strings(item, where):
        if "\x00" in text:
            raise FeedbackError(f"{path}: must not contain NUL characters")
    for keys, column in _BOUNDED.items():
        value: Any = item
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        limit = _column_length(column)
        if isinstance(value, str) and len(value) > limit:
            raise FeedbackError(f"{where}/{'/'.join(keys)}: longer than {limit} characters")


def validate_feedback(body: Any, max_items: int | None = None) -> list[dict[str, Any]]:
    """The feedback items, or FeedbackError naming the first problem."""
    items_raw = body.get("feedback") if isinstance(body, dict) else None
    # Counted before the schema walks every item: 60,000 tiny items held a thread for 36 s.
    if max_items is not None and isinstance(items_raw, list) and len(items_raw) > max_items:
        raise TooManyFeedbackItems(f"feedback: at most {max_items} items per request, got {len(items_raw)}")
    errors = sorted(_validator().iter_errors(body), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.path) or "body"
        raise FeedbackError(f"{where}: {e.message}")
    items = list(body["feedback"])
    for i, item in enumerate(items):
        _check_storable(item, f"feedback/{i}")
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
