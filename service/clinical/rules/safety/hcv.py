"""Hepatitis C antibody: advisory (commonly part of pre-immunosuppression screening).

Not a label requirement (clinical-rules.md §2); CDC 2020 recommends HCV screening at least once
for every adult; a positive antibody needs HCV RNA.  Not repeated at every oncology cycle.
"""

from __future__ import annotations

from service.clinical import labs
from service.clinical.engine import order_rule
from service.clinical.fhir_values import qualitative_result
from service.clinical.findings import Finding
from service.clinical.policy import Policy
from service.clinical.record import OrderUnderReview, PatientRecord
from service.clinical.rules.safety._common import RuleOutput, mid_regimen, order_of, test_codes

HCV = RuleOutput("safety.hcv", "hcv")
CITATIONS = ("cdc-2020-hcv-screening",)


@order_rule("safety.hcv", "Hepatitis C screening", needs=["observations"], scope="patient")
def hepatitis_c(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    results = labs.results(record, test_codes("hcv_ab"))
    if not results:
        if mid_regimen(record, order):
            return []  # an advisory for the start of the regimen, not for every cycle
        return [HCV.finding(
            "info", "No hepatitis C antibody result on file (advisory)", facts={"state": "missing"},
            citations=CITATIONS,
            missing=("An HCV antibody result (LOINC 13955-0 or 16128-1)",),
            orders=(order_of("hcv_ab", "commonly part of pre-immunosuppression screening"),),
            override_reasons=("not-applicable", "documented-elsewhere", "already-ordered"))]
    latest = results[0]
    evidence = (labs.evidence(record, latest, "HCV antibody"),)
    if qualitative_result(latest.resource) == "positive":
        return [HCV.finding(
            "warning", "HCV antibody positive: check HCV RNA before rituximab", facts={"state": "positive"},
            evidence=evidence, orders=(order_of("hcv_rna", "HCV antibody positive"),), citations=CITATIONS,
            override_reasons=("specialist-reviewed", "documented-elsewhere"))]
    return [HCV.finding("pass", "HCV antibody on file", facts={"state": "on-file"}, evidence=evidence,
                        citations=CITATIONS)]
