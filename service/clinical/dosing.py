"""Reading the ordered dose and the patient's body surface area."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from service.clinical import labs
from service.clinical.fhir_values import as_list, finite_number, quantity
from service.clinical.findings import Evidence
from service.clinical.record import PatientRecord, Resource

HEIGHT_LOINC = ("8302-2",)
WEIGHT_LOINC = ("29463-7",)

_MG = {"mg", "milligram", "milligrams", "mg/dose"}
_MG_M2 = {"mg/m2", "mg/m^2", "mg/m²", "mg/m.2", "mg/(m2)", "milligram per square meter"}
_G = {"g", "gram", "grams"}


@dataclass(frozen=True)
class OrderedDose:
    value: float
    per_m2: bool  # dose is per square metre of body surface area
    count: int | None  # doses in the order (timing.repeat.count)
    interval_days: float | None  # between doses
    text: str


def _period_days(repeat: dict[str, object]) -> float | None:
    period = finite_number(repeat.get("period"))
    unit = repeat.get("periodUnit")
    if period is None:
        return None
    factor = {"d": 1, "wk": 7, "mo": 30.4, "h": 1 / 24}.get(str(unit))
    frequency = finite_number(repeat.get("frequency") or 1)
    if factor is None or frequency is None or frequency <= 0:
        return None
    days = period * factor / frequency
    return days if math.isfinite(days) else None


def ordered_dose(order: Resource) -> OrderedDose | None:
    """The per-dose amount of a MedicationRequest (None when not stated in mg or mg/m2)."""
    for instruction in as_list(order.get("dosageInstruction")):
        if not isinstance(instruction, dict):
            continue
        for dr in as_list(instruction.get("doseAndRate")):
            q = dr.get("doseQuantity") if isinstance(dr, dict) else None
            if not isinstance(q, dict) and isinstance(dr, dict) and isinstance(dr.get("doseRange"), dict):
                q = dr["doseRange"].get("high")
            if not isinstance(q, dict) or (value := finite_number(q.get("value"))) is None or value <= 0:
                continue
            unit = str(q.get("code") or q.get("unit") or "").strip().lower()
            if unit in _G:
                value, unit = value * 1000, "mg"
                if not math.isfinite(value):
                    continue
            if unit not in _MG and unit not in _MG_M2:
                continue
            timing = instruction.get("timing")
            repeat = timing.get("repeat") if isinstance(timing, dict) else None
            repeat = repeat if isinstance(repeat, dict) else {}
            count = finite_number(repeat.get("count"))
            return OrderedDose(
                value=value,
                per_m2=unit in _MG_M2,
                count=int(count) if count is not None and count >= 1 else None,
                interval_days=_period_days(repeat),
                text=str(instruction.get("text") or f"{value:g} {unit}"),
            )
    return None


def _in_cm(value: float, unit: str) -> float | None:
    return {"cm": value, "m": value * 100, "in": value * 2.54, "[in_i]": value * 2.54}.get(unit)


def _in_kg(value: float, unit: str) -> float | None:
    return {"kg": value, "g": value / 1000, "lb": value * 0.45359237, "[lb_av]": value * 0.45359237}.get(unit)


@dataclass(frozen=True)
class BodySize:
    bsa_m2: float
    evidence: tuple[Evidence, ...]


def _latest_measure(record: PatientRecord, codes: tuple[str, ...], to_unit: Callable[[float, str], float | None],
                    low: float, high: float, label: str) -> tuple[float, Evidence] | None:
    """The newest result of ``codes`` converted by ``to_unit`` and within [low, high] (implausible ones skipped)."""
    for result in labs.results(record, codes):
        q = quantity(result.resource)
        if q and (value := to_unit(*q)) and low <= value <= high:
            return value, labs.evidence(record, result, label)
    return None


def body_surface_area(record: PatientRecord) -> BodySize | None:
    """Mosteller BSA, sqrt(height cm x weight kg / 3600), from the latest measurements."""
    # Height first: charts record it rarely, weight at every visit (hundreds of
    # results whose dates need not be read when there is no height to pair them with).
    height = _latest_measure(record, HEIGHT_LOINC, _in_cm, 30, 250, "Body height")
    if height is None:
        return None
    weight = _latest_measure(record, WEIGHT_LOINC, _in_kg, 1, 400, "Body weight")
    if weight is None:
        return None
    (height_cm, height_evidence), (weight_kg, weight_evidence) = height, weight
    return BodySize(round(math.sqrt(height_cm * weight_kg / 3600), 2), (height_evidence, weight_evidence))
