"""The request bodies the benchmarks send (dates shifted to today)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fhir_fixtures import load_bundle, load_request
from fhir_fixtures.dates import shift_dates
from fhir_fixtures.heavy import PATIENT_ID as HEAVY_ID
from fhir_fixtures.heavy import heavy_requests
from service.hooks.prefetch import bundle_to_prefetch
from service.hooks.registry import SERVICE_ID_BY_HOOK

SERVICE_OF_HOOK = SERVICE_ID_BY_HOOK


@dataclass
class Workload:
    name: str
    description: str
    body: dict[str, Any]

    @property
    def service_id(self) -> str:
        return SERVICE_OF_HOOK[self.body["hook"]]


def with_full_prefetch(request: dict[str, Any], bundle: dict[str, Any], patient_id: str) -> dict[str, Any]:
    body = copy.deepcopy(request)
    # What an EHR that cannot filter Observations by code would send: the whole chart.
    body["prefetch"] = bundle_to_prefetch(bundle, patient_id)
    return body


def _counts(body: dict[str, Any]) -> str:
    prefetch = body.get("prefetch") or {}
    n = {k: len(v.get("entry", [])) for k, v in prefetch.items() if isinstance(v, dict) and "entry" in v}
    return (f"{n.get('observations', 0)} Observations, {n.get('conditions', 0)} Conditions, "
            f"{sum(v for k, v in n.items() if k.startswith('medication'))} medication resources")


def heavy_bundle() -> dict[str, Any]:
    return shift_dates(heavy_requests()["bundle"], datetime.now(UTC).date())  # type: ignore[no-any-return]


def build_workloads(fhir_base_url: str | None) -> list[Workload]:
    """Seed A/B and the heavy chart with full prefetch; the heavy chart without prefetch
    (only if a FHIR server holding it is given); patient-view on the heavy chart."""
    today = datetime.now(UTC).date()
    out = []
    for name in ("seed-a", "seed-b"):
        body = with_full_prefetch(load_request(name, today), load_bundle(name, today), name)
        out.append(Workload(f"{name} order-sign", f"full prefetch ({_counts(body)})", body))
    heavy = shift_dates(heavy_requests(), today)
    sign = with_full_prefetch(heavy["order-sign"], heavy["bundle"], HEAVY_ID)
    out.append(Workload("heavy order-sign", f"full prefetch ({_counts(sign)})", sign))
    if fhir_base_url:
        bare = copy.deepcopy(heavy["order-sign"])
        bare["fhirServer"] = fhir_base_url
        out.append(Workload("heavy order-sign, no prefetch", "8 queries to sekmet-fhir", bare))
    view = with_full_prefetch(heavy["patient-view"], heavy["bundle"], HEAVY_ID)
    out.append(Workload("heavy patient-view", f"full prefetch ({_counts(view)})", view))
    return out
