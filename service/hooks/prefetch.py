"""Prefetch as an EHR would fill it: from a patient's Bundle, or by running the templates.

Used by the CLI (``evaluate``, ``request``), the demo and the playground so all
of them send what a real EHR sends; the service itself never calls these.
"""

from __future__ import annotations

from typing import Any

import requests

from service.fhir.queries import PREFETCH_TYPES, prefetch_templates

_FHIR_JSON = {"Accept": "application/fhir+json"}


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def bundle_to_prefetch(bundle: dict[str, Any], patient_id: str) -> dict[str, Any]:
    """A complete prefetch built from a patient's transaction/collection Bundle."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            by_type.setdefault(resource.get("resourceType", ""), []).append(resource)
    prefetch: dict[str, Any] = {}
    for key, rtype in PREFETCH_TYPES.items():
        items = by_type.get(rtype, [])
        if key == "patient":
            match = [r for r in items if r.get("id") == patient_id] or items
            prefetch[key] = match[0] if match else None
        else:
            if rtype.startswith("Medication"):
                items = items + by_type.get("Medication", [])
            prefetch[key] = _searchset(items)
    return prefetch


def prefetch_from_server(base_url: str, patient_id: str, session: requests.Session | None = None,
                         timeout: float = 10.0) -> dict[str, Any]:
    """Run the published prefetch templates against ``base_url``, as an EHR does before a call.

    A failed query leaves an OperationOutcome under its key, which tells the
    service to query that part itself (CDS Hooks 2.0 §Prefetch).
    """
    http = session or requests.Session()
    prefetch: dict[str, Any] = {}
    for key, template in prefetch_templates().items():
        url = f"{base_url.rstrip('/')}/{template.replace('{{context.patientId}}', patient_id)}"
        try:
            resp = http.get(url, headers=_FHIR_JSON, timeout=timeout)
            resp.raise_for_status()
            prefetch[key] = resp.json()
        except (requests.RequestException, ValueError) as exc:
            prefetch[key] = {"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "exception", "diagnostics": f"prefetch failed: {type(exc).__name__}"}]}
    return prefetch
