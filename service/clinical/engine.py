"""Rule registry and evaluation: run every rule on a record, collect findings.

Rules register themselves with a decorator that also declares the record
sections they read.  When one of those sections could not be retrieved,
the engine does not run the rule (it would conclude "missing" from data it
never saw) and reports it in one ``data-access`` finding instead.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from service.clinical.findings import Finding
from service.clinical.policy import Policy
from service.clinical.record import OrderUnderReview, PatientRecord

log = logging.getLogger(__name__)

OrderRuleFn = Callable[[PatientRecord, OrderUnderReview, Policy], Iterable[Finding]]
ChartRuleFn = Callable[[PatientRecord, Policy], Iterable[Finding]]


@dataclass(frozen=True)
class RegisteredRule:
    rule_id: str
    title: str  # what the check is, for the data-access card ("Hepatitis B screening")
    needs: tuple[str, ...]  # record sections (record.SECTIONS) the rule reads
    kind: Literal["order", "chart"]
    fn: Callable[..., Iterable[Finding]]
    #: "order": run once per rituximab order; "patient": once per call (safety
    #: work-up is about the patient, and two orders of one course must not
    #: produce two identical HBV cards)
    scope: Literal["order", "patient"] = "order"


_RULES: list[RegisteredRule] = []
_loaded = False


def order_rule(
    rule_id: str,
    title: str,
    needs: Iterable[str],
    scope: Literal["order", "patient"] = "order",
) -> Callable[[OrderRuleFn], OrderRuleFn]:
    """Register an order-time rule (order-sign, order-select).

    ``scope="patient"`` runs the rule once per call with the first order.
    """

    def register(fn: OrderRuleFn) -> OrderRuleFn:
        _RULES.append(RegisteredRule(rule_id, title, tuple(needs), "order", fn, scope))
        return fn

    return register


def chart_rule(rule_id: str, title: str, needs: Iterable[str]) -> Callable[[ChartRuleFn], ChartRuleFn]:
    """Register a chart rule (patient-view monitoring reminders)."""

    def register(fn: ChartRuleFn) -> ChartRuleFn:
        _RULES.append(RegisteredRule(rule_id, title, tuple(needs), "chart", fn))
        return fn

    return register


def load_rules() -> tuple[RegisteredRule, ...]:
    """Import every module of service.clinical.rules once (they self-register)."""
    global _loaded
    if not _loaded:
        import service.clinical.rules as pkg

        for mod in sorted(pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."), key=lambda m: m.name):
            importlib.import_module(mod.name)
        _loaded = True
    return tuple(_RULES)


def _data_access_finding(skipped: list[RegisteredRule], record: PatientRecord) -> Finding:
    checks = sorted({r.title for r in skipped})
    unresolved = sorted({ref for refs in record.unresolved.values() for ref in refs})
    if record.unavailable:
        summary = "Part of the record could not be retrieved: some checks were not done"
    elif unresolved:
        summary = "Medications in the record could not be identified: some checks were not done"
    else:
        summary = "Part of the record was read only in part: checks may have missed older data"
    return Finding(
        rule_id="data-access",
        rule_version="3",
        topic="data-access",
        severity="warning",
        summary=summary,
        facts={"sections": sorted(record.unavailable), "checks": checks,
               "incomplete": sorted(record.incomplete - record.unavailable),
               "unresolved": unresolved, "skipped_rules": sorted({r.rule_id for r in skipped})},
        missing=tuple(sorted(record.unavailable)),
    )


def unidentified_orders_finding(orders: Iterable[str], references: Iterable[str]) -> Finding:
    """Draft orders that may be rituximab: their Medication could not be retrieved.

    Silence on a rituximab order is the worst answer this service can give,
    so an order it cannot identify is named rather than passed over."""
    return Finding(
        rule_id="data-access",
        rule_version="3",
        topic="data-access",
        severity="warning",
        summary="Could not tell whether the order is for rituximab: its medication could not be retrieved",
        facts={"sections": [], "checks": [], "incomplete": [], "unresolved": sorted(set(references)),
               "orders": sorted(set(orders))},
        missing=("Medication of the draft order",),
    )


def _run(
    rules: Iterable[RegisteredRule],
    record: PatientRecord,
    call: Callable[[RegisteredRule], Iterable[Finding]],
) -> list[Finding]:
    findings: list[Finding] = []
    skipped: list[RegisteredRule] = []
    # A section with unidentified drugs is as unreadable as a missing one for the
    # rules that read it: "no glucocorticoid documented" would be a guess.
    blocked = record.unavailable | set(record.unresolved)
    for rule in rules:
        if not blocked.isdisjoint(rule.needs):
            skipped.append(rule)
            continue
        findings.extend(call(rule))
    if skipped or record.unavailable or record.incomplete or record.unresolved:
        findings.append(_data_access_finding(skipped, record))
    return findings


def evaluate_order(
    record: PatientRecord, orders: Iterable[OrderUnderReview], policy: Policy
) -> list[Finding]:
    """All order-time findings for the rituximab orders under review."""
    rules = [r for r in load_rules() if r.kind == "order"]
    order_list = list(orders)
    first = order_list[:1]

    def call(rule: RegisteredRule) -> Iterable[Finding]:
        targets = first if rule.scope == "patient" else order_list
        if len(targets) == 1:  # the usual call: one rituximab order
            return rule.fn(record, targets[0], policy)
        return [finding for order in targets for finding in rule.fn(record, order, policy)]

    return _run(rules, record, call)


def evaluate_chart(record: PatientRecord, policy: Policy) -> list[Finding]:
    """All patient-view findings (monitoring reminders)."""
    rules = [r for r in load_rules() if r.kind == "chart"]
    return _run(rules, record, lambda rule: rule.fn(record, policy))
