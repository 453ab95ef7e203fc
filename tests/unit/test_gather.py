"""Prefetch-first gathering: each prefetch-key state of the CDS Hooks table.

The FHIR server is faked with ``responses`` here to count calls and inject
failures; tests/integration/ runs the same paths against a real server.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
import responses

from service.fhir.access import FhirAccess
from service.fhir.client import FhirClient
from service.fhir.gather import PrefetchInsufficient, gather_record
from service.fhir.queries import PREFETCH_TYPES

BASE = "https://ehr.example.org/fhir"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
ACCESS = FhirAccess(BASE, "secret-token")


def bundle(*resources, next_url=None):
    b = {"resourceType": "Bundle", "type": "searchset",
         "entry": [{"resource": r} for r in resources]}
    if next_url:
        b["link"] = [{"relation": "next", "url": next_url}]
    return b


def full_prefetch():
    pre = {key: bundle() for key in PREFETCH_TYPES}
    pre["patient"] = {"resourceType": "Patient", "id": "p1"}
    pre["conditions"] = bundle({"resourceType": "Condition", "id": "c1"})
    return pre


@pytest.fixture
def executor():
    with ThreadPoolExecutor(max_workers=8) as ex:
        yield ex


def gather(prefetch, access=ACCESS, executor=None, client=None, deadline=3.0):
    return gather_record("p1", prefetch, access, client or FhirClient(), executor, deadline, NOW)


@responses.activate
def test_complete_prefetch_makes_zero_queries(executor):
    record, stats = gather(full_prefetch(), executor=executor)
    assert len(responses.calls) == 0
    assert stats.queries == 0
    assert record.conditions[0]["id"] == "c1"
    assert record.patient == {"resourceType": "Patient", "id": "p1"}
    assert set(record.origins.values()) == {"prefetch"}


@responses.activate
def test_null_and_empty_bundle_mean_no_data(executor):
    pre = full_prefetch()
    pre["patient"] = None
    pre["observations"] = {"resourceType": "Bundle", "type": "searchset", "total": 0}
    record, stats = gather(pre, executor=executor)
    assert len(responses.calls) == 0
    assert record.patient is None and record.observations == ()


@responses.activate
def test_absent_and_operation_outcome_keys_are_queried_with_the_token(executor):
    pre = full_prefetch()
    del pre["observations"]
    pre["allergies"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}
    responses.get(re.compile(BASE + r"/Observation\?.*"),
                  json=bundle({"resourceType": "Observation", "id": "o1"}))
    responses.get(re.compile(BASE + r"/AllergyIntolerance\?.*"),
                  json=bundle({"resourceType": "AllergyIntolerance", "id": "a1"}))
    record, stats = gather(pre, executor=executor)
    # Observations: the LOINC search and the laboratory-category search (local codes).
    assert len(responses.calls) == 3
    assert all(c.request.headers["Authorization"] == "Bearer secret-token" for c in responses.calls)
    obs_urls = [unquote(c.request.url) for c in responses.calls if "/Observation" in c.request.url]
    coded = next(u for u in obs_urls if "code=" in u)
    assert "patient=p1" in coded and "_sort=-date" in coded
    lab = next(u for u in obs_urls if "category=" in u)
    assert "patient=p1" in lab and "observation-category|laboratory" in lab and "date=ge2021-10-31" in lab
    # Both searches returned o1: it is in the record once.
    assert [o["id"] for o in record.observations] == ["o1"] and record.allergies[0]["id"] == "a1"
    assert record.origins["observations"] == "query"
    assert record.origins["conditions"] == "prefetch"


def test_missing_data_without_fhir_server_raises(executor):
    pre = full_prefetch()
    del pre["immunizations"]
    with pytest.raises(PrefetchInsufficient) as err:
        gather(pre, access=None, executor=executor)
    assert err.value.keys == ["immunizations"]


@responses.activate
def test_failed_query_marks_the_section_unavailable(executor):
    pre = full_prefetch()
    del pre["observations"]
    del pre["immunizations"]
    responses.get(re.compile(BASE + r"/Observation\?.*"), status=503,
                  json={"resourceType": "OperationOutcome", "issue": []})
    responses.get(re.compile(BASE + r"/Immunization\?.*"), json=bundle())
    record, stats = gather(pre, executor=executor)
    assert record.unavailable == {"observations"}
    assert stats.errors == {"observations": "HTTP 503", "observations:laboratory": "HTTP 503"}
    assert record.immunizations == ()


@responses.activate
def test_a_failed_laboratory_search_leaves_the_coded_results_marked_read_in_part(executor):
    pre = full_prefetch()
    del pre["observations"]
    responses.get(re.compile(BASE + r"/Observation\?patient=p1&code=.*"),
                  json=bundle({"resourceType": "Observation", "id": "o1"}))
    responses.get(re.compile(BASE + r"/Observation\?patient=p1&category=.*"), status=500)
    record, stats = gather(pre, executor=executor)
    assert record.unavailable == frozenset() and record.incomplete == {"observations"}
    assert [o["id"] for o in record.observations] == ["o1"]


@responses.activate
def test_locally_coded_lab_results_reach_the_record_in_query_mode(executor):
    pre = full_prefetch()
    del pre["observations"]
    local = {"resourceType": "Observation", "id": "o-local", "status": "final",
             "code": {"coding": [{"system": "urn:oid:1.2.3", "code": "JO1"}], "text": "Jo-1 antibody"}}
    responses.get(re.compile(BASE + r"/Observation\?patient=p1&code=.*"), json=bundle())
    responses.get(re.compile(BASE + r"/Observation\?patient=p1&category=.*"), json=bundle(local))
    record, _ = gather(pre, executor=executor)
    assert [o["id"] for o in record.observations] == ["o-local"]


@responses.activate
def test_medications_in_the_prefetch_are_not_fetched_again(executor):
    pre = full_prefetch()
    statement = {"resourceType": "MedicationStatement", "id": "s1", "medicationReference": {"reference": "Medication/m1"}}
    pre["medicationStatements"] = bundle(statement, {"resourceType": "Medication", "id": "m1"})
    pre["medicationRequests"] = bundle({"resourceType": "MedicationRequest", "id": "r1",
                                        "medicationReference": {"reference": "Medication/m2"}})
    responses.get(re.compile(BASE + r"/Medication\?_id=m2$"), json=bundle({"resourceType": "Medication", "id": "m2"}))
    record, stats = gather(pre, executor=executor)
    assert len(responses.calls) == 1 and stats.queries == 1
    assert set(record.medications) == {"Medication/m1", "Medication/m2"} and record.unresolved == {}


def test_prefetch_only_unresolved_references_are_recorded_per_section(executor):
    pre = full_prefetch()
    pre["medicationAdministrations"] = bundle(
        {"resourceType": "MedicationAdministration", "id": "a1", "medicationReference": {"reference": "Medication/m9"}},
        {"resourceType": "MedicationAdministration", "id": "a2",
         "medicationReference": {"reference": "Medication/m8", "display": "rituximab 1000 mg"}})
    record, stats = gather(pre, access=None, executor=executor)
    # m8 has a display that names the drug; m9 is a drug nobody can see.
    assert record.unresolved == {"medicationAdministrations": ("Medication/m9",)}
    assert stats.unresolved_medications == {"Medication/m9"}


@responses.activate
def test_paging_follows_same_origin_next_links(executor):
    pre = full_prefetch()
    del pre["observations"]
    page2 = BASE + "/Observation?patient=p1&_offset=1"
    responses.get(page2, json=bundle({"resourceType": "Observation", "id": "o2"}))
    responses.get(re.compile(BASE + r"/Observation\?patient=p1&code=.*"),
                  json=bundle({"resourceType": "Observation", "id": "o1"}, next_url=page2))
    record, stats = gather(pre, executor=executor)
    assert [o["id"] for o in record.observations] == ["o1", "o2"]
    assert stats.queries == 2


@responses.activate
def test_prefetch_next_link_is_followed(executor):
    pre = full_prefetch()
    page2 = BASE + "/Condition?patient=p1&_offset=1"
    pre["conditions"] = bundle({"resourceType": "Condition", "id": "c1"}, next_url=page2)
    responses.get(page2, json=bundle({"resourceType": "Condition", "id": "c2"}))
    record, _ = gather(pre, executor=executor)
    assert [c["id"] for c in record.conditions] == ["c1", "c2"]


@responses.activate
def test_cross_origin_next_link_is_not_followed(executor):
    pre = full_prefetch()
    pre["conditions"] = bundle({"resourceType": "Condition", "id": "c1"},
                               next_url="https://attacker.example/steal?x=1")
    record, _ = gather(pre, executor=executor)
    assert len(responses.calls) == 0
    assert [c["id"] for c in record.conditions] == ["c1"]


@responses.activate
def test_looping_next_links_stop(executor):
    pre = full_prefetch()
    del pre["observations"]
    loop = BASE + "/Observation?loop=1"
    responses.get(loop, json=bundle({"resourceType": "Observation", "id": "o2"}, next_url=loop))
    responses.get(re.compile(BASE + r"/Observation\?patient=p1&code=.*"),
                  json=bundle({"resourceType": "Observation", "id": "o1"}, next_url=loop))
    record, stats = gather(pre, executor=executor)
    assert stats.queries == 2 and record.unavailable == frozenset()


@responses.activate
def test_page_cap_bounds_paging(executor):
    pre = full_prefetch()
    del pre["observations"]
    for i in range(10):
        responses.get(BASE + f"/Observation?page={i}",
                      json=bundle({"resourceType": "Observation", "id": f"o{i}"},
                                  next_url=BASE + f"/Observation?page={i + 1}"))
    responses.get(re.compile(BASE + r"/Observation\?patient=p1&code=.*"),
                  json=bundle(next_url=BASE + "/Observation?page=0"))
    _, stats = gather(pre, executor=executor, client=FhirClient(page_cap=3))
    assert stats.queries == 3


@responses.activate
def test_operation_outcome_entries_are_not_data(executor):
    pre = full_prefetch()
    pre["conditions"] = bundle({"resourceType": "Condition", "id": "c1"},
                               {"resourceType": "OperationOutcome", "issue": []})
    record, _ = gather(pre, executor=executor)
    assert [c["resourceType"] for c in record.conditions] == ["Condition"]


@responses.activate
def test_medications_from_included_entries_are_kept(executor):
    pre = full_prefetch()
    pre["medicationRequests"] = bundle(
        {"resourceType": "MedicationRequest", "id": "r1", "medicationReference": {"reference": "Medication/m1"}},
        {"resourceType": "Medication", "id": "m1", "code": {"text": "Ruxience"}},
    )
    record, _ = gather(pre, executor=executor)
    assert "Medication/m1" in record.medications
    assert [r["id"] for r in record.medication_requests] == ["r1"]


@responses.activate
@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"body": "not json"}, "response is not valid JSON"),
        ({"json": {"resourceType": "Patient", "id": "x"}}, "expected a Bundle, got Patient"),
        ({"json": [1, 2]}, "response is not a FHIR resource"),
        ({"status": 401}, "HTTP 401"),
        ({"status": 302, "headers": {"Location": "https://elsewhere.example/"}}, "HTTP 302 redirect not followed"),
    ],
)
def test_bad_server_answers_become_errors_not_exceptions(executor, kwargs, error):
    pre = full_prefetch()
    del pre["conditions"]
    responses.get(re.compile(BASE + r"/Condition\?.*"), **kwargs)
    record, stats = gather(pre, executor=executor)
    assert stats.errors["conditions"] == error
    assert "conditions" in record.unavailable


@responses.activate
def test_response_over_the_size_cap_is_refused(executor):
    pre = full_prefetch()
    del pre["conditions"]
    big = bundle(*({"resourceType": "Condition", "id": str(i), "note": [{"text": "x" * 100}]}
                   for i in range(200)))
    responses.get(re.compile(BASE + r"/Condition\?.*"), json=big)
    _, stats = gather(pre, executor=executor, client=FhirClient(max_response_bytes=5000))
    assert stats.errors["conditions"] == "response larger than the size cap"


@responses.activate
def test_patient_read_404_means_no_patient(executor):
    pre = full_prefetch()
    del pre["patient"]
    responses.get(BASE + "/Patient/p1", status=404)
    record, stats = gather(pre, executor=executor)
    assert record.patient is None and not record.unavailable
