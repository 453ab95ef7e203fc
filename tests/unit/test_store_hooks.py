"""Feedback over HTTP: what the database cannot store is the client's error (400), not an outage (503)."""

from __future__ import annotations

import pytest


def _feedback(**changes) -> dict:
    item = {"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-11-23T10:00:00Z",
            "overrideReason": {"reason": {"system": "urn:x", "code": "c", "display": "d"}}}
    item.update(changes)
    return {"feedback": [item]}


@pytest.mark.parametrize(("body", "fragment"), [
    (_feedback(card="c\x00"), "feedback/0/card: must not contain NUL"),
    (_feedback(overrideReason={"userComment": "a\x00b"}), "userComment: must not contain NUL"),
    (_feedback(card="c" * 65), "feedback/0/card: longer than 64"),
    (_feedback(outcomeTimestamp="2026-11-23T10:00:00." + "1" * 30 + "Z"), "outcomeTimestamp: longer than 40"),
    (_feedback(overrideReason={"reason": {"code": "x" * 101}}), "overrideReason/reason/code: longer than 100"),
])
def test_feedback_the_database_cannot_store_is_400_not_503(client, body, fragment):
    # Regression: PostgreSQL refused these (NUL, over a column's length); the 503 asked the EHR to retry forever.
    resp = client.post("/cds-services/rituximab-order-sign/feedback", json=body)
    assert resp.status_code == 400, resp.get_json()
    assert fragment in resp.get_json()["message"]


def test_feedback_at_the_column_limits_is_stored(client):
    body = _feedback(card="c" * 64, overrideReason={"reason": {"system": "s" * 200, "code": "x" * 100,
                                                               "display": "é" * 300}})
    resp = client.post("/cds-services/rituximab-order-sign/feedback", json=body)
    assert resp.status_code == 200 and resp.get_json() == {"stored": 1, "duplicates": 0}
