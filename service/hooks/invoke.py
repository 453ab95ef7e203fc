"""Handle one hook invocation: parse, find orders, gather, evaluate, build cards.

Pure orchestration, no Flask: returns a :class:`HookOutcome` the HTTP layer
serialises, so the CLI ``evaluate`` command and the tests run the very same
path as the service.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cards import CardContext, build_cards
from cards.model import Card
from service.clinical.engine import evaluate_chart, evaluate_order
from service.clinical.findings import Finding
from service.clinical.policy import Policy
from service.fhir.client import FhirClient
from service.fhir.gather import GatherStats, PrefetchInsufficient, gather_record
from service.hooks.orders import find_rituximab_orders
from service.hooks.registry import ServiceDefinition
from service.hooks.request import HookRequest, parse_hook_request


@dataclass
class HookOutcome:
    """Status, JSON body and what happened (for audit, metrics, Server-Timing)."""

    status: int
    body: dict[str, Any]
    cards: list[Card] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    request: HookRequest | None = None
    gather: GatherStats | None = None
    #: stage -> milliseconds (parse, gather, evaluate, cards)
    timings: dict[str, float] = field(default_factory=dict)
    rituximab_orders: int = 0


@dataclass
class HookRuntime:
    """What an invocation needs besides the request (built once per app)."""

    client: FhirClient
    executor: ThreadPoolExecutor
    policy: Policy
    deadline_seconds: float
    #: decides whether a fhirServer may be called (allowlist)
    fhir_allowed: Any  # Callable[[str], bool]


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def handle_hook(
    service: ServiceDefinition,
    body: Any,
    runtime: HookRuntime,
    now: datetime | None = None,
) -> HookOutcome:
    """Run one invocation.  Raises HookRequestError for a malformed request."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    req = parse_hook_request(body, service)
    now = now or datetime.now(UTC)
    orders = []
    if service.evaluation == "order":
        orders = find_rituximab_orders(
            req.draft_orders, req.selections, req.user_id, req.encounter_id
        )
    timings["parse"] = _ms(t)
    if service.evaluation == "order" and not orders:
        # Not a rituximab order: nothing to say, and nothing to fetch.
        return HookOutcome(200, {"cards": []}, request=req, timings=timings)

    access = req.fhir if (req.fhir and runtime.fhir_allowed(req.fhir.base_url)) else None
    t = time.perf_counter()
    try:
        record, stats = gather_record(
            req.patient_id, req.prefetch, access, runtime.client, runtime.executor,
            runtime.deadline_seconds, now,
        )
    except PrefetchInsufficient as exc:
        timings["gather"] = _ms(t)
        return HookOutcome(
            412,
            {
                "error": "precondition_failed",
                "message": (
                    "The prefetch lacks data the rules need ("
                    + ", ".join(exc.keys)
                    + ") and no FHIR server this service may query was provided."
                ),
                "missingPrefetch": exc.keys,
            },
            request=req,
            timings=timings,
        )
    timings["gather"] = _ms(t)

    t = time.perf_counter()
    if service.evaluation == "order":
        findings = evaluate_order(record, orders, runtime.policy)
    else:
        findings = evaluate_chart(record, runtime.policy)
    timings["evaluate"] = _ms(t)

    t = time.perf_counter()
    ctx = CardContext(
        patient_id=req.patient_id,
        user_id=req.user_id,
        encounter_id=req.encounter_id,
        today=now.date().isoformat(),
    )
    cards = [c for c in build_cards(findings, ctx) if c.indicator in service.indicators]
    body_out = {"cards": [c.to_json() for c in cards]}
    timings["cards"] = _ms(t)
    return HookOutcome(
        200, body_out, cards=cards, findings=findings, request=req, gather=stats,
        timings=timings, rituximab_orders=len(orders),
    )
