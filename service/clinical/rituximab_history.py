"""Prior rituximab exposure and courses, from the record's medication history.

A course is a run of doses whose first dose starts it: doses within
``same_course_days`` (regimens.yaml) of the first belong to the same course
(1000 mg on days 0 and 14 is one course).  Administrations are the best
evidence; statements and non-draft requests count when there are none.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from operator import attrgetter
from typing import NamedTuple

from service.clinical.fhir_values import effective_datetime, finite_number, status_of
from service.clinical.medications import RituximabUse, medication_index
from service.clinical.record import OrderUnderReview, PatientRecord, Resource
from service.knowledge import load

_NOT_GIVEN = {"not-done", "not-taken", "entered-in-error", "cancelled", "draft", "stopped"}


class Dose(NamedTuple):
    """One rituximab dose given (or listed) before now.

    Doses and courses are named tuples (immutable, read by attribute) rather than
    frozen dataclasses: a chart's history is read into a dozen of each per call,
    and a tuple is built without an ``object.__setattr__`` call per field."""

    when: datetime
    mg: float | None
    product_key: str
    resource_type: str
    resource_id: str | None


class Course(NamedTuple):
    start: datetime
    doses: tuple[Dose, ...]

    @property
    def total_mg(self) -> float | None:
        values = [d.mg for d in self.doses]
        return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _dose_mg(resource: Resource) -> float | None:
    dosage = resource.get("dosage")
    if isinstance(dosage, list):
        dosage = dosage[0] if dosage else None
    if not isinstance(dosage, dict):
        return None
    dose = dosage.get("dose")
    if not isinstance(dose, dict) and isinstance(dosage.get("doseAndRate"), list) and dosage["doseAndRate"]:
        first = dosage["doseAndRate"][0]
        dose = first.get("doseQuantity") if isinstance(first, dict) else None
    if not isinstance(dose, dict) or (value := finite_number(dose.get("value"))) is None:
        return None
    unit = str(dose.get("code") or dose.get("unit") or "mg").lower()
    mg = {"mg": value, "g": value * 1000}.get(unit)
    return mg if mg is not None and math.isfinite(mg) else None


def prior_doses(record: PatientRecord) -> list[Dose]:
    """Rituximab doses before now, oldest first (administrations preferred); kept with the record
    (do not change the list)."""

    def build() -> list[Dose]:
        def collect(found: list[RituximabUse]) -> list[Dose]:
            out = []
            for r, product_key in found:
                if status_of(r) in _NOT_GIVEN:
                    continue
                when = effective_datetime(r)
                if when is None or when > record.now:
                    continue
                out.append(Dose(when, _dose_mg(r), product_key, r.get("resourceType", ""), r.get("id")))
            return out

        # The medication index has read every medication resource and named its product once per drug.
        index = medication_index(record)
        doses = collect(index.rituximab_given) or collect(index.rituximab_listed)
        return sorted(doses, key=attrgetter("when"))

    return record.memo("rituximab_doses", build)


def _order_id(order: OrderUnderReview) -> str | None:
    order_id = order.request.get("id")
    return order_id if isinstance(order_id, str) else None


def doses_before(record: PatientRecord, order: OrderUnderReview) -> list[Dose]:
    """prior_doses() without the order under review (an EHR may already list the draft order).

    Several rules ask, once per order each: the answer is kept with the record (do not change it)."""
    order_id = _order_id(order)
    if order_id is None:
        return prior_doses(record)

    def without_order() -> list[Dose]:
        doses = prior_doses(record)
        kept = [d for d in doses if d.resource_id != order_id]
        return doses if len(kept) == len(doses) else kept

    return record.memo(f"rituximab_doses/{order_id}", without_order)


def courses_before(record: PatientRecord, order: OrderUnderReview) -> list[Course]:
    """courses() of doses_before(), grouped once per record and order (do not change the list)."""
    order_id = _order_id(order)
    key = "rituximab_courses" if order_id is None else f"rituximab_courses/{order_id}"
    return record.memo(key, lambda: courses(doses_before(record, order)))


def courses(doses: list[Dose]) -> list[Course]:
    """Group doses into courses (see module docstring), oldest first."""
    window = timedelta(days=int(load("regimens")["same_course_days"]))
    result: list[Course] = []
    current: list[Dose] = []
    for dose in doses:
        if current and dose.when - current[0].when <= window:
            current.append(dose)
        else:
            if current:
                result.append(Course(current[0].when, tuple(current)))
            current = [dose]
    if current:
        result.append(Course(current[0].when, tuple(current)))
    return result


