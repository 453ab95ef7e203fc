"""The same patient as large EHRs send it: Epic-shaped and Cerner-shaped copies.

A shaped copy keeps every clinical fact of the clean fixture and changes only
how it is written, so it must give the same cards:

- **Epic**: MedicationStatement, MedicationRequest and MedicationAdministration
  carry ``medicationReference`` with no ``display``; the Medication resources
  are separate resources on the server (not contained, not in a search
  result); lab Observations carry the organisation's local code beside LOINC
  (local coding first, as Epic lists it); the draft order references a
  Medication on the server too.
- **Cerner**: lab Observations carry a code set 72 coding after LOINC; the
  problem list is text-only (free-text problems carry no code).

Ids are the clean fixture's with the patient id replaced, so card text can be
compared after mapping one patient id onto the other.
"""

from __future__ import annotations

import json
import re
from typing import Any

EPIC_LOCAL_LAB = "urn:oid:1.2.840.114350.1.13.0.1.7.2.768282"  # Epic component ids (local lab codes)
CERNER_CODE_SET_72 = "https://fhir.cerner.com/ec2458f2-1e24-41c8-b71b-0e701af7583d/codeSet/72"
_MEDICATION_TYPES = ("MedicationStatement", "MedicationRequest", "MedicationAdministration")


def renamed(resources: list[dict[str, Any]], old_id: str, new_id: str) -> list[dict[str, Any]]:
    """A deep copy with every id and reference of patient ``old_id`` moved to ``new_id``."""
    # One pass: the id as a whole string, an id prefix, or a reference's last segment.
    pattern = re.compile(r'(?<=["/])' + re.escape(old_id) + r'(?=["-])')
    return json.loads(pattern.sub(new_id, json.dumps(resources)))  # type: ignore[no-any-return]


def _local_code(n: int, prefix: str) -> str:
    return f"{prefix}{1000 + n}"


class EpicShape:
    """Medications behind references without display; local lab codes beside LOINC."""

    def __init__(self, patient_id: str) -> None:
        self.patient_id = patient_id
        self.medications: dict[str, dict[str, Any]] = {}

    def medication_for(self, concept: dict[str, Any]) -> str:
        """The reference of the (one) Medication resource standing for ``concept``."""
        code = next((c.get("code") for c in concept.get("coding", []) if c.get("code")), None) or "text"
        mid = f"{self.patient_id}-med-{code}"
        code_concept = json.loads(json.dumps(concept))
        self.medications.setdefault(mid, {"resourceType": "Medication", "id": mid, "code": code_concept})
        return f"Medication/{mid}"

    def reshape(self, resource: dict[str, Any], n: int) -> dict[str, Any]:
        r = json.loads(json.dumps(resource))
        if r["resourceType"] in _MEDICATION_TYPES and "medicationCodeableConcept" in r:
            r["medicationReference"] = {"reference": self.medication_for(r.pop("medicationCodeableConcept"))}
        if r["resourceType"] == "Observation" and _is_lab(r):
            display = r["code"].get("text") or ""
            r["code"]["coding"].insert(0, {"system": EPIC_LOCAL_LAB, "code": _local_code(n, ""), "display": display})
        return r

    def resources(self, resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        shaped = [self.reshape(r, n) for n, r in enumerate(resources)]
        return shaped + list(self.medications.values())


def cerner_resources(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Code set 72 beside LOINC on labs; free-text problems."""
    out = []
    for n, resource in enumerate(resources):
        r = json.loads(json.dumps(resource))
        if r["resourceType"] == "Observation" and _is_lab(r):
            display = r["code"].get("text") or ""
            r["code"]["coding"].append({"system": CERNER_CODE_SET_72, "code": _local_code(n, "27"), "display": display,
                                        "userSelected": True})
        if r["resourceType"] == "Condition":
            r["code"] = {"text": r["code"]["text"]}
        out.append(r)
    return out


def _is_lab(observation: dict[str, Any]) -> bool:
    return any(c.get("code") == "laboratory" for cat in observation.get("category", []) for c in cat.get("coding", []))
