"""Medication readings inlined or indexed for speed (clinical/medications.py, fhir/medications.py,
rituximab_history.py): the same answers as the general readers."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from service.clinical.fhir_values import (
    codings,
    concept_text,
    effective_datetime,
    is_entered_in_error,
    status_of,
    text_and_codings,
)
from service.clinical.medications import RXNORM, medication_concept
from service.clinical.products import match_concept, match_text
from service.clinical.record import PatientRecord
from service.clinical.rituximab_history import prior_doses
from service.fhir.client import FetchResult, collect_bundle
from service.fhir.medications import prefetched_medications
from tests import records

_SCALAR = st.sampled_from([None, 0, 2, "", "x", "Rituximab", RXNORM, ["a"]])
_CODING = st.fixed_dictionaries(
    {"code": st.sampled_from(["1000", "121191", "x", 5, None])},
    optional={"system": st.sampled_from([None, "", 0, RXNORM, "http://local", 3]), "display": _SCALAR},
) | _SCALAR
_CONCEPT = st.fixed_dictionaries({}, optional={"coding": st.lists(_CODING, max_size=3) | _CODING, "text": _SCALAR})


@settings(max_examples=500, deadline=None)
@given(_CONCEPT | st.lists(_CONCEPT, max_size=2) | _SCALAR)
def test_text_and_codings_is_concept_text_and_codings(concept: Any) -> None:
    assert text_and_codings(concept) == (concept_text(concept), codings(concept))


def test_text_and_codings_of_a_usual_drug() -> None:
    concept = {"text": "Methotrexate 2.5 MG Oral Tablet",
               "coding": [{"system": RXNORM, "code": "105586", "display": "Methotrexate 2.5 MG"},
                          {"system": "http://local", "code": "MTX"}]}
    assert text_and_codings(concept) == ("methotrexate 2.5 mg oral tablet methotrexate 2.5 mg",
                                     [(RXNORM, "105586", "Methotrexate 2.5 MG"), ("http://local", "MTX", "")])


_RESOURCE = st.fixed_dictionaries(
    {"resourceType": st.sampled_from(["Medication", "Medication", "Observation", "OperationOutcome", 3]),
     "id": st.sampled_from(["m1", "m2", "", 7, None])},
)
_ENTRY = st.fixed_dictionaries({"resource": _RESOURCE}) | st.fixed_dictionaries({}, optional={"resource": _SCALAR}) | _SCALAR
_BUNDLE = st.fixed_dictionaries({"resourceType": st.sampled_from(["Bundle", "Bundle", "Medication"]),
                                 "entry": st.lists(_ENTRY, max_size=5) | _ENTRY})


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), _BUNDLE | _SCALAR, max_size=3))
def test_prefetched_medications_reads_bundles_as_collect_bundle_does(prefetch: dict[str, Any]) -> None:
    """prefetched_medications inlines collect_bundle(); the same Medications found, the last of an id kept."""
    expected: dict[str, Any] = {}
    for value in prefetch.values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            collected = FetchResult()
            collect_bundle(value, ("Medication",), collected)
            for m in collected.resources:
                if type(m.get("id")) is str and m["id"]:
                    expected[f"Medication/{m['id']}"] = m
    found = prefetched_medications(prefetch)
    assert list(found) == list(expected) and all(found[k] is expected[k] for k in found)


# Rituximab history reads the medication index, which names each distinct drug's product once.
_HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
_NDC = "http://hl7.org/fhir/sid/ndc"
_DRUG_CODING = st.fixed_dictionaries(
    {"code": st.sampled_from(["121191", "2273521", "J9312", "Q5115", "50242005110", "5024-2005-11", "8640", "x"])},
    optional={"system": st.sampled_from([RXNORM, _HCPCS, _NDC, "http://local", ""])},
)
_DRUG = st.fixed_dictionaries({}, optional={
    "coding": st.lists(_DRUG_CODING, max_size=2),
    "text": st.sampled_from(["Rituximab 500 MG", "Truxima", "ruxience infusion", "prednisone", "nonrituxan", ""]),
})
_MEDICATION_RESOURCE = st.fixed_dictionaries(
    {"resourceType": st.sampled_from(["MedicationAdministration", "MedicationStatement", "MedicationRequest"]),
     "id": st.sampled_from(["m1", "m2", "m3", "draft1"]),
     "status": st.sampled_from(["completed", "active", "stopped", "not-done", "draft", "entered-in-error",
                                "cancelled", "not-taken", "on-hold"]),
     "medicationCodeableConcept": _DRUG},
    optional={"effectiveDateTime": st.sampled_from(["2026-01-05", "2025-06-01T10:00:00Z", "2027-01-01", "bad"]),
              "authoredOn": st.sampled_from(["2026-03-01", "2024-12"]),
              "dosage": st.sampled_from([{"dose": {"value": 500, "unit": "mg"}}, {"dose": {"value": 1, "code": "g"}}]),
              "verificationStatus": st.just({"coding": [{"code": "refuted"}]})},
)


def _doses_read_resource_by_resource(record: PatientRecord) -> list[Any]:
    """prior_doses() as it read the record before the index: each resource's product matched on its own."""
    not_given = {"not-done", "not-taken", "entered-in-error", "cancelled", "draft", "stopped"}

    def collect(resources: tuple[dict[str, Any], ...]) -> list[Any]:
        out = []
        for r in resources:
            if is_entered_in_error(r) or status_of(r) in not_given:
                continue
            concept = medication_concept(r, record)
            hit = match_concept(concept)
            key = hit[0] if hit else match_text(concept_text(concept))
            when = effective_datetime(r)
            if key is None or when is None or when > record.now:
                continue
            out.append((when, key, r.get("resourceType", ""), r.get("id")))
        return out

    doses = collect(record.medication_administrations)
    if not doses:
        doses = collect(record.medication_statements) + collect(record.medication_requests)
    return sorted(doses, key=lambda d: d[0])


@settings(max_examples=400, deadline=None)
@given(st.lists(_MEDICATION_RESOURCE, max_size=8))
def test_rituximab_history_from_the_index_finds_what_a_walk_of_each_resource_finds(resources: list[Any]) -> None:
    record = records.record(*resources)
    found = [(d.when, d.product_key, d.resource_type, d.resource_id) for d in prior_doses(record)]
    assert found == _doses_read_resource_by_resource(record)
