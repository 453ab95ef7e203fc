"""Audit and feedback through the HTTP service: gunicorn workers on PostgreSQL, and a database outage."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from fhir_fixtures import load_bundle, load_request
from service import create_app
from service.hooks.prefetch import bundle_to_prefetch
from service.store import Store
from service.store.models import AuditEvent, Feedback
from service.store.store import make_engine
from tests.conftest import make_settings
from tests.integration.stores import pg_schema, pg_url

pytestmark = pytest.mark.integration


def seed_request() -> dict:
    body = load_request("hbv-never-screened")
    body["prefetch"] = bundle_to_prefetch(load_bundle("hbv-never-screened"), "hbv-never-screened")
    return body


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_gunicorn_workers_write_one_audit_row_per_call_and_one_feedback_row_per_report(tmp_path):
    with pg_schema() as schema:
        url = pg_url(schema)
        port = _free_port()
        env = {**os.environ, "CDS_JWT_REQUIRED": "false", "CDS_DATABASE_URL": url}
        proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port",
                                 str(port), "--workers", "3"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    if requests.get(base + "/healthz", timeout=0.5).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.1)
            body = seed_request()
            calls = 60
            with ThreadPoolExecutor(max_workers=12) as pool:
                responses = list(pool.map(
                    lambda _: requests.post(base + "/cds-services/rituximab-order-sign", json=body, timeout=30),
                    range(calls)))
            assert all(r.status_code == 200 for r in responses)
            card_ids = [c["uuid"] for r in responses for c in r.json()["cards"]]
            store = Store(make_engine(url))
            deadline = time.monotonic() + 20
            while store.count(AuditEvent) < calls and time.monotonic() < deadline:
                time.sleep(0.2)
            assert store.count(AuditEvent) == calls
            reports = [{"feedback": [{"card": cid, "outcome": "overridden",
                                      "outcomeTimestamp": "2026-11-23T10:00:00Z",
                                      "overrideReason": {"reason": {"system": "urn:rituximab-cds:override-reason",
                                                                    "code": "documented-elsewhere",
                                                                    "display": "documented"}}}]}
                       for cid in card_ids]
            with ThreadPoolExecutor(max_workers=12) as pool:  # every report sent twice, concurrently
                acks = list(pool.map(
                    lambda rep: requests.post(base + "/cds-services/rituximab-order-sign/feedback", json=rep,
                                              timeout=30), reports + reports))
            assert all(a.status_code == 200 for a in acks)
            assert store.count(Feedback) == len(set(card_ids))
            rows = {r["rule_id"]: r for r in store.override_report()}
            assert rows["safety.hbv"]["overridden"] == calls
            analytics = requests.get(base + "/analytics/overrides", timeout=10).json()["rows"]
            assert any(r["rule_id"] == "safety.hbv" and r["override_rate"] == 1.0 for r in analytics)
            store.close()
            store.engine.dispose()
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def test_database_down_hooks_still_answer_feedback_is_503():
    app = create_app(make_settings(database_url="postgresql+psycopg://postgres@127.0.0.1:1/test"))
    client = app.test_client()
    resp = client.post("/cds-services/rituximab-order-sign", json=seed_request())
    assert resp.status_code == 200 and resp.get_json()["cards"]
    card = resp.get_json()["cards"][0]["uuid"]
    fb = client.post("/cds-services/rituximab-order-sign/feedback", json={"feedback": [
        {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-23T10:00:00Z"}]})
    assert fb.status_code == 503 and fb.headers["Retry-After"]
    app.extensions["cds.store"].flush()
    assert app.extensions["cds.store"].audit_failures == 1
    assert client.get("/analytics/overrides").status_code == 503


def test_feedback_joins_the_audit_by_card_uuid():
    app = create_app(make_settings(database_url="sqlite://"))
    client = app.test_client()
    cards = client.post("/cds-services/rituximab-order-sign", json=seed_request()).get_json()["cards"]
    app.extensions["cds.store"].flush()
    hbv = next(c for c in cards if c["source"]["topic"]["code"] == "hbv")
    suggestion = hbv["suggestions"][0]["uuid"]
    resp = client.post("/cds-services/rituximab-order-sign/feedback", data=json.dumps({"feedback": [
        {"card": hbv["uuid"], "outcome": "accepted", "acceptedSuggestions": [{"id": suggestion}],
         "outcomeTimestamp": "2026-11-23T10:00:00Z"}]}), content_type="application/json")
    assert resp.status_code == 200 and resp.get_json() == {"stored": 1, "duplicates": 0}
    rows = {r["rule_id"]: r for r in client.get("/analytics/overrides").get_json()["rows"]}
    assert rows["safety.hbv"]["accepted"] == 1 and rows["safety.hbv"]["override_rate"] == 0.0
    assert client.post("/cds-services/rituximab-order-sign/feedback",
                       json={"feedback": [{"card": "x", "outcome": "accepted",
                                           "outcomeTimestamp": "2026-11-23T10:00:00Z"}]}).status_code == 400
