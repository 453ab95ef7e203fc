"""Pregnancy before rituximab.

Label: Embryo-Fetal Toxicity (B-cell lymphocytopenia in infants exposed in
utero), 8.1 Pregnancy, 8.3 contraception during treatment and for 12 months
after the last dose.  The label asks for no pregnancy test; the advisory
before a first course says so and stays `info`.  Windows, codes and the
reproductive-age range are in knowledge/safety.yaml `pregnancy`.
"""

from __future__ import annotations

from datetime import timedelta

from service.clinical import labs
from service.clinical.conditions import condition_evidence
from service.clinical.engine import order_rule
from service.clinical.fhir_values import age_in_years, codings, effective_datetime, qualitative_result, quantity
from service.clinical.findings import Evidence, Finding
from service.clinical.labs import Result
from service.clinical.policy import Policy
from service.clinical.record import OrderUnderReview, PatientRecord
from service.clinical.rules.safety._common import (
    RuleOutput,
    cfg,
    lab_results,
    matching_conditions,
    on_rituximab,
    order_of,
    test_codes,
)

PREGNANCY = RuleOutput("safety.pregnancy", "pregnancy")
CITATIONS = ("label-pregnancy",)


def hcg_reading(result: Result) -> str | None:
    """'positive'/'negative' for an hCG result (lab interpretation first, then the IU/L cut-off)."""
    qualitative = qualitative_result(result.resource)
    if qualitative in ("positive", "negative"):
        return qualitative
    q = quantity(result.resource)
    if q and q[1].lower().replace(" ", "") in ("iu/l", "miu/ml", "[iu]/l", "m[iu]/ml"):
        return "positive" if q[0] >= cfg("pregnancy")["hcg_positive_iu_per_l"] else "negative"
    return None


def _pregnancy_evidence(record: PatientRecord) -> list[Evidence]:
    conf = cfg("pregnancy")
    recent = timedelta(days=conf["result_days"])
    out: list[Evidence] = []
    hcg = [r for r in lab_results(record, "hcg") if r.when and hcg_reading(r)]
    if hcg and hcg_reading(hcg[0]) == "positive" and record.now - hcg[0].when <= recent:  # type: ignore[operator]
        out.append(labs.evidence(record, hcg[0], "hCG"))
    latest_negative = next((r.when for r in hcg if hcg_reading(r) == "negative"), None)
    for r in labs.results(record, test_codes("pregnancy_status")):
        pregnant = any(c in conf["pregnant_snomed"] for _, c, _ in codings(r.resource.get("valueCodeableConcept")))
        if r.when and record.now - r.when <= recent and pregnant and not (latest_negative and latest_negative > r.when):
            out.append(labs.evidence(record, r, "Pregnancy status"))
        break  # only the newest status answer counts
    for cond, code, display in matching_conditions(record, conf["icd10_prefixes"], conf["snomed"]):
        onset = effective_datetime(cond)
        if onset is None or record.now - onset <= timedelta(days=conf["condition_days"]):
            out.append(condition_evidence(record, cond, f"Pregnancy: {display}", code))
    return out


def _reproductive_potential(record: PatientRecord) -> bool:
    patient = record.patient or {}
    if patient.get("gender") != "female":
        return False
    age = age_in_years(patient.get("birthDate"), record.now.date())
    span = cfg("pregnancy")["reproductive_age_years"]
    return age is not None and span["min"] <= age <= span["max"]


# Without the Patient resource (sex, age) the advisory is not given; the
# documented-pregnancy check does not need it, so "patient" is not required.
@order_rule("safety.pregnancy", "Pregnancy", needs=["observations", "conditions"], scope="patient")
def pregnancy(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    conf = cfg("pregnancy")
    evidence = _pregnancy_evidence(record)
    if evidence:
        return [PREGNANCY.finding(
            "warning", "Pregnancy documented: rituximab can cause fetal harm (B-cell depletion in the infant)",
            facts={"state": "pregnant"}, evidence=evidence, citations=CITATIONS,
            override_reasons=("benefit-outweighs-risk", "specialist-reviewed", "not-applicable"))]
    if on_rituximab(record, order) or not _reproductive_potential(record):
        return []
    tests = [r for r in lab_results(record, "hcg")
             if r.when and record.now - r.when <= timedelta(days=conf["test_days"])]
    if tests:
        return [PREGNANCY.finding("pass", "Recent pregnancy test negative", facts={"state": "tested"},
                                  evidence=[labs.evidence(record, tests[0], "hCG")], citations=CITATIONS)]
    return [PREGNANCY.finding(
        "info", "First course, reproductive potential: confirm pregnancy status and advise contraception",
        facts={"state": "advisory", "test_days": conf["test_days"]}, citations=CITATIONS,
        missing=(f"A pregnancy test in the last {conf['test_days']} days (not required by the label)",),
        orders=(order_of("hcg", "pregnancy status before a first rituximab course"),),
        override_reasons=("not-applicable", "documented-elsewhere", "patient-declined"))]
