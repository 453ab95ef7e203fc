"""Medication exposure: which drugs of a class the patient is on or has tried.

Reads MedicationStatement, MedicationRequest and MedicationAdministration
(the draft orders under review are not history).  A drug is recognised by
its RxNorm ingredient code or by name in its text (orders usually carry
SCD/SBD codes, not ingredients), following ``medicationReference`` to a
Medication in the record.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from typing import Any, NamedTuple

from service.clinical.fhir_values import (
    as_list,
    effective_datetime,
    is_entered_in_error,
    parse_datetime,
    status_of,
    text_and_codings,
)
from service.clinical.products import match_codings, match_text
from service.clinical.record import PatientRecord, Resource
from service.knowledge import load

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

# Statuses that mean "currently taking"; everything else (completed, stopped,
# not-taken excluded) is past use.
_ACTIVE = {"active", "intended", "on-hold"}
_NEVER_TAKEN = {"not-taken", "entered-in-error", "cancelled", "draft"}


class MedicationUse(NamedTuple):
    """One record of a drug: what, current or past, when, and where it came from.

    A named tuple (immutable, read by attribute), built without the
    ``object.__setattr__`` per field of a frozen dataclass."""

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


#: (resource, drug concept, lower-cased text, RxNorm codes) of one medication resource
_Use = tuple[Resource, Any, str, tuple[str, ...]]
#: a medication resource naming a rituximab product, and that product's key (products.yaml)
RituximabUse = tuple[Resource, str]


class MedicationIndex:
    """Every medication resource read once per record: the uses of a drug class, and of rituximab.

    A heavy chart has hundreds of refills of a few drugs: each distinct drug
    (text and codings) is matched against the classes and the rituximab
    products once, not once per refill."""

    def __init__(self, record: PatientRecord) -> None:
        #: uses of a drug of some class (rituximab itself, for one, is of none)
        self.uses: list[_Use] = []
        #: rituximab administrations, the best evidence of doses given (rituximab_history.py)
        self.rituximab_given: list[RituximabUse] = []
        #: rituximab statements, then requests: the history when no administration is recorded
        self.rituximab_listed: list[RituximabUse] = []
        #: (text, codings) -> (RxNorm codes, of some class?, rituximab product key): refills are read once
        drugs: dict[tuple[str, tuple[tuple[str, str, str], ...]], tuple[tuple[str, ...], bool, str | None]] = {}
        for resources, rituximab in ((record.medication_statements, self.rituximab_listed),
                                     (record.medication_requests, self.rituximab_listed),
                                     (record.medication_administrations, self.rituximab_given)):
            for r in resources:
                if is_entered_in_error(r) or status_of(r) in _NEVER_TAKEN:
                    continue
                concept = medication_concept(r, record)
                text, read = text_and_codings(concept)
                drug = (text, tuple(read))
                known = drugs.get(drug)
                if known is None:
                    known = drugs[drug] = _read_drug(text, read)
                rxnorm, of_a_class, product_key = known
                if of_a_class:
                    self.uses.append((r, concept, text, rxnorm))
                if product_key is not None:
                    rituximab.append((r, product_key))
        #: class key -> its uses, newest first
        self.by_class: dict[str, list[MedicationUse]] = {}


def _read_drug(text: str, read: list[tuple[str, str, str]]) -> tuple[tuple[str, ...], bool, str | None]:
    """(RxNorm or system-less codes, of some class?, rituximab product key) of one distinct drug."""
    rxnorm = tuple(c for s, c, _ in read if not s or s == RXNORM)
    class_codes, class_names = _any_class()
    of_a_class = not (class_codes.isdisjoint(rxnorm) and class_names.search(text) is None)
    by_code = match_codings(read)
    return rxnorm, of_a_class, by_code[0] if by_code else match_text(text)


def medication_index(record: PatientRecord) -> MedicationIndex:
    """The record's MedicationIndex, built on first use."""
    return record.memo("medications", lambda: MedicationIndex(record))


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
    index = medication_index(record)
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
