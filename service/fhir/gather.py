"""Gather the patient record: prefetch first, then parallel queries.

Per prefetch key of the service's plan (CDS Hooks 2.0 §Prefetch, checklist table):

=====================  ===============================================
prefetch[key]          action
=====================  ===============================================
Bundle / resource      use it; follow its ``next`` links (same origin)
``null`` / empty       genuine "no data": do not query again
OperationOutcome       the EHR failed to fetch it: query it ourselves
absent                 query it ourselves
=====================  ===============================================

Data needed and no usable FHIR server -> :class:`PrefetchInsufficient`
(the service answers 412).  A query that fails marks its section
unavailable; the rules that need it are skipped and a data-access card says so.

When the service queries Observations itself it also reads laboratory
Observations by category (``QueryPlan.lab_search``), so results coded only
locally reach the rules; if only that search fails the section is kept and
marked read in part.  After gathering, Medication references that are
neither contained nor in the record are resolved (``service.fhir.medications``);
those still unknown, with no display to read, are recorded per section so
the rules that read them are not run on drugs they cannot see.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from service.clinical.fhir_values import with_usable_id
from service.clinical.record import PatientRecord, canonical_key
from service.fhir import medications as meds
from service.fhir.access import FhirAccess
from service.fhir.client import FetchResult, FhirClient, collect_bundle, next_link
from service.fhir.queries import MEDICATION_SECTIONS, PATIENT_CONTEXT, PREFETCH_TYPES, QueryPlan, query_plan

#: Extra resource types kept from medication searches (``_include``d or contained)
_ALSO_KEEP = ("Medication",)
#: the job key of the laboratory-category search that completes ``observations``
LAB_JOB = "observations:laboratory"


class PrefetchInsufficient(Exception):
    """Data is needed, not in the prefetch, and no FHIR server may be queried."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__("prefetch lacks " + ", ".join(keys) + " and no FHIR server may be queried")
        self.keys = keys


@dataclass
class GatherStats:
    """Where each section came from and what the FHIR queries cost (no clinical data)."""

    origins: dict[str, str] = field(default_factory=dict)
    queries: int = 0
    fhir_ms: float = 0.0
    per_key_ms: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    #: sections read only in part (page cap, next link to another server, looping next links)
    incomplete: set[str] = field(default_factory=set)
    #: Medication references that could not be resolved (no clinical data: ids only)
    unresolved_medications: set[str] = field(default_factory=set)


def _resolve_tokens(template: str, patient_id: str) -> str:
    # Percent-encoded: the id is checked at the edge, and still never able to add a parameter or segment.
    return template.replace(PATIENT_CONTEXT, quote(patient_id, safe=""))


def _prefetch_state(value: Any, resource_type: str) -> str:
    """'use', 'empty' or 'query' for one prefetch value."""
    if value is None:
        return "empty"
    if not isinstance(value, dict):
        return "query"
    rtype = value.get("resourceType")
    if rtype == "OperationOutcome":
        return "query"
    if rtype == "Bundle":
        return "use" if value.get("entry") or value.get("link") else "empty"
    if rtype == resource_type:
        return "use"
    return "query"


