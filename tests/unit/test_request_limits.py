"""Bad input at the edge: identifiers the audit could not store, too many feedback items, chunked bodies.

Defects 5 (calls that left no audit row) and 11 (no limit on feedback
items), and the chunked body that got 400 instead of 413.
"""

from __future__ import annotations

import io
import json
import uuid

import pytest

from fhir_fixtures import load_bundle, load_request
from service import create_app
from service.cli import bundle_to_prefetch
from service.store.models import AuditEvent, Feedback
from tests.conftest import ValidatingClient, make_settings

ORDER_SIGN = "/cds-services/rituximab-order-sign"
FEEDBACK = ORDER_SIGN + "/feedback"


@pytest.fixture
def app():
    application = create_app(make_settings(max_feedback_items=20, max_body_bytes=64 * 1024))
    application.test_client_class = ValidatingClient
    return application


def _hook(**changes: str) -> dict:
    body = load_request("seed-b")
    body["prefetch"] = bundle_to_prefetch(load_bundle("seed-b"), "seed-b")
    for field, value in changes.items():
        if field == "hookInstance":
            body["hookInstance"] = value
        else:
            body["context"][field] = value
    return body


def _audit_rows(app) -> int:
    store = app.extensions["cds.store"]
    store.flush()
    return store.count(AuditEvent)


@pytest.mark.parametrize(("field", "value"), [
    ("hookInstance", "h" * 129), ("hookInstance", "abc\x00def"), ("hookInstance", "line\nbreak"),
    ("patientId", "p" * 129), ("patientId", "seed-b\x00"), ("patientId", "seed-b\x00" + "x" * 200),
    ("encounterId", "enc/1"), ("userId", "Practitioner/a,b"), ("userId", "dr-lee"),
])
def test_identifiers_the_audit_cannot_store_are_refused_with_the_field_named(app, field, value):
    client = app.test_client()
    resp = client.post(ORDER_SIGN, json=_hook(**{field: value}))
    assert resp.status_code == 400
    assert field in resp.get_json()["message"]
    assert _audit_rows(app) == 0  # no cards were shown, so nothing to audit or to give feedback on


def test_every_answered_call_leaves_exactly_one_audit_row(app):
    client = app.test_client()
    for instance in ("d5e1c3c2-7f5e-4b0c-9c53-3f1a0d1f0a11", "x" * 128, "urn:uuid:" + str(uuid.uuid4())):
        assert client.post(ORDER_SIGN, json=_hook(hookInstance=instance)).status_code == 200
    assert _audit_rows(app) == 3


def _feedback(n: int) -> dict:
    return {"feedback": [{"card": str(uuid.uuid4()), "outcome": "accepted", "outcomeTimestamp": "2026-11-23T10:00:00Z",
                          "acceptedSuggestions": [{"id": "s"}]} for _ in range(n)]}


def test_feedback_items_over_the_limit_get_413_and_store_nothing(app):
    client = app.test_client()
    resp = client.post(FEEDBACK, json=_feedback(21))
    assert resp.status_code == 413
    assert "at most 20 items" in resp.get_json()["message"]
    assert app.extensions["cds.store"].count(Feedback) == 0
    assert client.post(FEEDBACK, json=_feedback(20)).get_json()["stored"] == 20


def test_a_chunked_body_over_the_limit_gets_413(app):
    body = json.dumps(_feedback(600)).encode()
    assert len(body) > 64 * 1024
    resp = app.test_client().post(FEEDBACK, data=io.BytesIO(body),
                                  headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                                  environ_overrides={"wsgi.input_terminated": True})
    assert resp.status_code == 413
    assert resp.get_json()["message"] == "The body is larger than the size limit."  # not "not valid JSON"


def test_a_chunked_body_under_the_limit_is_read_whole(app):
    body = json.dumps(_feedback(2)).encode()
    resp = app.test_client().post(FEEDBACK, data=io.BytesIO(body),
                                  headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                                  environ_overrides={"wsgi.input_terminated": True})
    assert resp.status_code == 200 and resp.get_json()["stored"] == 2
