"""Indication matching (clinical/indications.py) with the knowledge data's codes read once per process."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from service.clinical.fhir_values import codings, concept_text
from service.clinical.indications import _finding_codes, _group_codes, _matches, _read
from service.knowledge import load

_DATA = load("indications")
_ICD10, _SNOMED = _DATA["systems"]["icd10"], _DATA["systems"]["snomed"]
_CODES = st.sampled_from(["M33.10", "m33.1", "M05.79", "J84.10", "j84.112", "C83.3", "L10.0", "M31.31",
                          "49420001", "396230008", "40739000", "233703007", "M3", "", "X"])
_CODING = st.fixed_dictionaries({"code": _CODES}, optional={
    "system": st.sampled_from([_ICD10, _SNOMED, "", "http://local"]), "display": st.sampled_from(["", "Shown"])})
_CONCEPT = st.fixed_dictionaries({}, optional={
    "coding": st.lists(_CODING, max_size=3),
    "text": st.sampled_from(["Dermatomyositis", "rheumatoid arthritis with ILD", "Dysphagia", "  ", "x"]),
})


def _matches_from_the_yaml(concept: Any, spec: dict[str, Any]) -> tuple[str, str] | None:
    """The matching as written against indications.yaml itself, each coding and spec read afresh."""
    for system, code, display in codings(concept):
        prefixes = tuple(p.upper() for p in spec.get("icd10_prefixes", []))
        if system in ("", _ICD10) and code.upper().startswith(prefixes):
            return f"{_ICD10}|{code}", display or code
        if system in ("", _SNOMED) and code in spec.get("snomed", []):
            return f"{_SNOMED}|{code}", display or code
    text = concept_text(concept)
    for name in spec.get("names", []):
        if name in text:
            shown = concept.get("text") if isinstance(concept, dict) else None
            return "text", shown if isinstance(shown, str) and shown.strip() else text
    return None


@settings(max_examples=400, deadline=None)
@given(_CONCEPT | st.lists(_CONCEPT, max_size=2))
def test_matching_with_codes_read_once_answers_as_the_yaml_reads(concept: Any) -> None:
    read = _read(concept)
    for key, spec in _DATA["groups"].items():
        assert _matches(concept, _group_codes()[key], _DATA["systems"], read) == _matches_from_the_yaml(concept, spec)
    for entry in ("ild", "dysphagia"):
        assert _matches(concept, _finding_codes(entry), _DATA["systems"], read) == _matches_from_the_yaml(
            concept, _DATA[entry])
