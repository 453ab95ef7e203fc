"""HTTP contract of the service core: discovery, routing, errors, feedback."""

from __future__ import annotations

import json

import pytest

from service.fhir.queries import PREFETCH_TYPES

SERVICE_IDS = {"rituximab-order-sign", "rituximab-order-select", "rituximab-monitoring"}
ALL_EMPTY = {key: None for key in PREFETCH_TYPES}


def rituximab_request(hook="order-sign", **extra):
    body = {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {
            "patientId": "p1",
            "userId": "Practitioner/dr1",
            "draftOrders": {
                "resourceType": "Bundle",
                "entry": [{"resource": {"resourceType": "MedicationRequest", "id": "mr1",
                                        "status": "draft", "intent": "order",
                                        "medicationCodeableConcept": {"text": "rituximab"}}}],
            },
        },
    }
    if hook == "order-select":
        body["context"]["selections"] = ["MedicationRequest/mr1"]
    body.update(extra)
    return body


def test_discovery_lists_the_three_contract_services(client):
    resp = client.get("/cds-services")
    assert resp.status_code == 200
    services = {s["id"]: s for s in resp.get_json()["services"]}
    assert set(services) == SERVICE_IDS
    assert services["rituximab-monitoring"]["hook"] == "patient-view"
    assert services["rituximab-order-select"]["hook"] == "order-select"


def test_prefetch_templates_use_only_2_0_tokens(client):
    for service in client.get("/cds-services").get_json()["services"]:
        for template in service["prefetch"].values():
            tokens = set(__import__("re").findall(r"\{\{([^}]+)\}\}", template))
            assert tokens <= {"context.patientId"}, template
    obs = service["prefetch"]["observations"]
    assert "_sort=-date" in obs and "http://loinc.org|5196-1" in obs


def test_unknown_service_is_404_json(client):
    resp = client.post("/cds-services/nope", json=rituximab_request())
    assert resp.status_code == 404
    assert resp.get_json()["error"] == "not_found"


def test_healthz_reveals_nothing(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ([], "JSON object"),
        ({"hookInstance": "x", "context": {}}, "hook is required"),
        ({"hook": "patient-view", "hookInstance": "x", "context": {"patientId": "p"}}, "does not match"),
        ({"hook": "order-sign", "context": {"patientId": "p", "draftOrders": {}}}, "hookInstance"),
        ({"hook": "order-sign", "hookInstance": "x"}, "context is required"),
        ({"hook": "order-sign", "hookInstance": "x", "context": {"draftOrders": {}}}, "patientId"),
        ({"hook": "order-sign", "hookInstance": "x", "context": {"patientId": "p"}}, "draftOrders"),
        ({"hook": "order-sign", "hookInstance": "x",
          "context": {"patientId": "p", "draftOrders": "x"}}, "draftOrders"),
        ({"hook": "order-sign", "hookInstance": "x", "prefetch": [],
          "context": {"patientId": "p", "draftOrders": {"entry": []}}}, "prefetch"),
        ({"hook": "order-sign", "hookInstance": "x", "fhirAuthorization": {"access_token": "t"},
          "context": {"patientId": "p", "draftOrders": {"entry": []}}}, "fhirServer"),
    ],
)
def test_malformed_requests_are_400_with_a_reason(client, body, fragment):
    resp = client.post("/cds-services/rituximab-order-sign", json=body)
    assert resp.status_code == 400
    assert fragment in resp.get_json()["message"]


def test_order_select_requires_selections(client):
    body = rituximab_request("order-select")
    del body["context"]["selections"]
    resp = client.post("/cds-services/rituximab-order-select", json=body)
    assert resp.status_code == 400 and "selections" in resp.get_json()["message"]


def test_invalid_json_is_400(client):
    resp = client.post("/cds-services/rituximab-order-sign", data="{nope",
                       content_type="application/json")
    assert resp.status_code == 400


def test_wrong_content_type_is_415(client):
    resp = client.post("/cds-services/rituximab-order-sign", data=json.dumps(rituximab_request()),
                       content_type="text/plain")
    assert resp.status_code == 415


