"""Play the EHR: fill a prefetch by running the discovery templates against a FHIR server."""

from __future__ import annotations

from typing import Any

import requests


def fill_prefetch(session: requests.Session, fhir_base: str, templates: dict[str, str],
                  patient_id: str) -> dict[str, Any]:
    """What a conformant EHR sends: each template's result, ``null`` for a missing read."""
    prefetch: dict[str, Any] = {}
    for key, template in templates.items():
        url = f"{fhir_base}/{template.replace('{{context.patientId}}', patient_id)}"
        resp = session.get(url, headers={"Accept": "application/fhir+json"}, timeout=10)
        if resp.status_code == 404 and "?" not in template:
            prefetch[key] = None
            continue
        resp.raise_for_status()
        prefetch[key] = resp.json()
    return prefetch


def server_timing(header: str) -> dict[str, dict[str, str]]:
    """Parse a Server-Timing header into {name: {dur, desc}}."""
    out: dict[str, dict[str, str]] = {}
    for metric in header.split(","):
        parts = [p.strip() for p in metric.split(";")]
        fields = {}
        for p in parts[1:]:
            k, _, v = p.partition("=")
            fields[k] = v.strip('"')
        out[parts[0]] = fields
    return out
