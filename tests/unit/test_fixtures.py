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
