"""Active serious infection before rituximab.

Label 5.6 Infections: "not recommended for use in patients with severe, active
infections"; label 5.4: discontinue in patients who develop PML.  The value
set (ICD-10-CM categories, SNOMED codes) and the onset windows are in
knowledge/safety.yaml `infection`.  Problem lists keep stale "active" entries,
so an entry counts only with an onset (or recorded date) inside its window,
or with no date at all and an explicit active status.
"""

from __future__ import annotations

from datetime import timedelta

from service.clinical.conditions import condition_evidence
from service.clinical.engine import order_rule
from service.clinical.fhir_values import codings, effective_datetime, parse_datetime
from service.clinical.findings import Evidence, Finding
from service.clinical.policy import Policy
from service.clinical.record import OrderUnderReview, PatientRecord, Resource
from service.clinical.rules.safety._common import RuleOutput, cfg, matching_conditions

INFECTION = RuleOutput("safety.infection", "infection")


def _is_current(record: PatientRecord, condition: Resource, window_days: int) -> bool:
    when = effective_datetime(condition) or parse_datetime(condition.get("recordedDate"))
    if when is None:
        return any(c == "active" for _, c, _ in codings(condition.get("clinicalStatus")))
    return timedelta(0) <= record.now - when <= timedelta(days=window_days)


def active_infections(record: PatientRecord) -> list[Evidence]:
    conf = cfg("infection")
    out: list[Evidence] = []
    seen: set[int] = set()
    for entry in conf["conditions"]:
        window = entry.get("window_days", conf["window_days"])
        for cond, code, display in matching_conditions(record, entry["icd10_prefixes"], entry["snomed"]):
            if id(cond) not in seen and _is_current(record, cond, window):
                seen.add(id(cond))
                out.append(condition_evidence(record, cond, f"{entry['display']}: {display}", code))
    return out


@order_rule("safety.infection", "Active infection", needs=["conditions"], scope="patient")
def active_infection(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    evidence = active_infections(record)
    if not evidence:
        return []
    names = "; ".join(dict.fromkeys(e.label.split(":")[0] for e in evidence))
    return [INFECTION.finding(
        "warning", f"Active infection documented ({names}): rituximab is not recommended in severe, active infection",
        facts={"state": "active", "window_days": cfg("infection")["window_days"]}, evidence=evidence,
        citations=("label-infections",),
        override_reasons=("benefit-outweighs-risk", "specialist-reviewed", "not-applicable"))]
