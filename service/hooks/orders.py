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


def find_rituximab_orders(
    resources: Iterable[dict[str, Any]],
    selections: Iterable[str] = (),
    user_id: str | None = None,
    encounter_id: str | None = None,
) -> list[OrderUnderReview]:
    """The rituximab orders among the draft orders (only the selected ones, if given)."""
    resources = list(resources)
    medications = {
        f"Medication/{r.get('id')}": r
        for r in resources
        if r.get("resourceType") == "Medication" and r.get("id")
    }
    selected = set(selections)
    found = []
    for r in resources:
        if r.get("resourceType") not in ORDER_TYPES:
            continue
        if selected and f"{r.get('resourceType')}/{r.get('id')}" not in selected:
            continue
        hit = identify_product(r, medications)
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
