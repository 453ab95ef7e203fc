"""The fixtures are valid FHIR and valid CDS Hooks requests; date shifting keeps ages."""

from __future__ import annotations

from datetime import date

import pytest
from fhir.resources.R4B.bundle import Bundle

from fhir_fixtures import load_bundle, load_request, request_names, scenario_names
from fhir_fixtures.dates import ANCHOR, shift_dates
from tests.cds_schema import assert_valid


@pytest.mark.parametrize("name", scenario_names())
def test_patient_bundles_are_valid_r4_transactions(name):
    data = load_bundle(name)
    bundle = Bundle.model_validate(data)
    assert bundle.type == "transaction"
    patients = [e for e in data["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert len(patients) == 1 and patients[0]["resource"]["id"] == name
    for entry in data["entry"]:
        r = entry["resource"]
        assert entry["request"] == {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}


@pytest.mark.parametrize("name", request_names())
def test_requests_are_valid_cds_hooks_requests(name):
    req = load_request(name)
    assert_valid("request", req)
    patient_id = req["context"]["patientId"]
    assert patient_id in scenario_names()


def test_shift_keeps_precision_and_moves_full_dates():
    data = {"a": "2026-10-01", "b": "2026-10-01T09:00:00Z", "c": "2026-10", "d": "2026",
            "e": ["2026-11-01T10:30:00+02:00"], "f": "not-a-date", "g": 3}
    shifted = shift_dates(data, date(2026, 11, 11))
    assert shifted == {"a": "2026-10-11", "b": "2026-10-11T09:00:00Z", "c": "2026-10", "d": "2026",
                       "e": ["2026-11-11T10:30:00+02:00"], "f": "not-a-date", "g": 3}
    assert shift_dates(data, ANCHOR) == data and shift_dates(data, ANCHOR) is not data


def test_loading_with_today_shifts_every_resource_date():
    before = load_bundle("seed-a")
    after = load_bundle("seed-a", date(2027, 11, 1))
    obs = lambda b: [e["resource"]["effectiveDateTime"] for e in b["entry"]  # noqa: E731
                     if e["resource"]["resourceType"] == "Observation"]
    assert all(a[:4] == str(int(b[:4]) + 1) for a, b in zip(obs(after), obs(before), strict=True))


def test_heavy_benchmark_chart_has_its_documented_size_and_evaluates():
    from fhir_fixtures.heavy import PATIENT_ID, heavy_requests, resource_counts
    from service.hooks.prefetch import bundle_to_prefetch
    from tests.scenarios import NOW

    heavy = heavy_requests()
    counts = resource_counts(heavy["bundle"])
    assert 1800 <= counts["Observation"] <= 2200 and counts["Condition"] == 100
    assert 150 <= counts["MedicationRequest"] + counts["MedicationStatement"] + counts["MedicationAdministration"] <= 250
    assert heavy_requests() == heavy  # deterministic: benchmark runs are comparable

    from concurrent.futures import ThreadPoolExecutor

    from service.clinical.policy import Policy
    from service.fhir.client import FhirClient
    from service.hooks.invoke import HookRuntime, handle_hook
    from service.hooks.registry import SERVICES_BY_ID

    body = heavy["order-sign"]
    body["prefetch"] = bundle_to_prefetch(heavy["bundle"], PATIENT_ID)
    runtime = HookRuntime(client=FhirClient(), executor=ThreadPoolExecutor(1), policy=Policy(),
                          deadline_seconds=1.0, fhir_allowed=lambda _u: False)
    outcome = handle_hook(SERVICES_BY_ID["rituximab-order-sign"], body, runtime, now=NOW)
    assert outcome.status == 200
    assert outcome.rituximab_orders == 1
    assert "data-access" not in {c.topic for c in outcome.cards}
