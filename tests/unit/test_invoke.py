"""hooks/invoke.py: the draft orders' Medications and the prefetch's, read once.

``_identify_orders`` reads the prefetch's Medications only for a draft order
whose ``medicationReference`` the draft bundle does not resolve; gather's one
pass over the prefetch collects them otherwise.  The orders found and the
Medications the record ends with must be those of the general path it
replaced: every prefetch Bundle's Medications, then the draft bundle's, then
each planned section's as gather sorts it.  Contained Medications (``#id``)
stay with the resource that contains them.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from service.clinical.policy import Policy
from service.fhir import medications as meds
from service.fhir.client import FhirClient
from service.fhir.gather import GatherStats, gather_record
from service.fhir.queries import PREFETCH_TYPES, query_plan
from service.hooks import invoke
from service.hooks.orders import draft_medications, find_rituximab_orders
from service.hooks.request import HookRequest

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
_IDS = ["m1", "m2", "m3"]


def _medication(mid: str, code: str) -> dict[str, Any]:
    return {"resourceType": "Medication", "id": mid, "code": {"coding": [{"system": RXNORM, "code": code}]}}


#: rituximab, rituximab-pvvr, prednisone
medication = st.builds(_medication, st.sampled_from(_IDS), st.sampled_from(["121191", "2273521", "8640"]))
#: how a draft order or a history entry names its drug: coded, by reference (relative, contained, absolute,
#: versioned, unknown), by text only
drug = st.one_of(
    st.fixed_dictionaries({"medicationCodeableConcept": st.builds(
        lambda code: {"coding": [{"system": RXNORM, "code": code}]}, st.sampled_from(["121191", "8640"]))}),
    st.builds(lambda ref: {"medicationReference": {"reference": ref}},
              st.sampled_from(["Medication/m1", "Medication/m2", "Medication/m9", "#m1", "#m3",
                               "https://ehr.example.org/fhir/Medication/m2", "Medication/m1/_history/2", ""])),
    st.just({"medicationCodeableConcept": {"text": "rituximab 500 mg"}}),
)


@st.composite
def draft_order(draw: st.DrawFn, rid: str) -> dict[str, Any]:
    order = {"resourceType": "MedicationRequest", "id": rid, "status": "draft", "intent": "order", **draw(drug)}
    if draw(st.booleans()):
        order["contained"] = draw(st.lists(medication, max_size=2))
    return order


@st.composite
def bundle(draw: st.DrawFn, rtype: str) -> dict[str, Any]:
    """A searchset with resources of its section, ``_include``d Medications, some holding contained ones."""
    def entry(i: int) -> st.SearchStrategy[dict[str, Any]]:
        own = st.builds(lambda d, c: {"resourceType": rtype, "id": f"{rtype}-{i}", **d, "contained": c},
                        drug, st.lists(medication, max_size=1))
        return st.one_of(own, medication)
    resources = [draw(entry(i)) for i in range(draw(st.integers(0, 4)))]
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


@st.composite
def hook_request(draw: st.DrawFn) -> HookRequest:
    orders = [draw(draft_order(f"order-{i}")) for i in range(draw(st.integers(1, 2)))]
    draft = [*orders, *draw(st.lists(medication, max_size=2))]
    keys = draw(st.lists(st.sampled_from([*PREFETCH_TYPES, "ehrMedications"]), unique=True, max_size=5))
    prefetch = {k: draw(bundle(PREFETCH_TYPES.get(k, "MedicationRequest"))) for k in keys if k != "patient"}
    return HookRequest("order-sign", "h1", "p1", None, None, draft_orders=tuple(draft), prefetch=prefetch)


def _runtime(executor: ThreadPoolExecutor) -> invoke.HookRuntime:
    return invoke.HookRuntime(client=FhirClient(), executor=executor, policy=Policy(), deadline_seconds=3.0,
                              fhir_allowed=lambda url: True)


def _general_path(req: HookRequest) -> tuple[list[Any], dict[str, Any]]:
    """What invoke and gather did before the fold: every Bundle's Medications read up front."""
    known = {**meds.prefetched_medications(req.prefetch), **draft_medications(req.draft_orders)}
    orders = find_rituximab_orders(req.draft_orders, req.selections, None, None, known)
    planned = {k: v for k, v in req.prefetch.items() if k in query_plan("order").templates}
    return orders, {**known, **meds.prefetched_medications(planned)}


@settings(max_examples=300, deadline=None)
@given(hook_request())
def test_orders_and_medications_are_those_of_the_general_path(req: HookRequest) -> None:
    with ThreadPoolExecutor(max_workers=2) as executor:
        runtime = _runtime(executor)
        orders, _, known = invoke._identify_orders(req, None, runtime, time.monotonic() + 3, GatherStats())
        prefetch = {k: req.prefetch.get(k, None) for k in PREFETCH_TYPES} | req.prefetch  # complete: no query
        record, _ = gather_record("p1", prefetch, None, runtime.client, executor, 3.0, NOW,
                                  known_medications=known)
    expected_orders, expected_medications = _general_path(req)
    assert [(o.request["id"], o.product_key, o.matched_by, o.matched_code) for o in orders] == \
        [(o.request["id"], o.product_key, o.matched_by, o.matched_code) for o in expected_orders]
    assert set(record.medications) == set(expected_medications)
    # each under its own id, and never a contained Medication (its id is local to the resource holding it)
    top_level = {id(e["resource"]) for b in req.prefetch.values() for e in b["entry"]} | set(map(id, req.draft_orders))
    assert all(m["id"] == key.removeprefix("Medication/") and id(m) in top_level
               for key, m in record.medications.items())


def test_an_order_coded_in_its_concept_does_not_read_the_prefetch(monkeypatch) -> None:
    def fail(prefetch: Any) -> Any:
        raise AssertionError("the prefetch was walked for Medications before gather")

    monkeypatch.setattr(meds, "prefetched_medications", fail)
    order = {"resourceType": "MedicationRequest", "id": "o1", "status": "draft", "intent": "order",
             "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "121191"}]}}
    req = HookRequest("order-sign", "h1", "p1", None, None, draft_orders=(order,),
                      prefetch={"medicationRequests": {"resourceType": "Bundle", "entry": [
                          {"resource": _medication("m1", "8640")}]}})
    with ThreadPoolExecutor(max_workers=1) as executor:
        orders, unidentified, known = invoke._identify_orders(req, None, _runtime(executor), time.monotonic() + 3,
                                                              GatherStats())
    assert [o.product_key for o in orders] == ["rituximab"] and unidentified == {} and known == {}


def test_an_order_naming_a_prefetched_medication_is_identified_without_a_query() -> None:
    order = {"resourceType": "MedicationRequest", "id": "o1", "status": "draft", "intent": "order",
             "medicationReference": {"reference": "Medication/m2"}}
    req = HookRequest("order-sign", "h1", "p1", None, None, draft_orders=(order,),
                      prefetch={"ehrMedications": {"resourceType": "Bundle", "entry": [
                          {"resource": _medication("m2", "2273521")}]}})
    stats = GatherStats()
    with ThreadPoolExecutor(max_workers=1) as executor:
        orders, unidentified, known = invoke._identify_orders(req, None, _runtime(executor), time.monotonic() + 3,
                                                              stats)
    assert [o.product_key for o in orders] == ["rituximab-pvvr"] and unidentified == {}
    assert set(known) == {"Medication/m2"} and stats.queries == 0
