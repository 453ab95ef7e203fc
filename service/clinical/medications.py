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
    text_parts,
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


@cache
def _any_class() -> tuple[frozenset[str], re.Pattern[str]]:
    """The codes and names of every class at once: most drugs of a chart are of no class asked about."""
    classes = [entry for entry in load("medication_classes").values() if isinstance(entry, dict) and "names" in entry]
    names = "|".join(re.escape(n) for c in classes for n in sorted(c["names"], key=len, reverse=True))
    return frozenset(code for c in classes for code in c["rxnorm"]), re.compile(rf"(?<![a-z])(?:{names})")


def drug_reading(concept: Any) -> tuple[str, tuple[str, ...]]:
    """(concept_text(), RxNorm or system-less codes) of a drug concept, its codings read once."""
    if type(concept) is not dict:  # a broken feed's list of concepts, or nothing
        return concept_text(concept), tuple(c for s, c, _ in codings(concept) if not s or s == RXNORM)
    read = codings(concept)
    return " ".join(text_parts(concept, read)).lower(), tuple(c for s, c, _ in read if not s or s == RXNORM)


#: (resource, drug concept, lower-cased text, RxNorm codes) of one medication resource
_Use = tuple[Resource, Any, str, tuple[str, ...]]


class _MedicationIndex:
    """Every medication resource read once per record, and the uses of each class asked for.

    A heavy chart has hundreds of refills of a few drugs: each distinct drug
    (text and RxNorm codes) is matched against a class once, not once per refill."""

    def __init__(self, record: PatientRecord) -> None:
        #: uses of a drug of some class (rituximab itself, for one, is of none)
        self.uses: list[_Use] = []
        class_codes, class_names = _any_class()
        #: (text, RxNorm codes) -> of some class?  Refills of one drug are searched once.
        of_a_class: dict[tuple[str, tuple[str, ...]], bool] = {}
        for r in (*record.medication_statements, *record.medication_requests,
                  *record.medication_administrations):
            if is_entered_in_error(r) or status_of(r) in _NEVER_TAKEN:
                continue
            concept = medication_concept(r, record)
            text, rxnorm = drug_reading(concept)
            drug = (text, rxnorm)
            wanted = of_a_class.get(drug)
            if wanted is None:
                wanted = of_a_class[drug] = not (class_codes.isdisjoint(rxnorm) and class_names.search(text) is None)
            if wanted:
                self.uses.append((r, concept, text, rxnorm))
        #: class key -> its uses, newest first
        self.by_class: dict[str, list[MedicationUse]] = {}


def _index(record: PatientRecord) -> _MedicationIndex:
    return record.memo("medications", lambda: _MedicationIndex(record))


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
    index = _index(record)
    found = index.by_class.get(class_key)
    if found is None:
        found = index.by_class[class_key] = _find_uses(index.uses, class_key)
    return list(found)


def _find_uses(uses: list[_Use], class_key: str) -> list[MedicationUse]:
    codes, names, _ = _class_matchers(class_key)
    found = []
    #: (text, RxNorm codes) -> the matching code and name, for a drug already read
    drugs: dict[tuple[str, tuple[str, ...]], tuple[str | None, str | None]] = {}
    for resource, concept, text, rxnorm in uses:
        drug = drugs.get((text, rxnorm))
        if drug is None:
            match = names.search(text)
            drug = drugs[(text, rxnorm)] = (next((c for c in rxnorm if c in codes), None),
                                            match.group(0) if match else None)
        code, matched_name = drug
        if code is None and matched_name is None:
            continue
        start, end = _period(resource)
        status = status_of(resource) or "unknown"
        rtype = resource.get("resourceType", "")
        active = status in _ACTIVE and rtype != "MedicationAdministration"
        label = concept.get("text") if isinstance(concept, dict) else None  # a broken feed may send a list
        found.append(MedicationUse(
            resource_type=rtype, resource_id=resource.get("id"),
            name=(label if isinstance(label, str) else None) or matched_name or code or class_key,
            code=code, active=active, start=start, end=end, status=status, resource=resource,
        ))
    found.sort(key=lambda u: u.start or _UNDATED, reverse=True)
    return found


def class_display(class_key: str) -> str:
    return _class_matchers(class_key)[2]
