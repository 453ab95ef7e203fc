"""The FHIR queries the rules need, written as CDS Hooks 2.0 prefetch templates.

The same templates are published in discovery (so an EHR can prefetch) and
run by the service itself for whatever the prefetch lacks.  Each service has
its own plan: order-sign and order-select read the whole work-up,
patient-view only what its monitoring reminders read (minimum necessary).

Every template stays within the 2.0 prefetch query restrictions (instance
reads, type searches with reference, token (OR list) and date parameters,
``_count``, ``_sort``) and carries the parameters US Core 6.1/7.0 servers
require (``intent`` on MedicationRequest).  Query mode adds one search no
template can express (a date floor relative to today): laboratory
Observations by category, for results coded only locally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Literal

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

MEDICATION_SECTIONS = ("medicationStatements", "medicationRequests", "medicationAdministrations")
PATIENT_CONTEXT = "{{context.patientId}}"

Evaluation = Literal["order", "chart"]


@dataclass(frozen=True)
class QueryPlan:
    """What one kind of service reads: its prefetch templates, and query-mode extras."""

    #: prefetch key -> template (discovery publishes exactly these)
    templates: dict[str, str]
    #: query mode only: also search laboratory Observations this many months back
    lab_lookback_months: int | None = None
    lab_extra_params: dict[str, str] = field(default_factory=dict)

    def lab_search(self, patient_id: str, now: datetime) -> str | None:
        """The laboratory-category search for ``observations`` (None: this plan has none)."""
        if self.lab_lookback_months is None:
            return None
        # a month as a twelfth of a Julian year, as the rules count months
        floor = (now - timedelta(days=self.lab_lookback_months * 365.25 / 12)).date().isoformat()
        params = "&".join(f"{k}={v}" for k, v in self.lab_extra_params.items())
        return f"Observation?patient={patient_id}&{params}&date=ge{floor}"


def _observation_search(codes: list[str]) -> str:
    system = load("observation_codes")["system"]
    # Newest first (``_sort=-date``; the spec's own ``sort:desc`` example is
    # wrong).  Servers may ignore _sort and cap _count: the client pages and
    # the rules sort, so both are hints only.
    joined = ",".join(f"{system}|{c}" for c in codes)
    return f"Observation?patient={PATIENT_CONTEXT}&code={joined}&_sort=-date&_count=500"


def _page() -> str:
    """A page size for the patient searches (queries.yaml): a server's default (often 20) turns a
    long medication history into many round trips; servers may cap it, and the client pages."""
    return f"&_count={load('queries')['search_page_size']}"


def _medication_templates() -> dict[str, str]:
    p = PATIENT_CONTEXT
    intents = ",".join(load("queries")["medication_request_intents"])
    return {
        "medicationStatements": f"MedicationStatement?patient={p}{_page()}",
        "medicationRequests": f"MedicationRequest?patient={p}&intent={intents}{_page()}",
        "medicationAdministrations": f"MedicationAdministration?patient={p}{_page()}",
    }


def monitoring_codes() -> list[str]:
    """LOINC codes the patient-view reminders read (queries.yaml): the monitored tests, and
    what decides the indication (the course schedule differs for oncology cycles and
    autoimmune courses; antibodies and lung function document myositis and RP-ILD)."""
    tests = load("safety")["tests"]
    indications = load("indications")
    groups = [tests[key]["loinc"] for key in load("queries")["monitoring_tests"]]
    groups += [spec["loinc"] for spec in indications["antibodies"].values()]
    groups += [m["loinc"] for m in indications["lung_function_decline"]["tests"]]
    codes: list[str] = []
    for group in groups:
        codes.extend(c for c in group if c not in codes)
    return codes


@cache
def query_plan(evaluation: Evaluation = "order") -> QueryPlan:
    """The plan of the order services (``order``) or of patient-view (``chart``)."""
    p = PATIENT_CONTEXT
    if evaluation == "chart":
        # Conditions: the next-course reminder depends on the indication (oncology regimens end).
        return QueryPlan({"conditions": f"Condition?patient={p}{_page()}",
                          "observations": _observation_search(monitoring_codes()), **_medication_templates()})
    lab = load("queries")["laboratory"]
    templates = {
        "patient": f"Patient/{p}",
        "conditions": f"Condition?patient={p}{_page()}",
        "observations": _observation_search(list(load("observation_codes")["codes"])),
        **_medication_templates(),
        "allergies": f"AllergyIntolerance?patient={p}{_page()}",
        "immunizations": f"Immunization?patient={p}{_page()}",
    }
    return QueryPlan(templates, lab["lookback_months"],
                     {"category": lab["category"], "_count": str(lab["page_size"])})


def prefetch_templates(evaluation: Evaluation = "order") -> dict[str, str]:
    """CDS Hooks 2.0 prefetch templates (only ``{{context.patientId}}`` tokens)."""
    return query_plan(evaluation).templates
