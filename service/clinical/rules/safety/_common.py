"""What every safety rule shares: its knowledge data, a finding builder, and record helpers.

Windows, thresholds, value sets and test codes are in knowledge/safety.yaml,
each with its source; rules read them through :func:`cfg`, never hard-code them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from service.clinical import labs
from service.clinical.conditions import matching_conditions  # noqa: F401  (re-exported for the rules)
from service.clinical.findings import (
    Evidence,
    Finding,
    MedicationSuggestion,
    OrderSuggestion,
    ReferralSuggestion,
    Severity,
)
from service.clinical.indications import indication_context
from service.clinical.labs import Result
from service.clinical.medications import MedicationUse, uses_of_class
from service.clinical.record import OrderUnderReview, PatientRecord
from service.clinical.regimens import cycle_run, is_cycle_pathway
from service.clinical.rituximab_history import doses_before
from service.knowledge import load

MED_SECTIONS = ("medicationStatements", "medicationRequests", "medicationAdministrations")


def cfg(section: str) -> dict[str, Any]:
    """One section of knowledge/safety.yaml."""
    section_data: dict[str, Any] = load("safety")[section]
    return section_data


def test_codes(key: str) -> list[str]:
    """The LOINC codes of ``tests.<key>`` (sibling codes of one test)."""
    return cfg("tests")[key]["loinc"]


def lab_results(record: PatientRecord, key: str) -> list[Result]:
    """Results of ``tests.<key>``: by LOINC code, and by name for results with local codes only.

    Labs that send only their own codes are common in EHR feeds; the names in
    knowledge/safety.yaml find them, and ``not_names`` keeps look-alike tests
    (surface antibody for surface antigen, IgM for total anti-HBc) out.
    """
    def find() -> list[Result]:
        spec = cfg("tests")[key]
        found = labs.results(record, spec["loinc"])
        if spec.get("names"):
            excluded = [w.lower() for w in spec.get("not_names", [])]
            local = [r for r in labs.results_named(record, spec["names"])
                     if not any(w in labs.test_name(r.resource).lower() for w in excluded)]
            if local:
                found = sorted([*found, *local], key=lambda r: r.when or labs.UNDATED, reverse=True)
        return found

    return list(record.memo("lab_test:" + key, find))  # the caller's own list: the record keeps its copy


def order_of(key: str, reason: str | None = None) -> OrderSuggestion:
    """The orderable test for ``tests.<key>`` of knowledge/safety.yaml."""
    spec = cfg("tests")[key]["order"]
    return OrderSuggestion(code=spec["code"], display=spec["display"], reason=reason)


def medication_of(key: str, reason: str | None = None, recommended: bool = False) -> MedicationSuggestion:
    """A draft prescription from ``suggested_medications.<key>`` of knowledge/safety.yaml."""
    spec = cfg("suggested_medications")[key]
    return MedicationSuggestion(
        rxnorm=spec["rxnorm"],
        display=spec["display"],
        dosage_text=spec["dosage_text"],
        dose_value=spec["dose"]["value"],
        dose_unit=spec["dose"]["unit"],
        times_per_period=spec["timing"]["frequency"],
        period_days=spec["timing"]["period_days"],
        route=spec["route"],
        reason=reason,
        recommended=recommended,
    )


def referral_of(key: str, reason: str | None = None) -> ReferralSuggestion:
    """A referral from ``referrals.<key>`` of knowledge/safety.yaml."""
    spec = cfg("referrals")[key]
    return ReferralSuggestion(specialty=spec["specialty"], display=spec["display"], reason=reason)


def mid_regimen(record: PatientRecord, order: OrderUnderReview) -> bool:
    """True when this order is a later cycle of an ongoing oncology regimen.

    Screening advisories (TB, HCV) belong to the start of the regimen, not to every
    cycle (clinical-rules.md "Oncology cycles").
    """
    group = indication_context(record, order).primary
    if not is_cycle_pathway(group):
        return False
    return cycle_run(group, doses_before(record, order), record.now).ongoing  # type: ignore[arg-type]


def months(n: float) -> timedelta:
    return timedelta(days=round(n * 30.44))


@dataclass(frozen=True)
class RuleOutput:
    """Builds the findings of one rule: id, version and topic said once, per rule.

    ``RuleOutput("safety.hbv", "hbv", "2").finding("critical", "...", facts=...)``
    """

    rule_id: str
    topic: str
    version: str = "1"

    def finding(self, severity: Severity, summary: str, **details: Any) -> Finding:
        for key in ("evidence", "missing", "citations", "orders", "medications", "referrals", "override_reasons"):
            if key in details:
                details[key] = tuple(details[key])
        return Finding(self.rule_id, self.version, self.topic, severity, summary, **details)


def ivig_dates(record: PatientRecord) -> list[datetime]:
    """When IVIG was given (administrations, or statement/request starts), newest first.

    Read once per record: after_ivig() asks it for every recent IgG result."""
    return record.memo("ivig_dates", lambda: sorted((u.start for u in uses_of_class(record, "ivig") if u.start),
                                                    reverse=True))


def after_ivig(record: PatientRecord, when: datetime | None, window: timedelta) -> datetime | None:
    """The IVIG dose that ``when`` follows within ``window`` (None if none)."""
    if when is None:
        return None
    for given in ivig_dates(record):
        if timedelta(0) <= when - given <= window:
            return given
    return None


def on_rituximab(record: PatientRecord, order: OrderUnderReview) -> bool:
    """True when rituximab was given or prescribed before (this order excluded)."""
    return bool(doses_before(record, order))


def medication_evidence(record: PatientRecord, use: MedicationUse) -> Evidence:
    return Evidence(
        use.resource_type,
        use.resource_id,
        use.name,
        "current" if use.active else use.status,
        use.start.date().isoformat() if use.start else None,
        origin=record.origin_of(use.resource_type),
    )
