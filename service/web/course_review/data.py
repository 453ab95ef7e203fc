"""Gather and evaluate for the page: the cards' own path (gather_record, evaluate_order/chart).

The order under review comes from the card link's ``appContext``, which the
EHR hands back in the token response: the draft orders of the hook call
(``draftOrders``), since a draft order is not on the FHIR server yet.
Launched from the chart instead, the page reviews the newest rituximab
MedicationRequest on file, if any.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.clinical.engine import evaluate_chart, evaluate_order
from service.clinical.fhir_values import effective_datetime, is_entered_in_error
from service.clinical.findings import Finding
from service.clinical.record import OrderUnderReview, PatientRecord
from service.fhir.access import FhirAccess
from service.fhir.gather import gather_record
from service.hooks.invoke import HookRuntime
from service.hooks.orders import find_rituximab_orders


@dataclass(frozen=True)
class Evaluated:
    record: PatientRecord
    orders: list[OrderUnderReview]
    order_findings: list[Finding]
    chart_findings: list[Finding]


def _draft_orders(app_context: str | None) -> list[dict[str, Any]]:
    """The draft orders a card link carried; nothing if appContext is absent or not ours."""
    if not app_context:
        return []
    try:
        parsed = json.loads(app_context)
    except ValueError:
        return []
    drafts = parsed.get("draftOrders") if isinstance(parsed, dict) else None
    return [d for d in drafts if isinstance(d, dict)] if isinstance(drafts, list) else []


def _latest_on_file(record: PatientRecord) -> list[OrderUnderReview]:
    found = find_rituximab_orders(r for r in record.medication_requests if not is_entered_in_error(r))
    found.sort(key=lambda o: effective_datetime(o.request) or record.now.replace(year=1), reverse=True)
    return found[:1]


def evaluate_course(
    runtime: HookRuntime, access: FhirAccess, patient_id: str, app_context: str | None, now: datetime,
    user_id: str | None = None,
) -> Evaluated:
    """Read the record from the FHIR server and run the rules as the hooks do."""
    record, _ = gather_record(patient_id, {}, access, runtime.client, runtime.executor,
                              runtime.deadline_seconds, now)
    drafts = [d for d in _draft_orders(app_context)
              if not isinstance(d.get("subject"), dict) or d["subject"].get("reference") in
              (None, f"Patient/{patient_id}")]  # an order for another patient is not this review's
    orders = find_rituximab_orders(drafts, (), user_id) if drafts else _latest_on_file(record)
    order_findings = evaluate_order(record, orders, runtime.policy) if orders else []
    return Evaluated(record, orders, order_findings, evaluate_chart(record, runtime.policy))
