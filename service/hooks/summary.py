"""One-line descriptions of a hook request's patient and orders, for people (demo, playground).

No clinical judgement here: names, dates and what was ordered, as written in the request.
"""

from __future__ import annotations

from typing import Any


def _text(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and (coding.get("display") or coding.get("code")):
            return str(coding.get("display") or coding.get("code"))
    return ""


def describe_patient(patient: dict[str, Any] | None, patient_id: str) -> str:
    """``Wei Chen (seed-b), female, born 1982-02-25``; just the id when the resource is not at hand."""
    if not isinstance(patient, dict):
        return patient_id
    names = [n for n in patient.get("name") or [] if isinstance(n, dict)]
    name = ""
    if names:
        name = names[0].get("text") or " ".join([*(names[0].get("given") or []), names[0].get("family") or ""]).strip()
    born = f"born {patient['birthDate']}" if patient.get("birthDate") else ""
    facts = [f for f in (patient.get("gender"), born) if f]
    return ", ".join([f"{name} ({patient_id})" if name else patient_id, *facts])


def _dose(order: dict[str, Any]) -> str:
    for instruction in order.get("dosageInstruction") or []:
        if not isinstance(instruction, dict):
            continue
        if instruction.get("text"):
            return str(instruction["text"])
        for rate in instruction.get("doseAndRate") or []:
            dose = rate.get("doseQuantity") if isinstance(rate, dict) else None
            if isinstance(dose, dict) and dose.get("value") is not None:
                return f"{dose['value']} {dose.get('unit') or dose.get('code') or ''}".strip()
    return "no dose"


def describe_orders(request: dict[str, Any]) -> list[str]:
    """One line per draft order: medication and dose (``[]`` for patient-view)."""
    drafts = (request.get("context") or {}).get("draftOrders")
    entries = drafts.get("entry") if isinstance(drafts, dict) else None
    lines = []
    for entry in entries if isinstance(entries, list) else []:
        order = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(order, dict):
            continue
        medication = _text(order.get("medicationCodeableConcept")) or str(
            (order.get("medicationReference") or {}).get("display") or (order.get("medicationReference") or {}).get(
                "reference") or "medication not named")
        lines.append(f"{order.get('resourceType', '?')}/{order.get('id', '?')}: {medication}, {_dose(order)}")
    return lines
