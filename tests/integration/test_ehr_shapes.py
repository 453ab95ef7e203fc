"""Charts as real EHRs send them, against the real FHIR server (sekmet-fhir).

seed-a in Epic shape (medication references without display, Medications
separate on the server, the draft order's too; local lab codes beside LOINC)
and in Cerner shape must get seed-a's cards, with and without prefetch.
Prefetch-only with references nothing can resolve: a data-access card that
names them, never a false "missing" warning and never silence.  A server that
ignores ``_sort`` and ``_count`` gives the same cards as the real one.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from fhir_fixtures import load_bundle, load_request
from fhir_fixtures.server import post_bundle
from fhir_fixtures.shapes import EPIC_LOCAL_LAB, renamed
from fhir_fixtures.threaded import serve_in_thread
from service import create_app
from service.fhir.queries import prefetch_templates
from tests.conftest import make_settings
from tests.integration.ehr import fill_prefetch, server_timing
from tests.integration.test_hooks_real_fhir import comparable, post, with_fhir
from tests.unsorted_fhir import proxied_base, unsorted_fhir_server

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).date()
EPIC_MEDICATIONS = ("Medication/seed-a-epic-med-2273521", "Medication/seed-a-epic-med-68149",
                    "Medication/seed-a-epic-med-8640")


@pytest.fixture(scope="module")
def http():
    with requests.Session() as s:
        yield s


@pytest.fixture(scope="module")
def service_url(fhir_base_url: str):
    app = create_app(make_settings(allowed_fhir_servers=(fhir_base_url,)))
    with serve_in_thread(app) as url:
        yield url


def cards(http, service_url, body, patient_id) -> list[tuple[Any, ...]]:
    resp = post(http, service_url, body)
    assert resp.status_code == 200, resp.text
    return comparable([json.loads(json.dumps(c).replace(patient_id, "seed-a")) for c in resp.json()["cards"]])


def prefetched(http, fhir_base_url, body) -> dict[str, Any]:
    """What an EHR sends that fills every template (no Medication: no template asks for it)."""
    out = copy.deepcopy(body)
    out["prefetch"] = fill_prefetch(http, fhir_base_url, prefetch_templates(), body["context"]["patientId"])
    return out


@pytest.fixture(scope="module")
def seed_a_cards(http, service_url, fhir_base_url):
    return cards(http, service_url, with_fhir(load_request("seed-a", TODAY), fhir_base_url), "seed-a")


@pytest.mark.parametrize("mode", ["no-prefetch", "prefetch"])
@pytest.mark.parametrize("shaped", ["seed-a-epic", "seed-a-cerner"])
def test_ehr_shaped_seed_a_gets_seed_a_cards(shaped, mode, http, service_url, fhir_base_url, seed_a_cards):
    body = with_fhir(load_request(shaped, TODAY), fhir_base_url)
    if mode == "prefetch":
        body = prefetched(http, fhir_base_url, body)
    assert cards(http, service_url, body, shaped) == seed_a_cards
    assert [c[0] for c in seed_a_cards] == ["indication"] and seed_a_cards[0][1] == "info"


def test_epic_medications_are_fetched_in_one_batch_after_the_draft_orders(http, service_url, fhir_base_url):
    body = prefetched(http, fhir_base_url, with_fhir(load_request("seed-a-epic", TODAY), fhir_base_url))
    resp = post(http, service_url, body)
    # One search for the draft order's Medication, one batch for the history's other two.
    assert server_timing(resp.headers["Server-Timing"])["fhir"]["desc"] == "2 queries"


def _prefetch_only(http, fhir_base_url, draft_medication: bool) -> dict[str, Any]:
    body = prefetched(http, fhir_base_url, with_fhir(load_request("seed-a-epic", TODAY), fhir_base_url))
    del body["fhirServer"]
    if draft_medication:  # the EHR sends the draft order's Medication beside it, and nothing else
        rtx = http.get(f"{fhir_base_url}/{EPIC_MEDICATIONS[0]}", timeout=10).json()
        body["context"]["draftOrders"]["entry"].append({"resource": rtx})
    return body


def test_prefetch_only_with_unresolvable_history_names_the_references_without_false_warnings(
        http, service_url, fhir_base_url):
    resp = post(http, service_url, _prefetch_only(http, fhir_base_url, draft_medication=True))
    assert resp.status_code == 200
    found = resp.json()["cards"]
    assert [c["source"]["topic"]["code"] for c in found] == ["data-access"]  # no hbv, no prerequisites warning
    detail = found[0]["detail"]
    assert EPIC_MEDICATIONS[1] in detail and EPIC_MEDICATIONS[2] in detail
    assert "Hepatitis B screening" in detail and "Prerequisites (prior therapy)" in detail


def test_prefetch_only_rituximab_order_with_an_unresolvable_medication_is_not_silent(
        http, service_url, fhir_base_url):
    resp = post(http, service_url, _prefetch_only(http, fhir_base_url, draft_medication=False))
    assert resp.status_code == 200
    found = resp.json()["cards"]
    assert len(found) == 1 and found[0]["indicator"] == "warning"
    assert EPIC_MEDICATIONS[0] in found[0]["detail"]
    assert "MedicationRequest/seed-a-epic-rtx-order" in found[0]["detail"]


def test_a_result_coded_only_locally_reaches_the_rules_in_query_mode(http, service_url, fhir_base_url):
    """Jo-1 with the lab's own code and no LOINC: only the laboratory search finds it."""
    pid = "seed-a-local-jo1"
    bundle = load_bundle("seed-a-epic", TODAY)
    resources = renamed([e["resource"] for e in bundle["entry"]], "seed-a-epic", pid)
    jo1 = next(r for r in resources if r["resourceType"] == "Observation" and "Jo-1" in r["code"]["text"])
    jo1["code"]["coding"] = [c for c in jo1["code"]["coding"] if c["system"] == EPIC_LOCAL_LAB]
    jo1["effectiveDateTime"] = f"{TODAY.replace(year=TODAY.year - 2).isoformat()}T09:00:00Z"
    from fhir_fixtures.build import transaction

    post_bundle(fhir_base_url, transaction(resources))
    body = with_fhir(load_request("seed-a-epic", TODAY), fhir_base_url)
    body = json.loads(json.dumps(body).replace("seed-a-epic", pid))
    resp = post(http, service_url, body)
    assert resp.status_code == 200, resp.text
    detail = next(c["detail"] for c in resp.json()["cards"] if c["source"]["topic"]["code"] == "indication")
    assert "anti-synthetase antibody positive" in detail and f"Observation/{jo1['id']}" in detail

    # The LOINC-filtered template alone (what a prefetch carries) does not see it.
    coded = http.get(f"{fhir_base_url}/{prefetch_templates()['observations'].replace('{{context.patientId}}', pid)}",
                     timeout=10).json()
    assert jo1["id"] not in {e["resource"]["id"] for e in coded.get("entry", [])}


@pytest.mark.parametrize("name", ["seed-a", "seed-a-epic", "seed-b", "igg-low", "pv-overdue"])
def test_a_server_ignoring_sort_and_count_gives_the_same_cards(name, http, service_url, fhir_base_url):
    direct = with_fhir(load_request(name, TODAY), fhir_base_url)
    pid = direct["context"]["patientId"]
    expected = cards(http, service_url, direct, pid)
    with unsorted_fhir_server(fhir_base_url, page_size=4) as proxy:
        base = proxied_base(proxy, fhir_base_url)
        app = create_app(make_settings(allowed_fhir_servers=(base,)))
        with serve_in_thread(app) as url:
            assert cards(http, url, with_fhir(direct, base), pid) == expected
    assert any("_offset=" in p for p in proxy.seen)  # it really paged, 4 entries at a time
