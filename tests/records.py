"""Tiny builders for PatientRecords in rule unit tests (plain FHIR dicts)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from service.clinical.record import OrderUnderReview, PatientRecord

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
_ids = itertools.count(1)


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat().replace("+00:00", "Z")


def condition(code: str, system: str = ICD10, status: str = "active", verification: str = "confirmed",
              text: str | None = None) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": f"c{next(_ids)}",
            "clinicalStatus": {"coding": [{"code": status}]},
            "verificationStatus": {"coding": [{"code": verification}]},
            "code": {"coding": [{"system": system, "code": code}], **({"text": text} if text else {})},
            "onsetDateTime": ago(100)}


def obs(code: str, days: float, value: float | None = None, unit: str = "", concept: str | None = None,
        string: str | None = None) -> dict[str, Any]:
    o: dict[str, Any] = {"resourceType": "Observation", "id": f"o{next(_ids)}", "status": "final",
                         "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": ago(days)}
    if value is not None:
        o["valueQuantity"] = {"value": value, "unit": unit, "code": unit}
    if concept is not None:
        o["valueCodeableConcept"] = {"coding": [{"system": SNOMED, "code": concept}]}
    if string is not None:
        o["valueString"] = string
    return o


NEG, POS, IND = "260385009", "10828004", "419984006"


def statement(text: str, status: str = "active", start_days: float = 300, end_days: float | None = None,
              code: str | None = None) -> dict[str, Any]:
    period = {"start": ago(start_days), **({"end": ago(end_days)} if end_days is not None else {})}
    concept: dict[str, Any] = {"text": text}
    if code:
        concept["coding"] = [{"system": RXNORM, "code": code}]
    return {"resourceType": "MedicationStatement", "id": f"ms{next(_ids)}", "status": status,
            "medicationCodeableConcept": concept, "effectivePeriod": period}


def infusion(days: float, mg: float = 1000, text: str = "rituximab", code: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": text}
    if code:
        concept["coding"] = [{"system": RXNORM, "code": code}]
    return {"resourceType": "MedicationAdministration", "id": f"ma{next(_ids)}", "status": "completed",
            "medicationCodeableConcept": concept, "effectiveDateTime": ago(days),
            "dosage": {"dose": {"value": mg, "unit": "mg", "code": "mg"}}}


def record(*resources: dict[str, Any], now: datetime = NOW) -> PatientRecord:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    return PatientRecord(
        patient_id="p1", now=now, patient=(by_type.get("Patient") or [None])[0],
        conditions=tuple(by_type.get("Condition", [])),
        observations=tuple(by_type.get("Observation", [])),
        medication_statements=tuple(by_type.get("MedicationStatement", [])),
        medication_requests=tuple(by_type.get("MedicationRequest", [])),
        medication_administrations=tuple(by_type.get("MedicationAdministration", [])),
        allergies=tuple(by_type.get("AllergyIntolerance", [])),
        immunizations=tuple(by_type.get("Immunization", [])),
        origins={k: "prefetch" for k in ("patient", "conditions", "observations", "medicationStatements",
                                         "medicationRequests", "medicationAdministrations", "allergies",
                                         "immunizations")},
    )


def rituximab_order(dose: float = 1000, unit: str = "mg", count: int | None = None, period_days: float | None = None,
                    reason: str | None = None, product_key: str = "rituximab") -> OrderUnderReview:
    repeat: dict[str, Any] = {}
    if count:
        repeat["count"] = count
    if period_days:
        repeat.update({"period": period_days, "periodUnit": "d"})
    req: dict[str, Any] = {
        "resourceType": "MedicationRequest", "id": "draft1", "status": "draft", "intent": "order",
        "medicationCodeableConcept": {"text": "rituximab"},
        "dosageInstruction": [{"timing": {"repeat": repeat},
                               "doseAndRate": [{"doseQuantity": {"value": dose, "unit": unit}}]}],
    }
    if reason:
        req["reasonCode"] = [{"coding": [{"system": ICD10, "code": reason}]}]
    return OrderUnderReview(request=req, product_key=product_key, matched_by="text")


def patient(gender: str, age_years: int) -> dict[str, Any]:
    born = NOW.date().replace(year=NOW.year - age_years) - timedelta(days=30)
    return {"resourceType": "Patient", "id": "p1", "gender": gender, "birthDate": born.isoformat()}
