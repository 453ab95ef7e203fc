"""Pneumocystis prophylaxis where the label recommends it.

Label, 2 Dosage and Administration (premedication and prophylactic
medications): PCP prophylaxis is recommended in GPA and MPA during treatment
and for at least 6 months after the last infusion; in CLL, PCP and
anti-herpetic prophylaxis "as appropriate".  Nothing is said for other
indications, so nothing is shown for them.  Which groups get which level is
in knowledge/safety.yaml `pjp`; the agents are the `pjp_prophylaxis` class.
"""

from __future__ import annotations

from service.clinical.engine import order_rule
from service.clinical.findings import Finding
from service.clinical.indications import group_spec, indication_context
from service.clinical.medications import uses_of_class
from service.clinical.policy import Policy
from service.clinical.record import OrderUnderReview, PatientRecord
from service.clinical.rules.safety._common import MED_SECTIONS, RuleOutput, cfg, medication_evidence, medication_of

PJP = RuleOutput("safety.pjp", "infection")


@order_rule("safety.pjp", "Pneumocystis prophylaxis", needs=["conditions", *MED_SECTIONS])
def pneumocystis_prophylaxis(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    conf = cfg("pjp")
    groups = indication_context(record, order).groups
    recommended = next((g for g in conf["recommended_for"] if g in groups), None)
    advisory = next((g for g in conf["advisory_for"] if g in groups), None)
    group = recommended or advisory
    if group is None:
        return []
    evidence = list(groups[group][:1])
    current = [u for u in uses_of_class(record, "pjp_prophylaxis") if u.active]
    name = group_spec(group)["short"]
    if current:
        return [PJP.finding("pass", f"Pneumocystis prophylaxis current ({current[0].name})",
                            facts={"state": "current", "indication": name},
                            evidence=[*evidence, medication_evidence(record, current[0])], citations=("label-pjp",))]
    reason = f"Pneumocystis prophylaxis with rituximab in {name} (label)"
    if recommended:
        return [PJP.finding(
            "warning", f"{name}: no Pneumocystis prophylaxis on the medication list (recommended by the label)",
            facts={"state": "missing", "indication": name, "level": "recommended"}, evidence=evidence,
            citations=("label-pjp", "oi-guidelines-pcp"),
            missing=("A current Pneumocystis prophylaxis (trimethoprim-sulfamethoxazole, atovaquone, dapsone or "
                     "pentamidine)",),
            medications=(medication_of("tmp_smx", reason, recommended=True),),
            override_reasons=("documented-elsewhere", "not-applicable", "specialist-reviewed"))]
    return [PJP.finding(
        "info", f"{name}: consider Pneumocystis and anti-herpetic prophylaxis (label: as appropriate)",
        facts={"state": "missing", "indication": name, "level": "as-appropriate"}, evidence=evidence,
        citations=("label-pjp", "oi-guidelines-pcp"), medications=(medication_of("tmp_smx", reason),),
        override_reasons=("not-applicable", "documented-elsewhere"))]