def gather_record(
    patient_id: str,
    prefetch: dict[str, Any],
    access: FhirAccess | None,
    client: FhirClient,
    executor: ThreadPoolExecutor,
    deadline_seconds: float,
    now: datetime,
    plan: QueryPlan | None = None,
    known_medications: Mapping[str, dict[str, Any]] | None = None,
) -> tuple[PatientRecord, GatherStats]:
    """Build the PatientRecord for one call (see module docstring).

    ``plan`` names the sections this service reads (default: the order
    services'); ``known_medications`` are Medications already found (the
    draft order's), so they are not fetched twice.  The prefetch is read in
    one pass: each Bundle's Medications are kept as its entries are sorted.
    """
    deadline = time.monotonic() + deadline_seconds
    plan = plan or query_plan("order")
    stats = GatherStats()
    data: dict[str, list[dict[str, Any]]] = {}
    medications: dict[str, dict[str, Any]] = dict(known_medications or {})
    unavailable: set[str] = set()
    jobs: dict[str, Callable[[], FetchResult]] = {}

    def keep(key: str, resources: Iterable[Any], entries: bool = False) -> None:
        """Files ``resources`` (or, with ``entries``, a Bundle's entries) under ``key``, and their Medications."""
        rtype = PREFETCH_TYPES[key]
        kept: list[dict[str, Any]] = []
        data[key] = kept
        # One pass, straight over the Bundle's entries: a heavy chart's Observations are thousands.
        for r in resources:
            if entries:
                r = r.get("resource") if isinstance(r, dict) else None
            if not isinstance(r, dict):  # a Bundle entry without a resource
                continue
            if r.get("resourceType") == rtype:
                # Downstream code takes every id as str | None; with_usable_id() inlined for the usual id.
                rid = r.get("id")
                kept.append(r if type(rid) is str and rid else with_usable_id(r))
            elif (medication := meds.medication_resource_key(r)) is not None:
                medications[medication] = r

    to_query = []
    for key in plan.templates:
        rtype = PREFETCH_TYPES[key]
        state = _prefetch_state(prefetch[key], rtype) if key in prefetch else "query"
        if state == "empty":
            data[key] = []
            stats.origins[key] = "prefetch"
        elif state == "use":
            value = prefetch[key]
            stats.origins[key] = "prefetch"
            if value.get("resourceType") == "Bundle":
                bundle_entries = value.get("entry")
                keep(key, bundle_entries if isinstance(bundle_entries, list) else (), entries=True)
                if access is not None and _has_next(value):
                    jobs[key] = _continue_job(client, access, value, rtype, deadline)
            else:
                data[key] = [with_usable_id(value)]
        else:
            to_query.append(key)
    # A Bundle under a key outside the plan (an EHR's own): only its Medications, which references may name.
    medications.update(meds.prefetched_medications({k: v for k, v in prefetch.items() if k not in plan.templates}))

    if to_query and access is None:
        raise PrefetchInsufficient(to_query)
    assert access is not None or not to_query
    for key in to_query:
        stats.origins[key] = "query"
        path = _resolve_tokens(plan.templates[key], patient_id)
        jobs[key] = _query_job(client, access, key, path, deadline)  # type: ignore[arg-type]
    lab_search = plan.lab_search(patient_id, now) if "observations" in to_query else None
    if lab_search is not None:
        jobs[LAB_JOB] = _query_job(client, access, "observations", lab_search, deadline)  # type: ignore[arg-type]

    lab_results: list[dict[str, Any]] = []
    if jobs:
        futures: dict[Future[FetchResult], str] = {executor.submit(fn): k for k, fn in jobs.items()}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=max(0.0, deadline - time.monotonic()) + 0.05,
                                 return_when=FIRST_COMPLETED)
            if not done:
                break
            for fut in done:
                key = futures[fut]
                result = fut.result()
                stats.queries += result.requests
                stats.per_key_ms[key] = round(result.elapsed_ms, 1)
                if key == LAB_JOB:
                    _keep_lab(result, stats, lab_results)
                elif result.error:
                    stats.errors[key] = result.error
                    unavailable.add(key)
                    data.pop(key, None)
                else:
                    if result.truncated:
                        stats.incomplete.add(key)
                    # A continued prefetch Bundle: keep the first page plus the rest.
                    if stats.origins.get(key) == "prefetch":
                        result.resources = data.get(key, []) + result.resources
                    keep(key, result.resources)
        for fut in pending:  # past the deadline: answer with what we have
            key = futures[fut]
            fut.cancel()
            stats.errors[key] = "deadline exceeded"
            if key == LAB_JOB:
                stats.incomplete.add("observations")
                continue
            unavailable.add(key)
            data.pop(key, None)
        stats.fhir_ms = round(max(stats.per_key_ms.values(), default=0.0), 1)

    if "observations" in data and lab_results:
        data["observations"] = _merged(data["observations"], lab_results)
    unresolved = _resolve_medications(data, medications, access, client, executor, deadline, stats)

    for key in unavailable:
        stats.origins[key] = "unavailable"
    patient_list = data.get("patient") or []
    record = PatientRecord(
        patient_id=patient_id,
        now=now,
        patient=patient_list[0] if patient_list else None,
        conditions=_canonical(data.get("conditions", ())),
        # As they came: the lab index orders the few results a rule reads (labs.py); sorting
        # a heavy chart's thousands of Observations cost as much as the rules that read them.
        observations=tuple(data.get("observations", ())),
        medication_statements=_canonical(data.get("medicationStatements", ())),
        medication_requests=_canonical(data.get("medicationRequests", ())),
        medication_administrations=_canonical(data.get("medicationAdministrations", ())),
        allergies=_canonical(data.get("allergies", ())),
        immunizations=_canonical(data.get("immunizations", ())),
        origins={k: ("query" if v == "query" else "prefetch") for k, v in stats.origins.items()
                 if v != "unavailable"},
        unavailable=frozenset(unavailable),
        incomplete=frozenset(stats.incomplete),
        medications=medications,
        unresolved=unresolved,
    )
    return record, stats


