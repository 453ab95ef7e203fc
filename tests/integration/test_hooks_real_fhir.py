"""End to end over real HTTP against a real FHIR server (sekmet-fhir).

Each order-sign / patient-view scenario is sent twice: without prefetch (the
service queries the FHIR server itself) and with a prefetch filled from the
same server the way an EHR fills it (each discovery template run against the
server).  Both must give the same cards; the complete prefetch must cost
zero FHIR queries.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from fhir_fixtures import load_request, request_names
from fhir_fixtures.threaded import serve_in_thread
from service import create_app
from service.fhir.queries import prefetch_templates
from tests.cds_schema import assert_valid
from tests.conftest import make_settings
from tests.integration.ehr import fill_prefetch, server_timing
from tests.scenarios import EXPECTED

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
def service_url(fhir_base_url: str):
    app = create_app(make_settings(allowed_fhir_servers=(fhir_base_url,)))
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="module")
def http():
    with requests.Session() as s:
        yield s


SERVICE_BY_HOOK = {
    "order-sign": "rituximab-order-sign",
    "order-select": "rituximab-order-select",
    "patient-view": "rituximab-monitoring",
}


def comparable(cards: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What must match between the two modes (uuids differ; data origin is reported)."""
    out = []
    for c in cards:
        detail = re.sub(r" \((prefetch|query)\)", "", c.get("detail", ""))
        out.append((
            c["source"]["topic"]["code"], c["indicator"], c["summary"], detail,
            tuple(s["label"] for s in c.get("suggestions", [])),
        ))
    return sorted(out)


def post(http, service_url, request_body):
    service = SERVICE_BY_HOOK[request_body["hook"]]
    resp = http.post(f"{service_url}/cds-services/{service}", json=request_body, timeout=30)
    return resp


def with_fhir(request_body: dict[str, Any], fhir_base_url: str) -> dict[str, Any]:
    body = copy.deepcopy(request_body)
    body["fhirServer"] = fhir_base_url
    body.pop("prefetch", None)
    return body


SCENARIOS = [n for n in request_names() if load_request(n)["hook"] in SERVICE_BY_HOOK]


@pytest.mark.parametrize("name", SCENARIOS)
def test_prefetch_and_no_prefetch_give_the_same_cards(name, http, service_url, fhir_base_url):
    queried = with_fhir(load_request(name, TODAY), fhir_base_url)
    r1 = post(http, service_url, queried)
    assert r1.status_code == 200, r1.text
    assert_valid("response", r1.json())

    prefetched = copy.deepcopy(queried)
    evaluation = "chart" if queried["hook"] == "patient-view" else "order"
    prefetched["prefetch"] = fill_prefetch(
        http, fhir_base_url, prefetch_templates(evaluation), queried["context"]["patientId"]
    )
    r2 = post(http, service_url, prefetched)
    assert r2.status_code == 200, r2.text
    assert_valid("response", r2.json())
    assert comparable(r1.json()["cards"]) == comparable(r2.json()["cards"])

    timing = server_timing(r2.headers.get("Server-Timing", ""))
    medication_lookups = 2 if name == "seed-a-epic" else 0  # no template can carry Medications
    if "fhir" in timing:  # rituximab found: the complete prefetch cost no FHIR query
        assert timing["fhir"]["desc"] == f"{medication_lookups} queries"
    timing1 = server_timing(r1.headers.get("Server-Timing", ""))
    if "fhir" in timing1:  # one per template of this service (and the laboratory search)
        assert int(timing1["fhir"]["desc"].split()[0]) >= len(prefetch_templates(evaluation))


def test_no_prefetch_and_no_fhir_server_is_412(http, service_url):
    body = load_request("seed-a", TODAY)
    body.pop("fhirServer", None)
    body.pop("prefetch", None)
    assert post(http, service_url, body).status_code == 412


def test_partial_prefetch_queries_only_what_is_missing(http, service_url, fhir_base_url):
    body = with_fhir(load_request("seed-a", TODAY), fhir_base_url)
    full = fill_prefetch(http, fhir_base_url, prefetch_templates(), body["context"]["patientId"])
    body["prefetch"] = {k: v for k, v in full.items() if k not in ("observations", "allergies")}
    body["prefetch"]["immunizations"] = {"resourceType": "OperationOutcome",
                                         "issue": [{"severity": "error", "code": "timeout"}]}
    resp = post(http, service_url, body)
    assert resp.status_code == 200
    timing = server_timing(resp.headers["Server-Timing"])
    # observations (LOINC codes and laboratory category), allergies, immunizations
    assert timing["fhir"]["desc"] == "4 queries"


