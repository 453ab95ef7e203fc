"""Hepatitis B: screening before rituximab, and what a positive picture needs.

Sources (knowledge/safety.yaml `hbv`, citations_safety.yaml):
- Label 5.3: screen all patients with HBsAg and anti-HBc before initiating; with
  evidence of infection (HBsAg positive, or HBsAg negative and anti-HBc positive)
  consult a hepatitis B expert about monitoring and antiviral therapy.
- AASLD 2018 (doi 10.1002/hep.29800) and AGA 2015 (doi 10.1053/j.gastro.2014.10.038):
  anti-CD20 therapy is the highest-risk group; anti-HBc-positive patients get
  antiviral prophylaxis (monitoring alone is the exception, decided with hepatology).
- Detectable HBV DNA is active or occult infection whatever HBsAg shows.
"""

from __future__ import annotations

from datetime import timedelta

from service.clinical import labs
from service.clinical.conditions import condition_evidence
from service.clinical.engine import order_rule
from service.clinical.fhir_values import finite_number, qualitative_result
from service.clinical.findings import Evidence, Finding
from service.clinical.labs import Result
from service.clinical.medications import uses_of_class
from service.clinical.policy import Policy
from service.clinical.record import OrderUnderReview, PatientRecord
from service.clinical.rules.safety._common import (
    MED_SECTIONS,
    RuleOutput,
    after_ivig,
    cfg,
    lab_results,
    matching_conditions,
    medication_evidence,
    medication_of,
    months,
    on_rituximab,
    order_of,
    referral_of,
)

HBV = RuleOutput("safety.hbv", "hbv", "2")
LABEL = "label-hbv-cbc"
GUIDANCE = ("aasld-2018-hbv", "aga-2015-hbv")


def dna_detectable(result: Result) -> bool | None:
    """True/False for a readable HBV DNA result, None when it cannot tell.

    A quantitative value above zero without a "<" comparator is detectable;
    "<20 IU/mL" (below the limit of quantification) and 0 are not, unless the
    lab's own interpretation says detected.
    """
    qualitative = qualitative_result(result.resource)
    if qualitative in ("positive", "negative"):
        return qualitative == "positive"
    q = result.resource.get("valueQuantity")
    if isinstance(q, dict) and (value := finite_number(q.get("value"))) is not None:
        if q.get("comparator") in ("<", "<="):
            return False
        return value > 0
    return None


def _antiviral_orders(reason: str) -> dict[str, tuple]:
    """Hepatology referral and the two first-line antivirals (AASLD 2018 table).

    The label says consult an expert: the referral is recommended.  The two drugs
    are alternatives, so neither is pre-selected; the choice is hepatology's.
    """
    return {
        "referrals": (referral_of("hepatology", reason),),
        "medications": (medication_of("entecavir", reason), medication_of("tenofovir", reason)),
    }


@order_rule("safety.hbv", "Hepatitis B screening", needs=["observations", "conditions", *MED_SECTIONS],
            scope="patient")
