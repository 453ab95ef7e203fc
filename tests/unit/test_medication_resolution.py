"""Medication references without display: resolved before any rule reads them, or named.

The FHIR server is faked with ``responses`` here to count calls and inject
behaviour a real server would not show (ignoring ``_id``, refusing it);
tests/integration/test_ehr_shapes.py runs the same paths against sekmet-fhir.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from service.fhir import medications as meds
from service.fhir.access import FhirAccess
from service.fhir.client import FhirClient
from tests.scenarios import run_scenario

BASE = "https://ehr.example.org/fhir"
ACCESS = FhirAccess(BASE, "secret-token")
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def medication(mid: str, code: str = "8640", text: str = "prednisone") -> dict[str, Any]:
    return {"resourceType": "Medication", "id": mid, "code": {"coding": [{"system": RXNORM, "code": code}], "text": text}}


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


@pytest.fixture
def executor():
    with ThreadPoolExecutor(max_workers=4) as ex:
        yield ex


def resolve(refs, executor, access=ACCESS):
    import time

    return meds.resolve(refs, access, FhirClient(), executor, time.monotonic() + 3)


def asked_ids(call: Any) -> list[str]:
    return parse_qs(urlsplit(call.request.url).query)["_id"][0].split(",")


@responses.activate
def test_references_are_fetched_as_one_batched_search_with_the_token(executor):
    responses.get(re.compile(BASE + r"/Medication\?.*"), json=searchset(medication("m1"), medication("m2")))
    result = resolve(["Medication/m1", "Medication/m2", f"{BASE}/Medication/m2"], executor)
    assert len(responses.calls) == 1
    assert sorted(asked_ids(responses.calls[0])) == ["m1", "m2"]
    assert responses.calls[0].request.headers["Authorization"] == "Bearer secret-token"
    assert set(result.found) == {"Medication/m1", "Medication/m2", f"{BASE}/Medication/m2"}
    assert result.unresolved == set() and result.requests == 1


@responses.activate
def test_many_references_are_split_into_searches_of_bounded_length(executor):
    responses.get(re.compile(BASE + r"/Medication\?.*"), json=searchset())
    result = resolve([f"Medication/m{i}" for i in range(120)], executor)
    assert sorted(len(asked_ids(c)) for c in responses.calls) == [20, 50, 50]
    assert len(result.unresolved) == 120  # the server has none of them


@responses.activate
def test_a_server_ignoring_id_cannot_add_other_drugs(executor):
    responses.get(re.compile(BASE + r"/Medication\?.*"),
                  json=searchset(medication("m1"), medication("other", "121191", "rituximab")))
    result = resolve(["Medication/m1"], executor)
    assert set(result.found) == {"Medication/m1"}


@responses.activate
def test_a_server_refusing_id_searches_gets_one_read_per_medication(executor):
    responses.get(re.compile(BASE + r"/Medication\?.*"), status=400)
    responses.get(BASE + "/Medication/m1", json=medication("m1"))
    responses.get(BASE + "/Medication/m2", status=404)
    result = resolve(["Medication/m1", "Medication/m2"], executor)
    assert set(result.found) == {"Medication/m1"}
    assert result.unresolved == {"Medication/m2"} and result.error is None
    assert len(responses.calls) == 3


@responses.activate
def test_references_this_service_may_not_fetch_are_named_not_fetched(executor):
    refs = ["https://other.example.com/fhir/Medication/m1", "Medication/a&_id=b", "Medication/" + "x" * 65]
    result = resolve(refs, executor)
    assert len(responses.calls) == 0
    assert result.unresolved == set(refs)


@responses.activate
def test_a_failed_fetch_leaves_every_reference_unresolved(executor):
    responses.get(re.compile(BASE + r"/Medication\?.*"), status=503)
    result = resolve(["Medication/m1"], executor)
    assert result.unresolved == {"Medication/m1"} and result.error == "HTTP 503"


def _without_medications(bundle: dict[str, Any], request: dict[str, Any]) -> None:
    """Prefetch-only mode with an EHR that sends references but not the Medications."""
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Medication"]


def _draft_medication_sent(bundle: dict[str, Any], request: dict[str, Any]) -> None:
    rtx = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == "seed-a-epic-med-2273521")
    _without_medications(bundle, request)
    request["context"]["draftOrders"]["entry"].append({"resource": rtx})


def test_prefetch_only_with_unresolvable_history_names_the_references_and_warns_nothing_false():
    outcome = run_scenario("seed-a-epic", edit=_draft_medication_sent)
    by_topic = {c.topic: c for c in outcome.cards}
    # No "no glucocorticoid plus immunosuppressant", no "HBV screening missing", and no
    # "criteria met" either: the prerequisites were not checked.
    assert list(by_topic) == ["data-access"]
    detail = by_topic["data-access"].detail
    # The rituximab Medication came with the draft order, so the infusions are known.
    assert "Medications in the record could not be identified: Medication/seed-a-epic-med-68149, " \
        "Medication/seed-a-epic-med-8640." not in detail
    assert "could not be resolved: Medication/seed-a-epic-med-68149, Medication/seed-a-epic-med-8640." in detail
    assert "Hepatitis B screening" in detail and "Prerequisites (prior therapy)" in detail


def test_rituximab_order_whose_medication_cannot_be_resolved_is_never_answered_with_silence():
    outcome = run_scenario("seed-a-epic", edit=_without_medications)
    assert [c.topic for c in outcome.cards] == ["data-access"]
    card = outcome.cards[0]
    assert card.indicator == "warning"
    assert "Medication/seed-a-epic-med-2273521" in card.detail
    assert "MedicationRequest/seed-a-epic-rtx-order" in card.detail
    assert outcome.rituximab_orders == 0


def test_draft_medication_from_the_prefetch_identifies_the_order():
    outcome = run_scenario("seed-a-epic")  # the Medications ride in the prefetch Bundles
    assert outcome.rituximab_orders == 1
    assert "data-access" not in {c.topic for c in outcome.cards}


def test_a_reference_with_a_display_is_not_called_unknown():
    def displayed(bundle, request):
        _draft_medication_sent(bundle, request)
        names = {"seed-a-epic-med-68149": "mycophenolate mofetil 500 mg tablet",
                 "seed-a-epic-med-8640": "prednisone 10 mg tablet",
                 "seed-a-epic-med-2273521": "rituximab-pvvr (Ruxience) 10 mg/mL"}
        for e in bundle["entry"]:
            ref = e["resource"].get("medicationReference")
            if ref:
                ref["display"] = names[ref["reference"].split("/")[1]]

    outcome = run_scenario("seed-a-epic", edit=displayed)
    assert {(c.topic, c.indicator) for c in outcome.cards} == {("indication", "info")}
