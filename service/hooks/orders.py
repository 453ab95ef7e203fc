"""Find the rituximab orders among the draft orders.

Recognised, in order of reliability: an RxNorm code of any rituximab product
(each biosimilar is its own PIN, so all four ingredients and their SCD/SBD
codes are listed in knowledge/products.yaml), an HCPCS code, an NDC, a
``medicationReference`` to a Medication in the draft bundle or contained in
the order, and, as the last resort, a product or ingredient name in text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from service.clinical.fhir_values import as_list, concept_text
from service.clinical.products import match_concept, match_text
from service.clinical.record import OrderUnderReview

ORDER_TYPES = ("MedicationRequest", "MedicationOrder")  # MedicationOrder: DSTU2 sandbox


def _referenced_medication(
    order: dict[str, Any], bundle_medications: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    ref = order.get("medicationReference")
    if not isinstance(ref, dict):
        return None
    target = ref.get("reference")
    if isinstance(target, str):
        if target.startswith("#"):
            for contained in as_list(order.get("contained")):
                if isinstance(contained, dict) and contained.get("id") == target[1:]:
                    return contained
        return bundle_medications.get(target) or bundle_medications.get(target.split("/")[-1])
    return None


def identify_product(
    order: dict[str, Any], bundle_medications: dict[str, dict[str, Any]]
) -> tuple[str, str, str | None] | None:
    """(product_key, matched_by, code) if the order is for rituximab."""
    concept = order.get("medicationCodeableConcept")
    if (m := match_concept(concept)) is not None:
        return m
    medication = _referenced_medication(order, bundle_medications)
    if medication is not None:
        if (m := match_concept(medication.get("code"))) is not None:
            return m[0], "medication-reference", m[2]
        if key := match_text(concept_text(medication.get("code"))):
            return key, "medication-reference", None
    texts = [concept_text(concept)]
    ref = order.get("medicationReference")
    if isinstance(ref, dict) and isinstance(ref.get("display"), str):
        texts.append(ref["display"])
    if key := match_text(" ".join(texts)):
        return key, "text", None
    return None


def _draft_orders(resources: list[dict[str, Any]], selections: Iterable[str]) -> list[dict[str, Any]]:
    """The draft medication orders to look at (only the selected ones, if given)."""
    selected = set(selections)
    return [
        r for r in resources
        if r.get("resourceType") in ORDER_TYPES
        and (not selected or f"{r.get('resourceType')}/{r.get('id')}" in selected)
    ]


def draft_medications(resources: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Medication resources sent beside the draft orders, by ``Medication/<id>``."""
    return {
        f"Medication/{r.get('id')}": r
        for r in resources
        if r.get("resourceType") == "Medication" and r.get("id")
    }


def order_medication_references(
    resources: Iterable[dict[str, Any]], selections: Iterable[str] = ()
) -> dict[str, str]:
    """Order reference -> its ``medicationReference`` target, for orders naming no drug
    in a coded concept (the ones whose Medication may have to be fetched)."""
    out: dict[str, str] = {}
    for r in _draft_orders(list(resources), selections):
        if match_concept(r.get("medicationCodeableConcept")) is not None:
            continue
        ref = r.get("medicationReference")
        target = ref.get("reference") if isinstance(ref, dict) else None
        if isinstance(target, str) and target and not target.startswith("#"):
            out[f"{r.get('resourceType')}/{r.get('id')}"] = target
    return out


def find_rituximab_orders(
    resources: Iterable[dict[str, Any]],
    selections: Iterable[str] = (),
    user_id: str | None = None,
    encounter_id: str | None = None,
    medications: dict[str, dict[str, Any]] | None = None,
) -> list[OrderUnderReview]:
    """The rituximab orders among the draft orders (only the selected ones, if given).

    ``medications`` adds Medications found elsewhere (the prefetch, the FHIR
    server) to those sent in the draft bundle."""
    resources = list(resources)
    known = {**(medications or {}), **draft_medications(resources)}
    found = []
    for r in _draft_orders(resources, selections):
        hit = identify_product(r, known)
        if hit:
            found.append(
                OrderUnderReview(
                    request=r,
                    product_key=hit[0],
                    matched_by=hit[1],
                    matched_code=hit[2],
                    user_id=user_id,
                    encounter_id=encounter_id,
                )
            )
    return found