def hepatitis_b(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    conf = cfg("hbv")
    continuing = on_rituximab(record, order)
    hbsag_all = lab_results(record, "hbsag")
    anti_hbc_all = lab_results(record, "anti_hbc")
    dna_all = [r for r in lab_results(record, "hbv_dna") if dna_detectable(r) is not None]
    chronic = matching_conditions(record, conf["chronic_icd10"], conf["chronic_snomed"])
    antiviral = [u for u in uses_of_class(record, "hbv_antivirals") if u.active]

    hbsag = hbsag_all[0] if hbsag_all else None
    anti_hbc = anti_hbc_all[0] if anti_hbc_all else None
    dna = dna_all[0] if dna_all else None
    dna_recent = dna if dna and dna.when and record.now - dna.when <= timedelta(days=conf["dna_recent_days"]) else None

    evidence: list[Evidence] = [labs.evidence(record, r, label)
                                for r, label in ((hbsag, "HBsAg"), (anti_hbc, "anti-HBc"), (dna, "HBV DNA")) if r]
    evidence += [condition_evidence(record, c, f"Hepatitis B on the problem list: {d}", code) for c, code, d in chronic]
    evidence += [medication_evidence(record, u) for u in antiviral[:1]]
    base = {
        "continuing": continuing,
        "lookback_months": None if continuing else conf["first_course_lookback_months"],
        "antiviral": antiviral[0].name if antiviral else None,
        "dna_value": labs.value_text(dna.resource) if dna else None,
        "dna_date": dna.when.date().isoformat() if dna and dna.when else None,
        "dna_recent": dna_recent is not None,
    }
    # A recent HBV DNA result is shown, not ordered again.
    dna_order = () if dna_recent else (order_of("hbv_dna", "HBV DNA before rituximab"),)
    common = {"evidence": evidence}

    if dna and dna_detectable(dna):
        if antiviral:
            return [HBV.finding(
                "warning", "HBV DNA detectable on antiviral therapy: review with hepatology before rituximab",
                facts={**base, "state": "dna-detectable-treated"}, citations=(LABEL, *GUIDANCE),
                referrals=(referral_of("hepatology", "HBV DNA detectable on antiviral"),),
                override_reasons=("specialist-reviewed", "documented-elsewhere"), **common)]
        return [HBV.finding(
            "critical", f"HBV DNA detectable ({base['dna_value']}) with no antiviral: consult hepatology "
            "before rituximab",
            facts={**base, "state": "dna-detectable-untreated"}, citations=(LABEL, *GUIDANCE),
            missing=("An antiviral active against HBV (entecavir, tenofovir) started before rituximab",),
            override_reasons=("specialist-reviewed", "documented-elsewhere", "benefit-outweighs-risk"),
            **_antiviral_orders("HBV DNA detectable before rituximab"), **common)]

    hbsag_positive = bool(hbsag and qualitative_result(hbsag.resource) == "positive")
    if hbsag_positive or chronic:
        why = "HBsAg positive" if hbsag_positive else "Chronic hepatitis B on the problem list"
        state_facts = {**base, "from_problem_list": not hbsag_positive}
        if antiviral:
            return [HBV.finding(
                "warning", f"{why}, on antiviral therapy: monitor HBV DNA during and after rituximab",
                facts={**state_facts, "state": "hbsag-positive-treated"}, citations=(LABEL, *GUIDANCE),
                orders=dna_order, override_reasons=("specialist-reviewed", "already-ordered"), **common)]
        return [HBV.finding(
            "critical", f"{why} with no antiviral: HBV reactivation risk; consult hepatology first",
            facts={**state_facts, "state": "hbsag-positive-untreated"}, citations=(LABEL, *GUIDANCE),
            missing=("An antiviral active against HBV (entecavir, tenofovir) started before rituximab",),
            orders=dna_order,
            override_reasons=("specialist-reviewed", "documented-elsewhere", "benefit-outweighs-risk"),
            **_antiviral_orders(f"{why} before rituximab"), **common)]

    if anti_hbc and qualitative_result(anti_hbc.resource) == "positive":
        return [_anti_hbc_positive(record, anti_hbc, base, dna_order, bool(antiviral), evidence)]
    return [_screening(record, hbsag_all, anti_hbc_all, base, evidence, continuing)]


def _anti_hbc_positive(record: PatientRecord, anti_hbc: Result, base: dict, dna_order: tuple,
                       on_antiviral: bool, evidence: list[Evidence]) -> Finding:
    conf = cfg("hbv")
    ivig = after_ivig(record, anti_hbc.when, timedelta(weeks=conf["anti_hbc_after_ivig_weeks"]))
    if ivig and not on_antiviral:
        evidence = [*evidence, Evidence("MedicationAdministration", None, "IVIG given", None,
                                        ivig.date().isoformat(), origin=record.origin_of("MedicationAdministration"))]
        return HBV.finding(
            "warning", "Anti-HBc positive within 12 weeks of IVIG: possibly passive transfer; check HBV DNA",
            facts={**base, "state": "anti-hbc-after-ivig", "ivig_date": ivig.date().isoformat(),
                   "days_after_ivig": (anti_hbc.when - ivig).days if anti_hbc.when else None},
            evidence=evidence, citations=(LABEL, "ivig-anti-hbc"), orders=dna_order,
            override_reasons=("specialist-reviewed", "already-ordered", "documented-elsewhere"))
    if on_antiviral:
        return HBV.finding(
            "info", "Anti-HBc positive, on antiviral prophylaxis: continue it at least 12 months after rituximab",
            facts={**base, "state": "anti-hbc-positive-treated"}, evidence=evidence,
            citations=(LABEL, *GUIDANCE), orders=dna_order,
            override_reasons=("specialist-reviewed", "documented-elsewhere"))
    return HBV.finding(
        "warning", "Anti-HBc positive, HBsAg negative: antiviral prophylaxis is recommended with rituximab "
        "(AASLD, AGA)",
        facts={**base, "state": "anti-hbc-positive"}, evidence=evidence, citations=(LABEL, *GUIDANCE),
        missing=("Antiviral prophylaxis (entecavir or tenofovir), or a hepatology plan for HBV DNA monitoring",),
        orders=dna_order, **_antiviral_orders("anti-HBc positive before rituximab"),
        override_reasons=("specialist-reviewed", "already-ordered", "documented-elsewhere"))


def _screening(record: PatientRecord, hbsag_all: list[Result], anti_hbc_all: list[Result], base: dict,
               evidence: list[Evidence], continuing: bool) -> Finding:
    """Label: HBsAg and anti-HBc before initiating (look-back for a first course)."""
    conf = cfg("hbv")
    window = None if continuing else months(conf["first_course_lookback_months"])

    def recent_negative(results: list[Result]) -> Result | None:
        for r in results:
            if qualitative_result(r.resource) == "negative" and r.when and (
                    window is None or record.now - r.when <= window):
                return r
        return None

    names = {"hbsag": "HBsAg", "anti_hbc": "anti-HBc (total)"}
    missing_keys = [k for k, results in (("hbsag", hbsag_all), ("anti_hbc", anti_hbc_all))
                    if recent_negative(results) is None]
    if not missing_keys:
        return HBV.finding("pass", "HBsAg and anti-HBc negative", facts={**base, "state": "screened"},
                           evidence=evidence, citations=(LABEL,))
    span = ("ever (any earlier negative result is enough for a patient already on rituximab)" if continuing
            else f"in the last {conf['first_course_lookback_months']} months")
    return HBV.finding(
        "warning",
        "Hepatitis B screening missing: " + " and ".join(names[k] for k in missing_keys) + " before rituximab",
        facts={**base, "state": "missing", "missing": [names[k] for k in missing_keys]},
        evidence=evidence, citations=(LABEL,),
        missing=[f"A negative {names[k]} result {span}" for k in missing_keys],
        orders=[order_of(k, "HBV screening before rituximab (label)") for k in missing_keys],
        override_reasons=("documented-elsewhere", "already-ordered"))
