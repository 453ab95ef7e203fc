"""Property tests: whatever FHIR content an EHR sends, no 500, valid cards, honest evidence.

Hypothesis builds charts from resources the rules read (HBV, IgG, TB, CBC
codes; rituximab, methotrexate, TNF inhibitor; RA and myositis conditions)
and breaks them: wrong JSON types, missing fields, odd or partial dates,
unknown units, huge numbers, unicode, duplicate ids, references to nothing.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_fixtures import load_request
from service import create_app
from service.hooks.invoke import handle_hook
from service.hooks.registry import SERVICES_BY_ID
from tests.conftest import ValidatingClient, make_settings
from tests.scenarios import NOW, SERVICE_OF_HOOK

LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
LAB_CODES = ["5196-1", "5195-3", "16933-4", "2465-3", "71773-6", "6690-2", "751-8", "777-3", "718-7",
             "29463-7", "8302-2", "13955-0", "42595-9", "82424-3", "5234-0", "2157-6"]
DRUG_CODES = ["2273521", "1657868", "121191", "6851", "327361", "8640", "5666", "306266"]
CONDITION_CODES = ["M05.79", "M33.10", "M33.11", "M31.31", "C83.30", "Z22.7", "B18.1", "J84.170"]
SETTINGS = settings(max_examples=60, deadline=None, derandomize="CDS_FUZZ_EXAMPLES" not in os.environ,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

junk = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
                 st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
dates = st.one_of(st.sampled_from(["2026", "2026-10", "2026-10-15", "2026-13-45", "2026-02-30", "2025-10-15T25:61:00Z",
                                   "2026-10-15T08:00:00+14:00", "0001-01-01", "9999-12-31", "", "yesterday"]),
                  st.dates().map(lambda d: d.isoformat()), junk)
ids = st.one_of(st.sampled_from(["dup", "dup", "x-1", "ü-ñ-日本", ""]), st.text(max_size=12), junk)
units = st.one_of(st.sampled_from(["mg/dL", "g/L", "mg", "kg", "cm", "10*3/uL", "mg/m2", "furlongs", ""]), junk)
numbers = st.one_of(st.integers(min_value=-(10**20), max_value=10**20),
                    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300), junk)


def coding(system: str, codes: list[str]) -> st.SearchStrategy[Any]:
    good = st.builds(lambda c, d: {"system": system, "code": c, "display": d},
                     st.sampled_from(codes), st.text(max_size=30))
    return st.one_of(good, st.builds(lambda c: {"code": c}, st.sampled_from(codes)), junk)


def concept(system: str, codes: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(st.builds(lambda cs, t: {"coding": cs, "text": t},
                               st.lists(coding(system, codes), max_size=2), st.one_of(st.text(max_size=30), junk)),
                     st.builds(lambda c: {"coding": c}, coding(system, codes)), junk)


def maybe(resource: dict[str, Any], extras: dict[str, Any]) -> dict[str, Any]:
    """Drop the None-valued keys hypothesis chose to leave out."""
    resource.update({k: v for k, v in extras.items() if v is not None})
    return resource


observation = st.builds(
    lambda i, c, v, u, d, s, interp: maybe({"resourceType": "Observation"}, {
        "id": i, "code": c, "valueQuantity": {"value": v, "unit": u, "code": u}, "effectiveDateTime": d,
        "status": s, "valueCodeableConcept": interp}),
    ids, concept(LOINC, LAB_CODES), numbers, units, dates, st.one_of(st.sampled_from(["final", "entered-in-error"]), junk),
    st.one_of(st.none(), concept("http://snomed.info/sct", ["260385009", "10828004"])))
condition = st.builds(
    lambda i, c, d, s: maybe({"resourceType": "Condition"}, {"id": i, "code": c, "onsetDateTime": d,
                                                              "clinicalStatus": s}),
    ids, concept(ICD10, CONDITION_CODES), dates,
    st.one_of(st.none(), concept("http://terminology.hl7.org/CodeSystem/condition-clinical", ["active", "resolved"])))
medication_use = st.builds(
    lambda t, i, c, d, s, dose, ref: maybe({"resourceType": t}, {
        "id": i, "medicationCodeableConcept": c, "effectiveDateTime": d, "authoredOn": d, "status": s,
        "dosage": {"dose": {"value": dose, "unit": "mg"}}, "medicationReference": ref}),
    st.sampled_from(["MedicationStatement", "MedicationRequest", "MedicationAdministration"]), ids,
    concept(RXNORM, DRUG_CODES), dates, st.one_of(st.sampled_from(["active", "completed", "stopped"]), junk),
    numbers, st.one_of(st.none(), st.just({"reference": "Medication/nowhere"}), junk))
resource = st.one_of(observation, condition, medication_use, junk)


def bundle_of(items: list[Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in items]}


prefetch_value = st.one_of(st.lists(resource, max_size=8).map(bundle_of), junk,
                           st.just({"resourceType": "OperationOutcome"}))


@st.composite
def hook_requests(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(["seed-a", "seed-b", "pv-overdue", "ra-labeled"]))
    body = load_request(name)
    keys = ["patient", "conditions", "observations", "medicationStatements", "medicationRequests",
            "medicationAdministrations", "allergies", "immunizations"]
    # Every key present (no FHIR server to fall back on), each one possibly broken.
    body["prefetch"] = {k: draw(prefetch_value) for k in keys}
    body["prefetch"]["patient"] = draw(st.one_of(
        st.builds(lambda b, g: {"resourceType": "Patient", "id": body["context"]["patientId"], "birthDate": b,
                                "gender": g}, dates, junk), st.none()))
    if body["hook"] == "order-sign" and draw(st.booleans()):
        order = body["context"]["draftOrders"]["entry"][0]["resource"]
        order["dosageInstruction"] = draw(st.one_of(junk, st.lists(st.builds(
            lambda v, u, n: {"doseAndRate": [{"doseQuantity": {"value": v, "unit": u}}], "timing": {"repeat": {"count": n}}},
            numbers, units, numbers), max_size=2)))
        order["reasonReference"] = draw(st.one_of(junk, st.just([{"reference": "Condition/nowhere"}])))
        if draw(st.booleans()):
            body["context"]["draftOrders"]["entry"].append({"resource": draw(medication_use)})
    return body


def _input_references(body: dict[str, Any]) -> set[str]:
    """Every ResourceType/id present anywhere in the request."""
    found: set[str] = set()
    stack: list[Any] = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("resourceType"), str) and "id" in item:
                found.add(f"{item['resourceType']}/{item['id']}")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


@pytest.fixture(scope="module")
def http_client():
    app = create_app(make_settings(allowed_fhir_servers=()))
    app.test_client_class = ValidatingClient
    return app.test_client()


@SETTINGS
@given(body=hook_requests())
def test_any_chart_gives_valid_cards_over_http(http_client, body):
    """No 500; 200 with schema-valid cards (ValidatingClient) or a clear JSON 4xx."""
    client = http_client
    service_id = SERVICE_OF_HOOK[body["hook"]]
    resp = client.post(f"/cds-services/{service_id}", data=json.dumps(body), content_type="application/json")
    assert resp.status_code in (200, 400, 412), resp.get_data(as_text=True)[:500]
    if resp.status_code != 200:
        assert resp.get_json()["message"]


@SETTINGS
@given(hook_requests())
def test_rules_only_cite_evidence_they_were_given(body):
    """A finding never reports a resource that was not in the request."""
    from concurrent.futures import ThreadPoolExecutor

    from service.clinical.policy import Policy
    from service.fhir.client import FhirClient
    from service.hooks.invoke import HookRuntime
    from service.hooks.request import HookRequestError

    runtime = HookRuntime(client=FhirClient(), executor=ThreadPoolExecutor(max_workers=1), policy=Policy(),
                          deadline_seconds=1.0, fhir_allowed=lambda _u: False)
    try:
        outcome = handle_hook(SERVICES_BY_ID[SERVICE_OF_HOOK[body["hook"]]], body, runtime, now=NOW)
    except HookRequestError:
        return
    present = _input_references(body)
    for finding in outcome.findings:
        for e in finding.evidence:
            if e.resource_id is not None:
                assert f"{e.resource_type}/{e.resource_id}" in present, (finding.rule_id, e)
