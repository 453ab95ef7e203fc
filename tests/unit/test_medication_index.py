"""Medication readings inlined for speed (clinical/medications.py, fhir/medications.py): the same answers as the general readers."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from service.clinical.fhir_values import codings, concept_text
from service.clinical.medications import RXNORM, drug_reading
from service.fhir.client import FetchResult, collect_bundle
from service.fhir.medications import prefetched_medications

_SCALAR = st.sampled_from([None, 0, 2, "", "x", "Rituximab", RXNORM, ["a"]])
_CODING = st.fixed_dictionaries(
    {"code": st.sampled_from(["1000", "121191", "x", 5, None])},
    optional={"system": st.sampled_from([None, "", 0, RXNORM, "http://local", 3]), "display": _SCALAR},
) | _SCALAR
_CONCEPT = st.fixed_dictionaries({}, optional={"coding": st.lists(_CODING, max_size=3) | _CODING, "text": _SCALAR})


@settings(max_examples=500, deadline=None)
@given(_CONCEPT | st.lists(_CONCEPT, max_size=2) | _SCALAR)
def test_drug_reading_is_concept_text_and_the_rxnorm_codes(concept: Any) -> None:
    rxnorm = tuple(c for s, c, _ in codings(concept) if not s or s == RXNORM)
    assert drug_reading(concept) == (concept_text(concept), rxnorm)


def test_drug_reading_of_a_usual_concept() -> None:
    concept = {"text": "Methotrexate 2.5 MG Oral Tablet",
               "coding": [{"system": RXNORM, "code": "105586", "display": "Methotrexate 2.5 MG"},
                          {"system": "http://local", "code": "MTX"}]}
    assert drug_reading(concept) == ("methotrexate 2.5 mg oral tablet methotrexate 2.5 mg", ("105586",))


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
