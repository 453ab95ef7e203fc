"""Immunoglobulins (IgG) before each course, for the autoimmune indications the source covers.

Not a label requirement: baseline IgG and IgG before each course (Buch 2011,
RA consensus); hypogammaglobulinemia bands (Barmettler 2018); IgG drawn soon
after IVIG reflects the infusion (knowledge/safety.yaml `immunoglobulins`).
"""

from __future__ import annotations

from datetime import timedelta

from service.clinical import labs
from service.clinical.engine import order_rule
from service.clinical.fhir_values import quantity
from service.clinical.findings import Finding
from service.clinical.indications import indication_context
from service.clinical.labs import Result
from service.clinical.policy import Policy
from service.clinical.record import OrderUnderReview, PatientRecord
from service.clinical.rules.safety._common import (
    MED_SECTIONS,
    RuleOutput,
    after_ivig,
    cfg,
    months,
    order_of,
    test_codes,
)
from service.clinical.units import igg_mg_dl

IGG = RuleOutput("safety.immunoglobulins", "immunoglobulins")
CITATIONS = ("buch-2011", "barmettler-2018")


def _igg_values(record: PatientRecord) -> list[tuple[Result, float | None]]:
    out = []
    for r in labs.results(record, test_codes("igg")):
        q = quantity(r.resource)
        out.append((r, igg_mg_dl(*q) if q else None))
    return out


@order_rule("safety.immunoglobulins", "Immunoglobulins (IgG)", needs=["observations", *MED_SECTIONS], scope="patient")
def immunoglobulins(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    conf = cfg("immunoglobulins")
    group = indication_context(record, order).primary
    if group is not None and group not in conf["before_course_groups"]:
        return []  # the source (an RA consensus) does not cover this indication, e.g. oncology cycles
    window = months(conf["lookback_months"])
    values = _igg_values(record)
    ivig_window = timedelta(days=conf["after_ivig_days"])
    recent = [(r, v) for r, v in values if r.when and record.now - r.when <= window]
    own = [(r, v) for r, v in recent if after_ivig(record, r.when, ivig_window) is None]
    evidence = [labs.evidence(record, r, "IgG") for r, _ in values[:3]]
    trend = [{"date": r.when.date().isoformat() if r.when else None, "mg_dl": v} for r, v in values[:3]]
    common = {"evidence": evidence, "citations": CITATIONS}
    if not recent:
        return [IGG.finding(
            "warning", f"No IgG in the last {conf['lookback_months']} months: check immunoglobulins before this course",
            facts={"state": "missing", "trend": trend},
            missing=(f"Serum IgG (LOINC 2465-3) within {conf['lookback_months']} months",),
            orders=[order_of(k, "IgG before each rituximab course") for k in ("igg", "iga", "igm")],
            override_reasons=("already-ordered", "documented-elsewhere"), **common)]
    if not own:
        r, _ = recent[0]
        given = after_ivig(record, r.when, ivig_window)
        return [IGG.finding(
            "info", "IgG was drawn within 28 days after IVIG: it does not reflect the patient's own level",
            facts={"state": "after-ivig", "trend": trend,
                   "days_after_ivig": (r.when - given).days if r.when and given else None,
                   "ivig_date": given.date().isoformat() if given else None},
            evidence=evidence, citations=(*CITATIONS, "ivig-half-life"),
            missing=("An IgG drawn before IVIG, or more than 28 days after the last dose",),
            override_reasons=("documented-elsewhere", "not-applicable"))]
    latest, value = own[0]
    if value is None:
        return [IGG.finding("warning", "IgG result has a unit the service cannot interpret: review it",
                            facts={"state": "unit-unknown", "trend": trend},
                            override_reasons=("documented-elsewhere",), **common)]
    if value < conf["low_mg_dl"]:
        band = next(b["label"] for b in conf["bands"] if value < b["below"])
        return [IGG.finding(
            "warning", f"Low IgG ({value:.0f} mg/dL, {band} hypogammaglobulinemia) before rituximab",
            facts={"state": "low", "value_mg_dl": round(value), "band": band, "threshold": conf["low_mg_dl"],
                   "date": latest.when.date().isoformat() if latest.when else None, "trend": trend},
            override_reasons=("benefit-outweighs-risk", "specialist-reviewed"), **common)]
    return [IGG.finding("pass", f"IgG {value:.0f} mg/dL", facts={"state": "ok", "value_mg_dl": round(value),
                                                                  "trend": trend}, **common)]
