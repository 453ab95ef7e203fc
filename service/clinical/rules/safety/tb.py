"""Tuberculosis screening, by local policy (CDS_TB_SCREENING).

Not required by the rituximab label; the RA consensus found no evidence for
systematic screening (Buch 2011).  Knowledge/safety.yaml `tb` has the window and
the latent-TB codes (Z22.7 Excludes1 R76.11/R76.12, so any of the three counts).
"""

from __future__ import annotations

from typing import Any

from service.clinical import labs
from service.clinical.conditions import condition_evidence
from service.clinical.engine import order_rule
from service.clinical.fhir_values import qualitative_result
from service.clinical.findings import Finding, Severity
from service.clinical.medications import uses_of_class
from service.clinical.policy import Policy
from service.clinical.record import OrderUnderReview, PatientRecord
from service.clinical.rules.safety._common import (
    MED_SECTIONS,
    RuleOutput,
    cfg,
    matching_conditions,
    medication_evidence,
    mid_regimen,
    months,
    order_of,
    test_codes,
)

TB = RuleOutput("safety.tb", "tb")
CITATIONS = ("buch-2011",)


@order_rule("safety.tb", "Tuberculosis screening", needs=["observations", "conditions", *MED_SECTIONS],
            scope="patient")
def tuberculosis(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    if policy.tb_screening == "off":
        return []
    conf = cfg("tb")
    advisory_level: Severity = "info" if policy.tb_screening == "advisory" else "warning"
    results = labs.results(record, test_codes("igra") + test_codes("tst"))
    recent = [r for r in results if r.when and record.now - r.when <= months(conf["lookback_months"])]
    latent = [condition_evidence(record, c, d, code)
              for c, code, d in matching_conditions(record, conf["latent_tb_icd10"], conf["latent_tb_snomed"])]
    treated = uses_of_class(record, "latent_tb_treatment")
    evidence = [labs.evidence(record, r) for r in recent[:2]] + latent
    facts: dict[str, Any] = {"policy": policy.tb_screening, "lookback_months": conf["lookback_months"]}
    positive = [r for r in results if qualitative_result(r.resource) == "positive"]
    if positive or latent:
        if treated:
            return [TB.finding("pass", "Latent TB with treatment documented", facts={**facts, "state": "treated"},
                               evidence=[*evidence, medication_evidence(record, treated[0])], citations=CITATIONS)]
        evidence += [labs.evidence(record, r) for r in positive[:1] if r not in recent[:2]]
        return [TB.finding(
            "warning", "Positive TB test or latent TB without documented treatment",
            facts={**facts, "state": "positive-untreated"}, evidence=dict.fromkeys(evidence),
            missing=("Treatment for latent TB (isoniazid, rifampin or rifapentine) or an ID/TB specialist's note",),
            citations=CITATIONS, override_reasons=("specialist-reviewed", "documented-elsewhere"))]
    if mid_regimen(record, order):
        return []  # screening advisories belong to cycle 1, not to every cycle of a chemotherapy regimen
    if recent and qualitative_result(recent[0].resource) == "indeterminate":
        return [TB.finding(
            advisory_level, "Indeterminate TB test result: repeat the IGRA if screening is intended",
            facts={**facts, "state": "indeterminate"}, evidence=evidence, citations=CITATIONS,
            orders=(order_of("igra", "repeat after indeterminate result"),),
            override_reasons=("not-applicable", "documented-elsewhere"))]
    if not recent:
        return [TB.finding(
            advisory_level, f"No TB screening (IGRA or skin test) in the last {conf['lookback_months']} months",
            facts={**facts, "state": "missing"}, evidence=evidence, citations=CITATIONS,
            missing=(f"An IGRA or tuberculin skin test within {conf['lookback_months']} months",),
            orders=(order_of("igra", "TB screening per local policy"),),
            override_reasons=("not-applicable", "documented-elsewhere", "already-ordered"))]
    return [TB.finding("pass", "TB screening negative", facts={**facts, "state": "negative"}, evidence=evidence,
                       citations=CITATIONS)]
