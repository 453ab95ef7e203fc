"""The patient record the rules read, and the order under review.

Resources are kept as the plain JSON dicts the EHR or FHIR server sent:
parsing thousands of Observations into typed models costs more than the
whole evaluation (see benchmarks/RESULTS.md), and the rules read few fields.
The accessors in ``service.clinical.fhir_values`` read those fields leniently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

Resource = dict[str, Any]
T = TypeVar("T")

#: Record sections, one per prefetch key (same names as the discovery templates).
SECTIONS: tuple[str, ...] = (
    "patient",
    "conditions",
    "observations",
    "medicationStatements",
    "medicationRequests",
    "medicationAdministrations",
    "allergies",
    "immunizations",
)

DataOrigin = Literal["prefetch", "query", "absent"]


@dataclass(frozen=True)
class PatientRecord:
    """Everything the rules may read about one patient, at one point in time.

    ``now`` is the evaluation instant (timezone-aware); rules never call the
    clock themselves, so a record evaluates the same way in a test and in
    production.  ``unavailable`` names the sections that could not be
    retrieved: a rule that needs one of them says it could not check,
    rather than concluding that the data does not exist.
    """

    patient_id: str
    now: datetime
    patient: Resource | None = None
    conditions: tuple[Resource, ...] = ()
    #: in the order they came (the other sections are in canonical_key() order):
    #: the lab index orders the results it hands out itself
    observations: tuple[Resource, ...] = ()
    medication_statements: tuple[Resource, ...] = ()
    medication_requests: tuple[Resource, ...] = ()
    medication_administrations: tuple[Resource, ...] = ()
    allergies: tuple[Resource, ...] = ()
    immunizations: tuple[Resource, ...] = ()
    #: section name (see SECTIONS) -> where its data came from
    origins: dict[str, DataOrigin] = field(default_factory=dict)
    #: sections that could not be retrieved (query failed or timed out)
    unavailable: frozenset[str] = frozenset()
    #: sections read only in part (the FHIR server's paging was cut short): rules
    #: still run on what was read, and the data-access card says it is partial
    incomplete: frozenset[str] = frozenset()
    #: Medication resources found in bundles or contained, by "Medication/id"
    medications: dict[str, Resource] = field(default_factory=dict)
    #: section -> Medication references in it that nothing resolved (no display
    #: either): the drug is unknown, so rules reading that section are not run
    unresolved: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: derived views (lab index, medication uses) built once per record by
    #: the helpers that need them; not part of the record's identity
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """A derived view of this record, built on first use (e.g. the lab index).

        One dictionary lookup once built: the rules ask for the lab index dozens of times a call."""
        try:
            return self.derived[key]
        except KeyError:
            built = self.derived[key] = build()
            return built

    def origin_of(self, resource_type: str) -> DataOrigin:
        """Where resources of this FHIR type came from (for card provenance)."""
        section = SECTION_OF_TYPE.get(resource_type)
        if section is None:
            return "absent"
        return self.origins.get(section, "absent")


def canonical_key(resource: Resource) -> tuple[int, str]:
    """A record order no server decides: shorter ids first, then by text ("obs-2" before "obs-10").

    Servers may ignore ``_sort`` and page as they like; rules break ties (two
    results of one date) by this order, so the same chart gives the same cards
    whatever order it came in."""
    rid = resource.get("id") or ""
    return len(rid), rid


SECTION_OF_TYPE: dict[str, str] = {
    "Patient": "patient",
    "Condition": "conditions",
    "Observation": "observations",
    "MedicationStatement": "medicationStatements",
    "MedicationRequest": "medicationRequests",
    "MedicationAdministration": "medicationAdministrations",
    "AllergyIntolerance": "allergies",
    "Immunization": "immunizations",
}


@dataclass(frozen=True)
class OrderUnderReview:
    """A rituximab order from ``context.draftOrders`` and the product it names.

    ``product_key`` is a key of ``knowledge/products.yaml`` (e.g.
    ``rituximab-pvvr``); ``matched_by`` says how the order was recognised
    (rxnorm, hcpcs, ndc, medication-reference, text) for the card's
    provenance.
    """

    request: Resource
    product_key: str
    matched_by: str
    matched_code: str | None = None
    user_id: str | None = None
    encounter_id: str | None = None

    @property
    def reference(self) -> str:
        rid = self.request.get("id")
        rtype = self.request.get("resourceType", "MedicationRequest")
        return f"{rtype}/{rid}" if rid else rtype
