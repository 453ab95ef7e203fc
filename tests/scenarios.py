"""Run a fixture scenario through the real invocation path, in-process, with a full prefetch."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from cards.model import Card
from fhir_fixtures import ANCHOR, load_bundle, load_request
from service.clinical.policy import Policy
from service.fhir.client import FhirClient
from service.hooks.invoke import HookOutcome, HookRuntime, handle_hook
from service.hooks.prefetch import bundle_to_prefetch
from service.hooks.registry import SERVICE_ID_BY_HOOK, SERVICES_BY_ID

NOW = datetime(ANCHOR.year, ANCHOR.month, ANCHOR.day, 12, 0, tzinfo=UTC)
SERVICE_OF_HOOK = SERVICE_ID_BY_HOOK
_EXECUTOR = ThreadPoolExecutor(max_workers=2)


def run_scenario(name: str, request_name: str | None = None, policy: Policy | None = None,
                 edit: Any = None) -> HookOutcome:
    """Evaluate ``request_name`` (default ``name``) against patient ``name`` as of ANCHOR."""
    request = load_request(request_name or name)
    bundle = load_bundle(name)
    if edit:
        edit(bundle, request)
    request["prefetch"] = bundle_to_prefetch(bundle, request["context"]["patientId"])
    runtime = HookRuntime(client=FhirClient(), executor=_EXECUTOR, policy=policy or Policy(),
                          deadline_seconds=1.0, fhir_allowed=lambda _u: False)
    return handle_hook(SERVICES_BY_ID[SERVICE_OF_HOOK[request["hook"]]], request, runtime, now=NOW)


def model_cards(outcome: HookOutcome) -> list[Card]:
    """The outcome's cards as the validated models (each must validate: the schema guarantee)."""
    return [card.model() for card in outcome.cards]


def topics(outcome: HookOutcome) -> set[tuple[str, str]]:
    return {(c.topic, c.indicator) for c in outcome.cards}


#: (topic, indicator) of every card each fixture scenario must give (fhir_fixtures/build.py says why)
EXPECTED = {
    "seed-a": {("indication", "info")},
    "seed-a-epic": {("indication", "info")},
    "seed-a-cerner": {("indication", "info")},
    # First course, 44 years old, no pregnancy test on file: the label's contraception advisory.
    "seed-b": {("indication", "info"), ("immunoglobulins", "info"), ("pregnancy", "info")},
    "pm-first-line": {("indication", "warning")},
    "ra-labeled": {("indication", "info")},
    "gpa-mg-m2": {("indication", "info"), ("infection", "warning")},  # no PJP prophylaxis (label)
    "gpa-pjp-prophylaxis": {("indication", "info")},
    "no-indication": {("indication", "warning")},
    "hycela-myositis": {("indication", "warning")},
    "repeat-8-weeks": {("indication", "info"), ("dosing", "warning")},
    "dose-2000mg": {("indication", "info"), ("dosing", "warning")},
    "hbsag-positive-untreated": {("indication", "info"), ("hbv", "critical")},
    "hbsag-positive-entecavir": {("indication", "info"), ("hbv", "warning")},
    "hbv-never-screened": {("indication", "info"), ("hbv", "warning")},
    "igg-low": {("indication", "info"), ("immunoglobulins", "warning")},
    "igg-missing-continuing": {("indication", "info"), ("immunoglobulins", "warning")},
    "latent-tb-untreated": {("indication", "info"), ("tb", "warning")},
    "live-vaccine-recent": {("indication", "info"), ("vaccination", "warning")},
    "rituximab-anaphylaxis": {("indication", "info"), ("hypersensitivity", "critical")},
    "reaction-moderate-high-criticality": {("indication", "info"), ("hypersensitivity", "warning")},
    "hbv-dna-detectable": {("indication", "info"), ("hbv", "critical")},
    "hbv-problem-list": {("indication", "info"), ("hbv", "critical")},
    "pregnant-pemphigus": {("indication", "info"), ("pregnancy", "warning")},
    "pneumonia-maintenance": {("indication", "info"), ("infection", "warning")},
    "pv-overdue": {("immunoglobulins", "warning"), ("cbc", "warning"), ("course-schedule", "info")},
    "pv-never-rituximab": set(),
    # Issue 13: regimen-aware charts.  Cycle 3 of R-CHOP: no IgG-before-course (RA source), no TB
    # or HCV advisory repeated at a later cycle; the summary only.
    "dlbcl-rchop-cycle3": {("indication", "info")},
    "dlbcl-after-6-cycles": set(),  # regimen complete: no next course to announce
    "gpa-large-bsa": {("indication", "info")},  # 375 mg/m2 x4 at BSA 2.35: no dosing warning
    "ra-all-in-order": {("indication", "info")},  # a clean order gets exactly one card
}

