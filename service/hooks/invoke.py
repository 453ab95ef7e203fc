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

from cards import CardContext, CardJson, build_cards
from cards.links import add_course_review_links
from service.clinical.engine import evaluate_chart, evaluate_order, unidentified_orders_finding
from service.clinical.findings import Finding
from service.clinical.policy import Policy
from service.clinical.record import OrderUnderReview
from service.fhir import medications as meds
from service.fhir.access import FhirAccess
from service.fhir.client import FhirClient
from service.fhir.gather import GatherStats, PrefetchInsufficient, gather_record
from service.fhir.queries import query_plan
from service.hooks.orders import draft_medications, find_rituximab_orders, order_medication_references
from service.hooks.registry import ServiceDefinition
from service.hooks.request import HookRequest, parse_hook_request


@dataclass
class HookOutcome:
    """Status, JSON body and what happened (for audit, metrics, Server-Timing)."""

    status: int
    body: dict[str, Any]
    cards: list[CardJson] = field(default_factory=list)
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
    app_launch_url: str | None = None,
) -> HookOutcome:
    """Run one invocation.  Raises HookRequestError for a malformed request.

    ``app_launch_url``: the course-review app's launch URL, linked from the cards that want it."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    req = parse_hook_request(body, service)
    now = now or datetime.now(UTC)
    timings["parse"] = _ms(t)
    access = req.fhir if (req.fhir and runtime.fhir_allowed(req.fhir.base_url)) else None

    t = time.perf_counter()
    deadline = time.monotonic() + runtime.deadline_seconds
    stats_before = GatherStats()
    orders: list[OrderUnderReview] = []
    unidentified: dict[str, str] = {}
    known_medications: dict[str, dict[str, Any]] = {}
    if service.evaluation == "order":
        orders, unidentified, known_medications = _identify_orders(req, access, runtime, deadline, stats_before)
        if not orders and not unidentified:
            # Not a rituximab order: nothing to say, and nothing (more) to fetch.
            timings["gather"] = _ms(t)
            return HookOutcome(200, {"cards": []}, request=req, timings=timings,
                               gather=stats_before if stats_before.queries else None)
        if not orders:
            # Perhaps rituximab, and nothing can tell: say so rather than stay silent.
            timings["gather"] = _ms(t)
            findings = [unidentified_orders_finding(unidentified, unidentified.values())]
            return _answer(req, findings, now, timings, stats_before, orders, service, app_launch_url)

    try:
        record, stats = gather_record(
            req.patient_id, req.prefetch, access, runtime.client, runtime.executor,
            max(0.0, deadline - time.monotonic()), now,
            plan=query_plan(service.evaluation), known_medications=known_medications,
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
    _add_stats(stats, stats_before)
    timings["gather"] = _ms(t)

    t = time.perf_counter()
    if service.evaluation == "order":
        findings = evaluate_order(record, orders, runtime.policy)
        if unidentified:
            findings.append(unidentified_orders_finding(unidentified, unidentified.values()))
    else:
        findings = evaluate_chart(record, runtime.policy)
    timings["evaluate"] = _ms(t)
    return _answer(req, findings, now, timings, stats, orders, service, app_launch_url)


def _answer(
    req: HookRequest, findings: list[Finding], now: datetime, timings: dict[str, float],
    stats: GatherStats, orders: list[OrderUnderReview], service: ServiceDefinition, app_launch_url: str | None,
) -> HookOutcome:
    """Cards for the findings, and the outcome the HTTP layer serialises."""
    t = time.perf_counter()
    ctx = CardContext(
        patient_id=req.patient_id,
        user_id=req.user_id,
        encounter_id=req.encounter_id,
        today=now.date().isoformat(),
    )
    cards = [c for c in build_cards(findings, ctx) if c.indicator in service.indicators]
    if app_launch_url:
        add_course_review_links(cards, service.hook, app_launch_url, [o.request for o in orders])
    body_out = {"cards": [c.to_json() for c in cards]}
    timings["cards"] = _ms(t)
    return HookOutcome(
        200, body_out, cards=cards, findings=findings, request=req, gather=stats,
        timings=timings, rituximab_orders=len(orders),
    )


def _identify_orders(
    req: HookRequest, access: FhirAccess | None, runtime: HookRuntime, deadline: float, stats: GatherStats,
) -> tuple[list[OrderUnderReview], dict[str, str], dict[str, dict[str, Any]]]:
    """(rituximab orders, order -> Medication reference nothing resolved, Medications found).

    A draft order whose drug is a ``medicationReference`` to a Medication that
    is neither contained nor sent beside it is looked up in the prefetch, then
    fetched from the FHIR server, before deciding whether it is rituximab.  An
    order coded in ``medicationCodeableConcept``, or whose reference is contained
    (``#id``) or in the draft bundle, never reads the prefetch here."""
    references = order_medication_references(req.draft_orders, req.selections)
    base_url = access.base_url if access else None
    known = draft_medications(req.draft_orders)
    if any(not meds.is_known(ref, known, base_url) for ref in references.values()):
        # Only an order naming its drug by a reference the draft bundle does not resolve needs the
        # prefetch's Medications now; otherwise gather's one pass over the prefetch reads them.
        known = {**meds.prefetched_medications(req.prefetch), **known}
    wanted = {ref for ref in references.values() if not meds.is_known(ref, known, base_url)}
    if wanted:
        resolution = meds.resolve(wanted, access, runtime.client, runtime.executor, deadline)
        known.update(resolution.found)
        if resolution.requests:
            stats.queries += resolution.requests
            stats.per_key_ms["draftMedications"] = resolution.elapsed_ms
            stats.fhir_ms = resolution.elapsed_ms
        if resolution.error:
            stats.errors["draftMedications"] = resolution.error
    orders = find_rituximab_orders(req.draft_orders, req.selections, req.user_id, req.encounter_id, known)
    identified = {o.reference for o in orders}
    unidentified = {
        order: ref for order, ref in references.items()
        if order not in identified and not meds.is_known(ref, known, base_url)
    }
    return orders, unidentified, known


def _add_stats(stats: GatherStats, before: GatherStats) -> None:
    """Fold the draft order's Medication lookup into the call's FHIR statistics."""
    stats.queries += before.queries
    stats.per_key_ms.update(before.per_key_ms)
    stats.errors.update(before.errors)
    stats.fhir_ms = round(stats.fhir_ms + before.fhir_ms, 1)
