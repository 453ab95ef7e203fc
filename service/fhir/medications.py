"""Resolve Medication references that the record points to but does not carry.

EHRs such as Epic send MedicationStatement, MedicationRequest and
MedicationAdministration with ``medicationReference: {"reference":
"Medication/123"}`` and no ``display``; the Medication is neither contained
nor in the search result.  The rules can only read a drug they can see, so
such references are fetched from the FHIR server as batched searches
(``Medication?_id=a,b,c``, paged, ``medication_ids_per_search`` ids each),
under the call's deadline, allowlist and token like every other query.

Defensive about servers: only the ids asked for are kept (a server that
ignores ``_id`` cannot slip other drugs in), and a server that refuses the
``_id`` search (a 4xx) gets one read per id instead.  Only references this
service may fetch are fetched: relative ``Medication/<id>`` or absolute on
the hook's own ``fhirServer``; anything else stays unresolved and is named.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from service.fhir.access import FhirAccess
from service.fhir.client import FetchResult, FhirClient, bundle_resources
from service.knowledge import load

Resource = dict[str, Any]

#: FHIR R4 id: [A-Za-z0-9\-\.]{1,64}; anything else is never put in a URL
_REFERENCE = re.compile(r"Medication/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?")


def medication_key(reference: str, base_url: str | None = None) -> str | None:
    """``Medication/<id>`` for a reference this service may fetch, else None."""
    local = reference
    if base_url and reference.startswith(base_url.rstrip("/") + "/"):
        local = reference[len(base_url.rstrip("/")) + 1:]
    match = _REFERENCE.fullmatch(local)
    return f"Medication/{match.group(1)}" if match else None


def medication_reference(resource: Resource) -> tuple[str, bool] | None:
    """(reference, has display) of a non-contained ``medicationReference``."""
    ref = resource.get("medicationReference")
    if not isinstance(ref, dict):
        return None
    target = ref.get("reference")
    if not isinstance(target, str) or not target or target.startswith("#"):
        return None  # contained Medications are read where they are
    display = ref.get("display")
    return target, isinstance(display, str) and bool(display.strip())


def is_known(reference: str, known: Mapping[str, Resource], base_url: str | None = None) -> bool:
    key = medication_key(reference, base_url)
    return reference in known or (key is not None and key in known)


def pending_references(
    resources: Iterable[Resource], known: Mapping[str, Resource], base_url: str | None = None
) -> dict[str, bool]:
    """Reference -> whether it has a display, for each reference not yet resolved."""
    pending: dict[str, bool] = {}
    for resource in resources:
        found = medication_reference(resource)
        if found is None or is_known(found[0], known, base_url):
            continue
        target, has_display = found
        pending[target] = pending.get(target, False) or has_display
    return pending


@dataclass
class Resolution:
    """Medications fetched (keyed by the reference as written and by ``Medication/<id>``)."""

    found: dict[str, Resource] = field(default_factory=dict)
    #: references asked for and not resolved (not fetchable, not on the server, or the fetch failed)
    unresolved: set[str] = field(default_factory=set)
    requests: int = 0
    elapsed_ms: float = 0.0
    error: str | None = None


def resolve(
    references: Iterable[str],
    access: FhirAccess | None,
    client: FhirClient,
    executor: Executor,
    deadline: float,
) -> Resolution:
    """Fetch the Medications ``references`` point to (see module docstring)."""
    started = time.monotonic()
    wanted = sorted(set(references))
    result = Resolution()
    by_key: dict[str, list[str]] = {}
    for ref in wanted:
        key = medication_key(ref, access.base_url if access else None)
        if key is None or access is None:
            result.unresolved.add(ref)
        else:
            by_key.setdefault(key, []).append(ref)
    if by_key and access is not None:
        fetched = _fetch(sorted(by_key), access, client, executor, deadline, result)
        for key, refs in by_key.items():
            medication = fetched.get(key)
            if medication is None:
                result.unresolved.update(refs)
                continue
            result.found[key] = medication
            for ref in refs:
                result.found[ref] = medication
    result.elapsed_ms = round((time.monotonic() - started) * 1000, 1)
    return result


def _fetch(
    keys: list[str], access: FhirAccess, client: FhirClient, executor: Executor,
    deadline: float, into: Resolution,
) -> dict[str, Resource]:
    ids = [k.split("/", 1)[1] for k in keys]
    size = int(load("queries")["medication_ids_per_search"])
    chunks = [ids[i:i + size] for i in range(0, len(ids), size)]
    results = _run_all(executor, [
        lambda chunk=chunk: client.search(access, "Medication?_id=" + ",".join(chunk), ("Medication",), deadline)
        for chunk in chunks
    ])
    into.requests += sum(r.requests for r in results)
    if any(r.error and r.error.startswith("HTTP 4") for r in results):
        # The server refuses _id searches on Medication (US Core requires only reads).
        results = _run_all(executor, [
            lambda mid=mid: client.read(access, f"Medication/{mid}", "Medication", deadline) for mid in ids
        ])
        into.requests += sum(r.requests for r in results)
    asked = set(ids)
    found: dict[str, Resource] = {}
    for r in results:
        if r.error:
            into.error = r.error
        for medication in r.resources:
            mid = medication.get("id")
            if type(mid) is str and mid in asked:  # a server ignoring _id cannot add other drugs
                found[f"Medication/{mid}"] = medication
    return found


def _run_all(executor: Executor, jobs: list[Any]) -> list[FetchResult]:
    """Run fetch jobs in parallel (inline when there is only one)."""
    if len(jobs) == 1:
        return [jobs[0]()]
    return [f.result() for f in [executor.submit(job) for job in jobs]]


def medication_resource_key(resource: dict[str, Any]) -> str | None:
    """``Medication/<id>`` of a Medication resource with a usable id, else None."""
    if resource.get("resourceType") != "Medication":
        return None
    mid = resource.get("id")
    return f"Medication/{mid}" if type(mid) is str and mid else None


def prefetched_medications(prefetch: Mapping[str, Any]) -> dict[str, Resource]:
    """Medications an EHR put in the prefetch Bundles (``_include``d), by ``Medication/<id>``."""
    found: dict[str, Resource] = {}
    for value in prefetch.values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            for resource in bundle_resources(value):
                if isinstance(resource, dict) and (key := medication_resource_key(resource)) is not None:
                    found[key] = resource
    return found
