"""Medication exposure: which drugs of a class the patient is on or has tried.

Reads MedicationStatement, MedicationRequest and MedicationAdministration
(the draft orders under review are not history).  A drug is recognised by
its RxNorm ingredient code or by name in its text (orders usually carry
SCD/SBD codes, not ingredients), following ``medicationReference`` to a
Medication in the record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from service.clinical.fhir_values import (
    as_list,
    codings,
    concept_text,
    effective_datetime,
    is_entered_in_error,
    parse_datetime,
    status_of,
)
from service.clinical.record import PatientRecord, Resource
from service.knowledge import load

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

# Statuses that mean "currently taking"; everything else (completed, stopped,
# not-taken excluded) is past use.
_ACTIVE = {"active", "intended", "on-hold"}
_NEVER_TAKEN = {"not-taken", "entered-in-error", "cancelled", "draft"}


@dataclass(frozen=True)
class MedicationUse:
    """One record of a drug: what, current or past, when, and where it came from."""

    resource_type: str
    resource_id: str | None
    name: str
    code: str | None
    active: bool
    start: datetime | None
    end: datetime | None
    status: str
    resource: Resource


def medication_concept(resource: Resource, record: PatientRecord) -> Any:
    """The CodeableConcept naming the drug (following medicationReference)."""
    if "medicationCodeableConcept" in resource:
        return resource["medicationCodeableConcept"]
    ref = resource.get("medicationReference")
    if isinstance(ref, dict):
        target = ref.get("reference")
        if isinstance(target, str):
            if target.startswith("#"):
                for c in as_list(resource.get("contained")):
                    if isinstance(c, dict) and c.get("id") == target[1:]:
                        return c.get("code")
            med = record.medications.get(target)
            if med:
                return med.get("code")
        if isinstance(ref.get("display"), str):
            return {"text": ref["display"]}
    return None


@cache
def _class_matchers(class_key: str) -> tuple[frozenset[str], re.Pattern[str], str]:
    entry = load("medication_classes")[class_key]
    names = "|".join(re.escape(n) for n in sorted(entry["names"], key=len, reverse=True))
    return frozenset(entry["rxnorm"]), re.compile(rf"(?<![a-z])(?:{names})"), entry["display"]


def _uses(record: PatientRecord) -> list[tuple[Resource, Any, str, tuple[str, ...]]]:
    """(resource, drug concept, lower-cased text, RxNorm codes) of every medication
    resource, read once per record (a heavy chart has hundreds of refills)."""

    def build() -> list[tuple[Resource, Any, str, tuple[str, ...]]]:
        out = []
        for r in (*record.medication_statements, *record.medication_requests,
                  *record.medication_administrations):
            if is_entered_in_error(r) or status_of(r) in _NEVER_TAKEN:
                continue
            concept = medication_concept(r, record)
            rxnorm = tuple(c for s, c, _ in codings(concept) if not s or s == RXNORM)
            out.append((r, concept, concept_text(concept), rxnorm))
        return out

    return record.memo("medication_uses", build)


#: sorts undated uses last when sorting newest first
_UNDATED = datetime.min.replace(tzinfo=UTC)


def _period(resource: Resource) -> tuple[datetime | None, datetime | None]:
    period = resource.get("effectivePeriod")
    if isinstance(period, dict):
        return parse_datetime(period.get("start")), parse_datetime(period.get("end"))
    validity = (resource.get("dispenseRequest") or {}).get("validityPeriod") if isinstance(
        resource.get("dispenseRequest"), dict) else None
    start = effective_datetime(resource)
    end = parse_datetime(validity.get("end")) if isinstance(validity, dict) else None
    return start, end


def uses_of_class(record: PatientRecord, class_key: str) -> list[MedicationUse]:
    """Every record of a drug of ``class_key`` (medication_classes.yaml), newest first."""
    return list(record.memo(f"uses_of_class:{class_key}", lambda: _find_uses(record, class_key)))


def _find_uses(record: PatientRecord, class_key: str) -> list[MedicationUse]:
    codes, names, _ = _class_matchers(class_key)
    found = []
    for resource, concept, text, rxnorm in _uses(record):
        code = next((c for c in rxnorm if c in codes), None)
        match = names.search(text)
        if code is None and match is None:
            continue
        start, end = _period(resource)
        status = status_of(resource) or "unknown"
        rtype = resource.get("resourceType", "")
        active = status in _ACTIVE and rtype != "MedicationAdministration"
        label = concept.get("text") if isinstance(concept, dict) else None  # a broken feed may send a list
        found.append(MedicationUse(
            resource_type=rtype, resource_id=resource.get("id"),
            name=(label if isinstance(label, str) else None) or (match.group(0) if match else code) or class_key,
            code=code, active=active, start=start, end=end, status=status, resource=resource,
        ))
    found.sort(key=lambda u: u.start or _UNDATED, reverse=True)
    return found


def class_display(class_key: str) -> str:
    return _class_matchers(class_key)[2]