def test_body_over_the_cap_is_413(app):
    app.config["MAX_CONTENT_LENGTH"] = 2048
    resp = app.test_client().post("/cds-services/rituximab-order-sign",
                                  data=json.dumps({"x": "a" * 5000}),
                                  content_type="application/json")
    assert resp.status_code == 413
    assert resp.get_json()["error"]


def test_non_rituximab_order_gets_no_cards_and_no_fhir_access(client):
    body = rituximab_request()
    body["context"]["draftOrders"]["entry"][0]["resource"]["medicationCodeableConcept"] = {
        "text": "methotrexate"}
    body["fhirServer"] = "http://127.0.0.1:9/fhir"  # would refuse connections if called
    resp = client.post("/cds-services/rituximab-order-sign", json=body)
    assert resp.status_code == 200 and resp.get_json() == {"cards": []}


def test_missing_prefetch_without_fhir_server_is_412(client):
    resp = client.post("/cds-services/rituximab-order-sign", json=rituximab_request())
    assert resp.status_code == 412
    assert set(resp.get_json()["missingPrefetch"]) == set(PREFETCH_TYPES)


def test_null_prefetch_means_no_data_not_412(client):
    resp = client.post("/cds-services/rituximab-order-sign",
                       json=rituximab_request(prefetch=dict(ALL_EMPTY)))
    assert resp.status_code == 200
    assert "Server-Timing" in resp.headers


def test_sandbox_quirks_are_tolerated(client):
    body = rituximab_request(prefetch=dict(ALL_EMPTY))
    resource = body["context"]["draftOrders"]["entry"][0]["resource"]
    del resource["intent"]
    resource["status"] = "active"
    resource["category"] = {"coding": [{"code": "outpatient"}]}  # object, not array
    body["context"]["draftOrders"].pop("type", None)
    resp = client.post("/cds-services/rituximab-order-sign", json=body)
    assert resp.status_code == 200


def test_feedback_validates_shape(client):
    ok = {"feedback": [{"card": "c1", "outcome": "overridden",
                        "outcomeTimestamp": "2026-11-23T10:00:00Z"}]}
    assert client.post("/cds-services/rituximab-order-sign/feedback", json=ok).status_code == 200
    bad = {"feedback": [{"card": "c1", "outcome": "maybe"}]}
    resp = client.post("/cds-services/rituximab-order-sign/feedback", json=bad)
    assert resp.status_code == 400
    assert client.post("/cds-services/nope/feedback", json=ok).status_code == 404


def test_nan_and_infinity_are_not_json(client):
    body = '{"hook": "order-sign", "hookInstance": "x", "context": {"patientId": "p", "draftOrders": NaN}}'
    for constant in ("NaN", "Infinity", "-Infinity"):
        resp = client.post("/cds-services/rituximab-order-sign", data=body.replace("NaN", constant),
                           content_type="application/json")
        assert resp.status_code == 400
        assert resp.get_json()["error"] == "bad_request"


@pytest.mark.parametrize(("depth", "message"), [(65, "nested deeper than 64 levels"), (5000, "not valid JSON")])
def test_too_deep_a_body_is_refused(client, depth, message):
    # 65: past the limit the body is parsed under; 5,000: past the parser's own limit, before any walk of it.
    draft = "[" * (depth - 2) + "]" * (depth - 2)
    body = '{"hook": "order-sign", "hookInstance": "x", "context": {"patientId": "p", "draftOrders": ' + draft + "}}"
    resp = client.post("/cds-services/rituximab-order-sign", data=body, content_type="application/json")
    assert resp.status_code == 400
    assert message in resp.get_json()["message"]


def test_a_body_at_the_nesting_limit_is_read(client):
    draft = "[" * 62 + "]" * 62  # 64 levels with the body and its context
    body = '{"hook": "order-sign", "hookInstance": "x", "context": {"patientId": "p", "draftOrders": ' + draft + "}}"
    resp = client.post("/cds-services/rituximab-order-sign", data=body, content_type="application/json")
    assert resp.status_code == 200
    assert resp.get_json() == {"cards": []}


def test_405_keeps_the_allow_header(client):
    resp = client.put("/cds-services")
    assert resp.status_code == 405
    assert "GET" in resp.headers["Allow"]
    assert resp.get_json()["error"] == "method_not_allowed"
