"""Dose and interval of the rituximab order against the indication's regimens.

Regimens live in knowledge/regimens.yaml with their sources (label 2.2-2.6;
clinical-rules.md §1.3): the order passes when one regimen of the group fits
its dose per administration and number of doses (course totals only where
the source states one).  mg/m2 orders show the body surface area (Mosteller),
the computed mg and the height and weight used.  Intervals: courses at least
16 weeks apart in autoimmune disease; in oncology, cycles (day 1 of each 21- or
28-day cycle) up to the regimen's number of doses.
"""

from __future__ import annotations

from typing import Any

from service.clinical.dosing import body_surface_area, ordered_dose
from service.clinical.engine import order_rule
from service.clinical.findings import Evidence, Finding
from service.clinical.indications import group_spec, indication_context
from service.clinical.policy import Policy
from service.clinical.products import product
from service.clinical.record import OrderUnderReview, PatientRecord
from service.clinical.regimens import (
    check_dose,
    cycle_run,
    group_regimens,
    is_cycle_pathway,
    regimen_citations,
    regimen_text,
)
from service.clinical.rituximab_history import Dose, courses_before, doses_before
from service.knowledge import load


def _fmt(mg: float) -> str:
    return f"{mg:,.0f} mg"


def _dose_evidence(record: PatientRecord, doses: tuple[Dose, ...]) -> list[Evidence]:
    return [Evidence(d.resource_type, d.resource_id, "Previous rituximab dose",
                     _fmt(d.mg) if d.mg is not None else None, d.when.date().isoformat(),
                     origin=record.origin_of(d.resource_type)) for d in doses]


def _course_interval(record: PatientRecord, order: OrderUnderReview, group: str, count: int,
                     evidence: list[Evidence]) -> tuple[dict[str, Any], list[str]]:
    """Autoimmune courses: the day-14 dose belongs to its course; new courses >= 16 weeks apart."""
    found = courses_before(record, order)
    if not found:
        return {"weeks_since_last_course": None, "same_course": False}, []
    spec = group_regimens(group)
    last = found[-1]
    days = (record.now - last.start).days
    evidence += _dose_evidence(record, last.doses)
    most = max(r.get("administrations", 1) for r in spec["regimens"])
    facts = {"weeks_since_last_course": round(days / 7, 1), "same_course": False}
    if days <= int(load("regimens")["same_course_days"]) and len(last.doses) + count <= most:
        return {**facts, "same_course": True}, []
    weeks = spec["min_weeks_between_courses"]
    if days < weeks * 7:
        return facts, [f"Only {facts['weeks_since_last_course']:g} weeks since the last course started "
                       f"({last.start.date().isoformat()}); courses should be at least {weeks} weeks apart"]
    return facts, []


def _cycle_interval(record: PatientRecord, order: OrderUnderReview, group: str, count: int,
                    evidence: list[Evidence]) -> tuple[dict[str, Any], list[str]]:
    """Oncology: which cycle this is, too soon after the last dose, or beyond a complete regimen."""
    spec = group_regimens(group)
    run = cycle_run(group, doses_before(record, order), record.now)
    facts: dict[str, Any] = {"cycle": run.next_cycle, "cycle_days": spec["cycle_days"],
                             "doses_in_regimen": len(run.doses) if run.ongoing else 0,
                             "max_doses": run.max_administrations, "weeks_since_last_course": None,
                             "same_course": False}
    if not run.ongoing:
        return facts, []
    last = run.doses[-1]
    days = (record.now - last.when).days
    facts["days_since_last_dose"] = days
    evidence += _dose_evidence(record, run.doses[-2:])
    problems = []
    if days < spec["min_days_between_doses"]:
        problems.append(f"Only {days} days since the last dose ({last.when.date().isoformat()}); "
                        f"the regimens give at least {spec['min_days_between_doses']} days between doses")
    if len(run.doses) + count > run.max_administrations:
        problems.append(f"{len(run.doses)} doses of this regimen are documented (since "
                        f"{run.doses[0].when.date().isoformat()}); the regimens have at most "
                        f"{run.max_administrations}: this order goes beyond a completed regimen")
    return facts, problems


@order_rule(
    "dosing.regimen",
    "Dose and interval",
    needs=[
        "conditions",
        "observations",
        "medicationAdministrations",
        "medicationStatements",
        "medicationRequests",
    ],
)
def dose_and_interval(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    ctx = indication_context(record, order)
    if ctx.primary is None:
        return []  # the indication card already says what is missing; no regimen to compare with
    if product(order.product_key).get("oncology_only") and not group_spec(ctx.primary)["oncology"]:
        return []  # wrong product for the indication: the product card says so; no IV regimen applies
    group = ctx.primary
    display = group_spec(group)["short"]
    dose = ordered_dose(order.request)
    citations = regimen_citations(group)
    order_ev = Evidence("MedicationRequest", order.request.get("id"), "Ordered dose",
                        dose.text if dose else "not stated in mg or mg/m2", origin="order")
    if dose is None:
        return [Finding(
            "dosing.regimen", "2", "dosing", "warning",
            "Rituximab dose not stated in mg or mg/m2: dose cannot be checked",
            facts={"indication": display, "regimen": regimen_text(group)},
            evidence=(order_ev,),
            missing=("dosageInstruction.doseAndRate.doseQuantity in mg or mg/m2",),
            citations=citations, override_reasons=("dosing-intended", "documented-elsewhere"))]

    evidence = [order_ev]
    missing: list[str] = []
    size = body_surface_area(record)
    bsa = size.bsa_m2 if size else None
    if size and (dose.per_m2 or any("dose_mg_m2" in r for r in group_regimens(group)["regimens"])):
        evidence += size.evidence
    if dose.per_m2 and bsa is None:
        missing.append("A recent height (LOINC 8302-2) and weight (29463-7) to compute the body surface area")
    checked = check_dose(group, dose, bsa)
    problems = list(checked.problems)
    if checked.matched:
        citations = tuple(checked.matched["citations"])
    count = dose.count or 1
    interval = _cycle_interval if is_cycle_pathway(group) else _course_interval
    interval_facts, interval_problems = interval(record, order, group, count, evidence)
    problems += interval_problems
    facts = {
        "indication": display,
        "pathway": group_regimens(group)["pathway"],
        "regimen": checked.matched["text"] if checked.matched else regimen_text(group),
        "matched_regimen": checked.matched["name"] if checked.matched else None,
        "dose": dose.value,
        "unit": "mg/m2" if dose.per_m2 else "mg",
        "count": count,
        "interval_days": dose.interval_days,
        "dose_mg": checked.mg_per_dose,
        "bsa_m2": bsa,
        "body_size": [f"{e.label} {e.value} ({e.date})" for e in (size.evidence if size else ())],
        **interval_facts,
        "problems": problems,
    }
    if problems or missing:
        return [Finding(
            "dosing.regimen", "2", "dosing", "warning",
            f"Rituximab dose or interval outside the {display} regimen" if problems
            else "Rituximab dose per m2 cannot be checked: no recent height and weight",
            facts=facts, evidence=tuple(evidence), missing=tuple(missing), citations=citations,
            override_reasons=("dosing-intended", "documented-elsewhere"))]
    return [Finding("dosing.regimen", "2", "dosing", "pass", f"Dose and interval within the {display} regimen",
                    facts=facts, evidence=tuple(evidence), citations=citations)]