def test_unreachable_section_gives_a_data_access_card(http, service_url, fhir_base_url):
    """A FHIR server that fails for one resource type: 200 + data-access card."""
    body = with_fhir(load_request("seed-a", TODAY), fhir_base_url)
    full = fill_prefetch(http, fhir_base_url, prefetch_templates(), body["context"]["patientId"])
    del full["observations"]
    body["prefetch"] = full
    # Point the service at a path of the real server that answers 404 for every search.
    body["fhirServer"] = fhir_base_url + "/nonexistent-base"
    app = create_app(make_settings(allowed_fhir_servers=(body["fhirServer"],)))
    with serve_in_thread(app) as url:
        resp = post(http, url, body)
    assert resp.status_code == 200
    cards = resp.json()["cards"]
    assert_valid("response", resp.json())
    access = [c for c in cards if c["source"]["topic"]["code"] == "data-access"]
    assert len(access) == 1 and "observations" in access[0]["detail"]


def test_fixtures_are_searchable_with_paging(http, fhir_base_url):
    resp = http.get(f"{fhir_base_url}/Observation?patient=seed-a&code=http://loinc.org|5196-1",
                    timeout=10).json()
    assert resp["total"] == 1
    page = http.get(f"{fhir_base_url}/Observation?patient=seed-a&_count=2", timeout=10).json()
    assert any(link["relation"] == "next" for link in page["link"])


def _expected_cards(name: str, prefetch: bool, http: Any, service_url: str, fhir_base_url: str) -> list[Any]:
    """The cards for fixture ``name`` from the real server (queried, or with a filled prefetch), checked
    against tests/scenarios.EXPECTED."""
    body = with_fhir(load_request(name, TODAY), fhir_base_url)
    if prefetch:
        body["prefetch"] = fill_prefetch(http, fhir_base_url, prefetch_templates(), body["context"]["patientId"])
    resp = post(http, service_url, body)
    assert resp.status_code == 200, resp.text
    cards: list[Any] = resp.json()["cards"]
    assert {(c["source"]["topic"]["code"], c["indicator"]) for c in cards} == EXPECTED[name]
    return cards


#: Charts of the second clinical review (issue 12): one per new safety check.
SAFETY_DEPTH = ["hbv-dna-detectable", "hbv-problem-list", "pregnant-pemphigus", "pneumonia-maintenance",
                "gpa-mg-m2", "gpa-pjp-prophylaxis", "reaction-moderate-high-criticality",
                "seed-b"]  # seed-b: first course at 44, no pregnancy test: the contraception advisory


@pytest.mark.parametrize("prefetch", [False, True], ids=["queried", "prefetched"])
@pytest.mark.parametrize("name", SAFETY_DEPTH)
def test_safety_depth_cards_from_the_real_server(name, prefetch, http, service_url, fhir_base_url):
    cards = _expected_cards(name, prefetch, http, service_url, fhir_base_url)
    for card in cards:
        created = [a["resource"]["resourceType"] for s in card.get("suggestions", []) for a in s["actions"]]
        if card["source"]["topic"]["code"] == "hbv":
            assert "MedicationRequest" in created and "ServiceRequest" in created  # antivirals, hepatology
        if name == "gpa-mg-m2" and card["source"]["topic"]["code"] == "infection":
            assert created == ["MedicationRequest"] and card["suggestions"][0]["isRecommended"] is True
        if card["source"]["topic"]["code"] == "pregnancy":
            assert "12 months after the last dose" in card["detail"] or "fetal harm" in card["summary"]


#: Charts of the regimen review (issue 13).
REGIMENS = ["dlbcl-rchop-cycle3", "dlbcl-after-6-cycles", "gpa-large-bsa", "ra-all-in-order"]


@pytest.mark.parametrize("prefetch", [False, True], ids=["queried", "prefetched"])
@pytest.mark.parametrize("name", REGIMENS)
def test_regimen_aware_cards_from_the_real_server(name, prefetch, http, service_url, fhir_base_url):
    cards = _expected_cards(name, prefetch, http, service_url, fhir_base_url)
    assert len(cards) == len(EXPECTED[name])  # exactly one card for a clean order, none after a completed regimen
    if name == "dlbcl-rchop-cycle3":
        assert "cycle 3 of a regimen" in cards[0]["detail"] and "maintenance" not in cards[0]["detail"]
    if name == "gpa-large-bsa":
        assert "= 881 mg per dose at BSA 2.35 m²" in cards[0]["detail"]