def _canonical(resources: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """A section in an order no server decides (record.canonical_key): rules break ties
    (two conditions with one onset date) by record order."""
    return tuple(sorted(resources, key=canonical_key))


def _keep_lab(result: FetchResult, stats: GatherStats, into: list[dict[str, Any]]) -> None:
    """The laboratory search only adds to ``observations``: its failure leaves it read in part."""
    if result.error:
        stats.errors[LAB_JOB] = result.error
        stats.incomplete.add("observations")
        return
    if result.truncated:
        stats.incomplete.add("observations")
    into.extend(with_usable_id(r) for r in result.resources if r.get("resourceType") == "Observation")


def _merged(coded: list[dict[str, Any]], labs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Observations of both searches, each once (a LOINC-coded lab result comes back twice)."""
    seen = {r.get("id") for r in coded if r.get("id") is not None}
    out = list(coded)
    for r in labs:
        rid = r.get("id")
        if rid is not None and rid not in seen:
            seen.add(rid)
            out.append(r)
    return out


def _resolve_medications(
    data: dict[str, list[dict[str, Any]]],
    medications: dict[str, dict[str, Any]],
    access: FhirAccess | None,
    client: FhirClient,
    executor: ThreadPoolExecutor,
    deadline: float,
    stats: GatherStats,
) -> dict[str, tuple[str, ...]]:
    """Fetch what medication references point to; section -> references still unknown."""
    base = access.base_url if access else None
    pending: dict[str, dict[str, bool]] = {
        key: meds.pending_references(data.get(key, ()), medications, base) for key in MEDICATION_SECTIONS
    }
    wanted = {ref for refs in pending.values() for ref in refs}
    if not wanted:
        return {}
    resolution = meds.resolve(wanted, access, client, executor, deadline)
    medications.update(resolution.found)
    if resolution.requests:
        stats.queries += resolution.requests
        stats.per_key_ms["medications"] = resolution.elapsed_ms
        stats.fhir_ms = round(stats.fhir_ms + resolution.elapsed_ms, 1)
    if resolution.error:
        stats.errors["medications"] = resolution.error
    # A reference with a display still names its drug; one without is a drug nobody can see.
    unresolved = {
        key: tuple(sorted(ref for ref, has_display in refs.items()
                          if ref in resolution.unresolved and not has_display))
        for key, refs in pending.items()
    }
    stats.unresolved_medications = {ref for refs in unresolved.values() for ref in refs}
    return {key: refs for key, refs in unresolved.items() if refs}


def _has_next(bundle: dict[str, Any]) -> bool:
    return next_link(bundle) is not None


def _query_job(
    client: FhirClient, access: FhirAccess, key: str, path: str, deadline: float
) -> Callable[[], FetchResult]:
    rtype = PREFETCH_TYPES[key]
    if key == "patient":
        return lambda: client.read(access, path, rtype, deadline)
    return lambda: client.search(access, path, (rtype, *_ALSO_KEEP), deadline)


def _continue_job(
    client: FhirClient, access: FhirAccess, first: dict[str, Any], rtype: str, deadline: float
) -> Callable[[], FetchResult]:
    """Fetch the pages after a prefetch Bundle's first one."""

    def run() -> FetchResult:
        result = client.search(access, "", (rtype, *_ALSO_KEEP), deadline, first_page=first)
        # search() re-collected the first page; drop it (the caller already has it).
        first_only = FetchResult()
        collect_bundle(first, (rtype, *_ALSO_KEEP), first_only)
        result.resources = result.resources[len(first_only.resources):]
        return result

    return run
