"""Dose and interval of the rituximab order against the indication's regimen.

Limits live in knowledge/regimens.yaml with their sources (label §1.1 and
clinical-rules.md §1.3: RA two 1000 mg infusions two weeks apart, courses no
sooner than every 16 weeks; the same floor applied to myopathy; mg/m2
regimens for GPA/MPA, NHL, CLL).  BSA is Mosteller's formula.
"""

from __future__ import annotations

from service.clinical.dosing import body_surface_area, ordered_dose
from service.clinical.engine import order_rule
from service.clinical.findings import Evidence, Finding
from service.clinical.indications import group_spec, indication_context
from service.clinical.policy import Policy
from service.clinical.products import product
from service.clinical.record import OrderUnderReview, PatientRecord
from service.clinical.rituximab_history import courses, prior_doses
from service.knowledge import load


def _fmt(mg: float) -> str:
    return f"{mg:,.0f} mg"


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
    regimen = load("regimens")["groups"][ctx.primary]
    if product(order.product_key).get("oncology_only") and not group_spec(ctx.primary)["oncology"]:
        return []  # wrong product for the indication: the product card says so; no IV regimen applies
    display = group_spec(ctx.primary)["short"]
    dose = ordered_dose(order.request)
    citations = tuple(regimen["citations"])
    order_ev = Evidence(
        "MedicationRequest",
        order.request.get("id"),
        "Ordered dose",
        dose.text if dose else "not stated in mg or mg/m2",
        origin="order",
    )
    if dose is None:
        return [
            Finding(
                "dosing.regimen",
                "1",
                "dosing",
                "warning",
                "Rituximab dose not stated in mg or mg/m2: dose cannot be checked",
                facts={"indication": display, "regimen": regimen["regimen"]},
                evidence=(order_ev,),
                missing=("dosageInstruction.doseAndRate.doseQuantity in mg or mg/m2",),
                citations=citations,
                override_reasons=("dosing-intended", "documented-elsewhere"),
            )
        ]

    evidence = [order_ev]
    problems: list[str] = []
    missing: list[str] = []
    mg: float | None = dose.value
    bsa = None
    if dose.per_m2 or "max_single_dose_mg_m2" in regimen:
        size = body_surface_area(record)
        if size:
            bsa = size.bsa_m2
            evidence += size.evidence
    if dose.per_m2:
        mg = round(dose.value * bsa, 0) if bsa else None
        if bsa is None:
            missing.append("A recent height (LOINC 8302-2) and weight (29463-7) to compute the body surface area")
        if "max_single_dose_mg_m2" in regimen and dose.value > regimen["max_single_dose_mg_m2"]:
            problems.append(
                f"{dose.value:g} mg/m2 per dose exceeds the {regimen['max_single_dose_mg_m2']} "
                f"mg/m2 of the {display} regimen"
            )
    elif "max_single_dose_mg" in regimen and dose.value > regimen["max_single_dose_mg"]:
        problems.append(
            f"{_fmt(dose.value)} per dose exceeds the {_fmt(regimen['max_single_dose_mg'])} "
            f"single dose of the {display} regimen"
        )
    elif "max_single_dose_mg" not in regimen and "max_single_dose_mg_m2" in regimen and bsa:
        per_m2 = dose.value / bsa
        if per_m2 > regimen["max_single_dose_mg_m2"] * 1.1:  # 10% rounding allowance for vial sizes
            problems.append(
                f"{_fmt(dose.value)} is {per_m2:.0f} mg/m2 (BSA {bsa} m2), above the "
                f"{regimen['max_single_dose_mg_m2']} mg/m2 of the {display} regimen"
            )
    count = dose.count or 1
    if "max_doses_per_course" in regimen and count > regimen["max_doses_per_course"]:
        problems.append(
            f"{count} doses ordered; the {display} regimen has at most {regimen['max_doses_per_course']} per course"
        )
    if mg is not None and "max_course_mg" in regimen and mg * count > regimen["max_course_mg"]:
        problems.append(f"{_fmt(mg * count)} in this course exceeds {_fmt(regimen['max_course_mg'])} per course")

    exclude = frozenset(x for x in (order.request.get("id"),) if x)
    history = courses(prior_doses(record, exclude))
    weeks_since = None
    same_course = False
    if history:
        last = history[-1]
        days = (record.now - last.start).days
        weeks_since = round(days / 7, 1)
        evidence += [
            Evidence(
                d.resource_type,
                d.resource_id,
                "Previous rituximab dose",
                _fmt(d.mg) if d.mg is not None else None,
                d.when.date().isoformat(),
                origin=record.origin_of(d.resource_type),
            )
            for d in last.doses
        ]
        same_window = int(load("regimens")["same_course_days"])
        max_doses = regimen.get("max_doses_per_course", 1)
        if days <= same_window and len(last.doses) + count <= max_doses:
            same_course = True  # e.g. the day-14 dose of a 2-dose course
        elif "min_weeks_between_courses" in regimen and days < regimen["min_weeks_between_courses"] * 7:
            problems.append(
                f"Only {weeks_since:g} weeks since the last course started "
                f"({last.start.date().isoformat()}); "
                f"courses should be at least {regimen['min_weeks_between_courses']} weeks apart"
            )
    facts = {
        "indication": display,
        "regimen": regimen["regimen"],
        "dose": dose.value,
        "unit": "mg/m2" if dose.per_m2 else "mg",
        "count": count,
        "interval_days": dose.interval_days,
        "dose_mg": mg,
        "bsa_m2": bsa,
        "weeks_since_last_course": weeks_since,
        "same_course": same_course,
        "problems": problems,
    }
    if problems or missing:
        return [
            Finding(
                "dosing.regimen",
                "1",
                "dosing",
                "warning",
                f"Rituximab dose or interval outside the {display} regimen"
                if problems
                else "Rituximab dose per m2 cannot be checked: no recent height and weight",
                facts=facts,
                evidence=tuple(evidence),
                missing=tuple(missing),
                citations=citations,
                override_reasons=("dosing-intended", "documented-elsewhere"),
            )
        ]
    return [
        Finding(
            "dosing.regimen",
            "1",
            "dosing",
            "pass",
            f"Dose and interval within the {display} regimen",
            facts=facts,
            evidence=tuple(evidence),
            citations=citations,
        )
    ]
