"""Blood counts before the infusion.

Label: "Obtain complete blood counts (CBC) including platelets prior to the
first dose"; RA, GPA, MPA: CBC with differential and platelets at two to four
month intervals (clinical-rules.md §6.7).  Severe-cytopenia thresholds are local
policy defaults (knowledge/safety.yaml `cbc`).
"""

from __future__ import annotations

from datetime import timedelta

from service.clinical import labs
from service.clinical.engine import order_rule
from service.clinical.fhir_values import quantity
from service.clinical.findings import Finding
from service.clinical.labs import Result
from service.clinical.policy import Policy
from service.clinical.record import OrderUnderReview, PatientRecord
from service.clinical.rules.safety._common import RuleOutput, cfg, order_of, test_codes
from service.clinical.units import cells_per_ul

CBC = RuleOutput("safety.cbc", "cbc")
CITATIONS = ("label-hbv-cbc",)


@order_rule("safety.cbc", "Blood counts", needs=["observations"], scope="patient")
def blood_counts(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    conf = cfg("cbc")
    window = timedelta(days=conf["lookback_days"])
    latest: dict[str, Result] = {}
    for key in ("wbc", "anc", "platelets", "hemoglobin"):
        found = [r for r in labs.results(record, test_codes(key)) if r.when and record.now - r.when <= window]
        if found:
            latest[key] = found[0]
    evidence = [labs.evidence(record, r, cfg("tests")[k]["display"]) for k, r in latest.items()]
    missing = [k for k in ("wbc", "anc", "platelets") if k not in latest]
    common = {"evidence": evidence, "citations": CITATIONS}
    if missing:
        names = ", ".join(cfg("tests")[k]["display"] for k in missing)
        return [CBC.finding(
            "warning", f"No complete blood count in the last {conf['lookback_days']} days",
            facts={"state": "missing", "missing": names},
            missing=(f"{names} within {conf['lookback_days']} days",),
            orders=[order_of("cbc_panel", "CBC with differential and platelets before rituximab (label)")],
            override_reasons=("already-ordered", "documented-elsewhere"), **common)]
    problems = []
    for key, threshold, label in (("anc", conf["severe_neutrophils_per_ul"], "Neutrophils"),
                                  ("platelets", conf["severe_platelets_per_ul"], "Platelets")):
        q = quantity(latest[key].resource)
        per_ul = cells_per_ul(*q) if q else None
        if per_ul is not None and per_ul < threshold:
            problems.append(f"{label} {per_ul:,.0f}/µL (below {threshold:,}/µL)")
    if problems:
        return [CBC.finding("warning", "Severe cytopenia: " + "; ".join(problems),
                            facts={"state": "cytopenia", "problems": problems},
                            override_reasons=("benefit-outweighs-risk", "specialist-reviewed"), **common)]
    return [CBC.finding("pass", f"Blood counts within the last {conf['lookback_days']} days", facts={"state": "ok"},
                        **common)]
