"""The record's active conditions with their codings, read once per record.

Several rules look for conditions by code (infection, latent TB, pregnancy,
chronic hepatitis B, the indication): each used to re-check every
condition's status and walk its codings.  Built here once, on first use.
"""

from __future__ import annotations

from service.clinical.fhir_values import codings, condition_is_active, effective_datetime
from service.clinical.findings import Evidence
from service.clinical.record import PatientRecord, Resource

#: (condition, its (system, code, display) codings)
CodedCondition = tuple[Resource, list[tuple[str, str, str]]]


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
