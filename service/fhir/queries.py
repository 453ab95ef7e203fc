"""The FHIR queries the rules need, written as CDS Hooks 2.0 prefetch templates.

The same templates are published in discovery (so an EHR can prefetch) and
run by the service itself for whatever the prefetch lacks.
"""

from __future__ import annotations

from functools import cache

from service.knowledge import load

#: prefetch key -> FHIR resource type it returns (and record section name)
PREFETCH_TYPES: dict[str, str] = {
    "patient": "Patient",
    "conditions": "Condition",
    "observations": "Observation",
    "medicationStatements": "MedicationStatement",
    "medicationRequests": "MedicationRequest",
    "medicationAdministrations": "MedicationAdministration",
    "allergies": "AllergyIntolerance",
    "immunizations": "Immunization",
}


@cache
def prefetch_templates() -> dict[str, str]:
    """CDS Hooks 2.0 prefetch templates (only ``{{context.patientId}}`` tokens).

    Observations are restricted to the LOINC codes the rules read, newest
    first (``_sort=-date``, the spec's own ``sort:desc`` example is wrong).
    """
    obs = load("observation_codes")
    codes = ",".join(f"{obs['system']}|{c}" for c in obs["codes"])
    p = "{{context.patientId}}"
    return {
        "patient": f"Patient/{p}",
        "conditions": f"Condition?patient={p}",
        "observations": f"Observation?patient={p}&code={codes}&_sort=-date&_count=500",
        "medicationStatements": f"MedicationStatement?patient={p}",
        "medicationRequests": f"MedicationRequest?patient={p}",
        "medicationAdministrations": f"MedicationAdministration?patient={p}",
        "allergies": f"AllergyIntolerance?patient={p}",
        "immunizations": f"Immunization?patient={p}",
    }
