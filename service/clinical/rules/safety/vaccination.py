"""Live vaccines around rituximab.

Label: "Live virus vaccinations prior to or during [rituximab] treatment not
recommended"; IDSA 2013: live vaccines >=4 weeks before immunosuppression
(knowledge/safety.yaml `vaccination`, CVX codes from clinical-rules.md §6.6).
"""

from __future__ import annotations

from datetime import timedelta

from service.clinical.engine import order_rule
from service.clinical.fhir_values import codings, effective_datetime, is_entered_in_error
from service.clinical.findings import Evidence, Finding
from service.clinical.policy import Policy
from service.clinical.record import OrderUnderReview, PatientRecord
from service.clinical.rules.safety._common import RuleOutput, cfg

VACCINATION = RuleOutput("safety.vaccination", "vaccination")


@order_rule("safety.vaccination", "Live vaccines", needs=["immunizations"], scope="patient")
def live_vaccines(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    conf = cfg("vaccination")
    window = timedelta(days=conf["live_window_days"])
    recent = []
    for imm in record.immunizations:
        if imm.get("status") not in (None, "completed") or is_entered_in_error(imm):
            continue
        when = effective_datetime(imm)
        live = next((d or c for s, c, d in codings(imm.get("vaccineCode"))
                     if c in conf["live_cvx"] and (not s or s.endswith("cvx"))), None)
        if live and when and timedelta(0) <= record.now - when <= window:
            recent.append(Evidence("Immunization", imm.get("id"), f"Live vaccine: {live}", None,
                                   when.date().isoformat(), origin=record.origin_of("Immunization")))
    if not recent:
        return []
    return [VACCINATION.finding(
        "warning", f"Live vaccine given in the last {conf['live_window_days'] // 7} weeks: live vaccines are not "
        "recommended around rituximab",
        facts={"state": "live-recent", "window_days": conf["live_window_days"]}, evidence=recent,
        citations=("label-live-vaccines", "idsa-2013-vaccination"),
        override_reasons=("benefit-outweighs-risk", "specialist-reviewed"))]
