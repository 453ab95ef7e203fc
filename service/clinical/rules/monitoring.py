"""Monitoring reminders in the chart (patient-view) for patients on rituximab.

A patient "on rituximab" received it in the last 12 months (administrations,
statements or orders).  Intervals are in knowledge/safety.yaml `monitoring`
with their sources: IgG every 6 months, CBC every 120 days (label: every 2-4
months in RA/GPA/MPA), HBV DNA for anti-HBc-positive patients (local policy
interval; the label says monitor during and after): overdue -> warning; due
within the "upcoming" window -> info; otherwise nothing.  The next course
(regimens.yaml `next_course` per indication, e.g. RA label every 24 weeks, not
sooner than 16) is only ever info, and absent for oncology cycles.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from service.clinical import labs
from service.clinical.engine import chart_rule
from service.clinical.fhir_values import qualitative_result
from service.clinical.findings import Evidence, Finding, OrderSuggestion
from service.clinical.indications import chart_indication
from service.clinical.policy import Policy
from service.clinical.record import PatientRecord
from service.clinical.regimens import group_regimens, is_cycle_pathway
from service.clinical.rituximab_history import Dose, courses, prior_doses
from service.clinical.rules.safety._common import cfg, lab_results, matching_conditions, months, order_of, test_codes
from service.clinical.rules.safety.hbv import dna_detectable

MED_SECTIONS = ("medicationStatements", "medicationRequests", "medicationAdministrations")


def recent_rituximab(record: PatientRecord) -> list[Dose]:
    """Rituximab doses in the look-back window (empty: not on rituximab)."""
    window = months(cfg("monitoring")["on_rituximab_lookback_months"])
    return [d for d in prior_doses(record) if record.now - d.when <= window]


def _due_finding(
    record: PatientRecord,
    rule_id: str,
    topic: str,
    what: str,
    last: labs.Result | None,
    every: timedelta,
    every_text: str,
    orders: tuple[OrderSuggestion, ...],
    citations: tuple[str, ...],
) -> list[Finding]:
    upcoming = timedelta(days=cfg("monitoring")["upcoming_days"])
    due = (last.when + every) if last and last.when else None
    evidence = (labs.evidence(record, last, what),) if last else ()
    facts = {
        "test": what,
        "interval": every_text,
        "last": last.when.date().isoformat() if last and last.when else None,
        "due": due.date().isoformat() if due else None,
    }
    if due is None or due < record.now:
        summary = (
            f"{what} overdue: last {facts['last']}, due every {every_text}"
            if due
            else f"{what} due: none on file for a patient on rituximab"
        )
        return [
            Finding(
                rule_id,
                "1",
                topic,
                "warning",
                summary,
                facts={**facts, "state": "overdue"},
                evidence=evidence,
                missing=() if last else (f"Any {what} result",),
                citations=citations,
                orders=orders,
                override_reasons=("already-ordered", "documented-elsewhere"),
            )
        ]
    if due - record.now <= upcoming:
        return [
            Finding(
                rule_id,
                "1",
                topic,
                "info",
                f"{what} due by {facts['due']} (every {every_text})",
                facts={**facts, "state": "upcoming"},
                evidence=evidence,
                citations=citations,
                orders=orders,
                override_reasons=("already-ordered", "not-applicable"),
            )
        ]
    return []


@chart_rule("monitoring.igg", "IgG monitoring", needs=["observations", *MED_SECTIONS])
def igg_due(record: PatientRecord, policy: Policy) -> list[Finding]:
    if not recent_rituximab(record):
        return []
    n = cfg("monitoring")["igg_every_months"]
    results = labs.results(record, test_codes("igg"))
    orders = tuple(order_of(k, "IgG monitoring on rituximab") for k in ("igg", "iga", "igm"))
    return _due_finding(
        record,
        "monitoring.igg",
        "immunoglobulins",
        "IgG",
        results[0] if results else None,
        months(n),
        f"{n} months",
        orders,
        ("buch-2011", "barmettler-2018"),
    )


@chart_rule("monitoring.cbc", "Blood count monitoring", needs=["observations", *MED_SECTIONS])
def cbc_due(record: PatientRecord, policy: Policy) -> list[Finding]:
    if not recent_rituximab(record):
        return []
    n = cfg("monitoring")["cbc_every_days"]
    results = labs.results(record, test_codes("wbc") + test_codes("anc") + test_codes("platelets"))
    orders = (order_of("cbc_panel", "CBC monitoring on rituximab"),)
    return _due_finding(
        record,
        "monitoring.cbc",
        "cbc",
        "Blood count (CBC)",
        results[0] if results else None,
        timedelta(days=n),
        f"{n} days",
        orders,
        ("label-hbv-cbc",),
    )


@chart_rule("monitoring.hbv-dna", "HBV DNA monitoring", needs=["observations", "conditions", *MED_SECTIONS])
def hbv_dna_due(record: PatientRecord, policy: Policy) -> list[Finding]:
    if not recent_rituximab(record):
        return []
    # Exposed to HBV: the newest anti-HBc or HBsAg positive, hepatitis B on the problem list, or
    # detectable HBV DNA (the same picture the order-time HBV rule reads; label 5.3: monitor during
    # and after treatment).
    anti_hbc = lab_results(record, "anti_hbc")
    hbsag = lab_results(record, "hbsag")
    results = [r for r in lab_results(record, "hbv_dna") if dna_detectable(r) is not None]
    chronic = matching_conditions(record, cfg("hbv")["chronic_icd10"], cfg("hbv")["chronic_snomed"])
    exposed = (any(qualitative_result(r.resource) == "positive" for r in (anti_hbc[:1] + hbsag[:1]))
               or bool(chronic) or any(dna_detectable(r) for r in results[:1]))
    if not exposed:
        return []
    n = cfg("monitoring")["hbv_dna_every_months"]
    return _due_finding(
        record,
        "monitoring.hbv-dna",
        "hbv",
        "HBV DNA",
        results[0] if results else None,
        months(n),
        f"{n} months (local policy)",
        (order_of("hbv_dna", "HBV monitoring on rituximab"),),
        ("label-hbv-cbc",),
    )


@chart_rule("monitoring.course-schedule", "Next rituximab course", needs=[*MED_SECTIONS, "conditions", "observations"])
def next_course(record: PatientRecord, policy: Policy) -> list[Finding]:
    """An info reminder near or past the typical next course; never a warning on its own.

    Only for course-based indications whose source gives a next-course interval
    (regimens.yaml `next_course`); oncology regimens end after their cycles, so
    patient-view says nothing about a next course there.
    """
    doses = recent_rituximab(record)
    if not doses:
        return []
    group = chart_indication(record).primary
    if is_cycle_pathway(group):
        return []
    conf = cfg("monitoring")
    schedule = group_regimens(group)["next_course"] if group else {
        "typical_weeks": conf["next_course_typical_weeks"], "minimum_weeks": conf["next_course_minimum_weeks"],
        "citations": ["label-ra-dosing"]}
    last = courses(prior_doses(record))[-1]
    typical: datetime = last.start + timedelta(weeks=schedule["typical_weeks"])
    earliest: datetime = last.start + timedelta(weeks=schedule["minimum_weeks"])
    evidence = tuple(
        Evidence(
            d.resource_type,
            d.resource_id,
            "Rituximab dose",
            f"{d.mg:g} mg" if d.mg else None,
            d.when.date().isoformat(),
            origin=record.origin_of(d.resource_type),
        )
        for d in last.doses
    )
    facts = {
        "last_course": last.start.date().isoformat(),
        "typical_due": typical.date().isoformat(),
        "earliest": earliest.date().isoformat(),
        "typical_weeks": schedule["typical_weeks"],
        "minimum_weeks": schedule["minimum_weeks"],
    }
    upcoming = timedelta(days=conf["upcoming_days"])
    citations = tuple(schedule["citations"])
    if record.now > typical:
        weeks = (record.now - last.start).days // 7
        return [Finding(
            "monitoring.course-schedule", "2", "course-schedule", "info",
            f"Rituximab course typically due around {facts['typical_due']} ({weeks} weeks since the last course)",
            facts={**facts, "state": "past-typical"}, evidence=evidence, citations=citations,
            override_reasons=("dosing-intended", "not-applicable"))]
    if typical - record.now <= upcoming:
        return [Finding(
            "monitoring.course-schedule", "2", "course-schedule", "info",
            f"Next rituximab course due around {facts['typical_due']}",
            facts={**facts, "state": "upcoming"}, evidence=evidence, citations=citations,
            override_reasons=("dosing-intended", "not-applicable"))]
    return []
