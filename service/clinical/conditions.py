"""The record's active conditions with their codings, read once per record.

Several rules look for conditions by code (infection, latent TB, pregnancy,
chronic hepatitis B, the indication): each used to re-check every
condition's status and walk its codings.  Built here once, on first use.
"""

from __future__ import annotations

from functools import lru_cache

from service.clinical.fhir_values import codings, condition_is_active, effective_datetime
from service.clinical.findings import Evidence
from service.clinical.record import PatientRecord, Resource

#: (condition, its (system, code, display) codings)
CodedCondition = tuple[Resource, list[tuple[str, str, str]]]
#: (system, code, display, code upper-cased, ICD-10-CM or system-less, SNOMED CT) of one coding
IndexedCoding = tuple[str, str, str, str, bool, bool]

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def active_conditions(record: PatientRecord) -> list[CodedCondition]:
    """Active, not entered-in-error conditions in record order, each with the codings of its code."""
    return record.memo("active_conditions", lambda: [
        (c, codings(c.get("code"))) for c in record.conditions if condition_is_active(c)
    ])


def condition_evidence(record: PatientRecord, condition: Resource, label: str, code: str | None = None) -> Evidence:
    """Card evidence for one condition: its label, onset date and the matched "system|code"."""
    when = effective_datetime(condition)
    return Evidence("Condition", condition.get("id"), label, None, when.date().isoformat() if when else None,
                    code=code, origin=record.origin_of("Condition"))


def _indexed_conditions(record: PatientRecord) -> list[tuple[Resource, list[IndexedCoding]]]:
    """active_conditions() with each coding's code upper-cased and its system classified, once per record."""
    return record.memo("active_conditions:indexed", lambda: [
        (c, [(system, code, display, code.upper(), system.endswith("icd-10-cm") or not system,
              system.endswith("snomed.info/sct")) for system, code, display in coded])
        for c, coded in active_conditions(record)
    ])


@lru_cache(maxsize=256)
def upper_prefixes(prefixes: tuple[str, ...]) -> tuple[str, ...]:
    """The knowledge data's ICD-10-CM prefixes upper-cased, once, not once per coding."""
    return tuple(p.upper() for p in prefixes)


def matching_conditions(
    record: PatientRecord, icd10_prefixes: list[str], snomed: list[str]
) -> list[tuple[Resource, str, str]]:
    """Active conditions coded with one of the ICD-10-CM prefixes or SNOMED codes.

    Returns (condition, "system|code", display).  ICD-10-CM is hierarchical, so
    a prefix (``O09``) names every code below it; SNOMED codes match exactly.
    A coding without a system is read as ICD-10-CM.
    """
    prefixes = upper_prefixes(tuple(icd10_prefixes))
    out = []
    for c, coded in _indexed_conditions(record):
        for system, code, display, upper, icd, sct in coded:
            if icd and upper.startswith(prefixes):
                out.append((c, f"{system or ICD10CM}|{code}", display or code))
                break
            if sct and code in snomed:
                out.append((c, f"{system}|{code}", display or code))
                break
    return out
