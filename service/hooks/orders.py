"""Find the rituximab orders among the draft orders.

Recognised, in order of reliability: an RxNorm code of any rituximab product
(each biosimilar is its own PIN, so all four ingredients and their SCD/SBD
codes are listed in knowledge/products.yaml), an HCPCS code, an NDC, a
``medicationReference`` to a Medication in the draft bundle or contained in
the order, and, as the last resort, a product or ingredient name in text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from service.clinical.fhir_values import as_list, codings, concept_text
from service.clinical.record import OrderUnderReview
from service.knowledge import load

ORDER_TYPES = ("MedicationRequest", "MedicationOrder")  # MedicationOrder: DSTU2 sandbox


@dataclass(frozen=True)
class _Index:
    by_rxnorm: dict[str, str]
    by_hcpcs: dict[str, str]
    by_ndc: dict[str, str]
    names: tuple[tuple[re.Pattern[str], str], ...]
    rxnorm_systems: frozenset[str]
    hcpcs_systems: frozenset[str]
    ndc_systems: frozenset[str]


@cache
def _index() -> _Index:
    data = load("products")
    by_rx: dict[str, str] = {}
    by_hcpcs: dict[str, str] = {}
    by_ndc: dict[str, str] = {}
    names: list[tuple[str, str]] = []
    for key, product in data["products"].items():
        by_rx.update({c: key for c in product["rxnorm"]})
        by_hcpcs.update({c.upper(): key for c in product["hcpcs"]})
        by_ndc.update({c: key for c in product["ndc"]})
        names.extend((n, key) for n in product["names"])
    # Longest names first so "rituxan hycela" wins over "rituxan".
    names.sort(key=lambda item: -len(item[0]))
    patterns = tuple(
        (re.compile(r"(?<![a-z])" + re.escape(n) + r"(?![a-z])"), key) for n, key in names
    )
    systems = data["systems"]
    return _Index(
        by_rx, by_hcpcs, by_ndc, patterns,
        frozenset(as_list(systems["rxnorm"])),
        frozenset(as_list(systems["hcpcs"])),
        frozenset(as_list(systems["ndc"])),
    )


def normalize_ndc(code: str) -> str | None:
    """An NDC as 11 digits (5-4-2), from the 11-digit or hyphenated 10-digit forms."""
    code = code.strip()
    if re.fullmatch(r"\d{11}", code):
        return code
    parts = code.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    a, b, c = parts
    widths = (len(a), len(b), len(c))
    if widths == (5, 4, 2):
        return a + b + c
    if widths == (4, 4, 2):
        return "0" + a + b + c
    if widths == (5, 3, 2):
        return a + "0" + b + c
    if widths == (5, 4, 1):
        return a + b + "0" + c
    return None


def match_concept(concept: Any) -> tuple[str, str, str] | None:
    """(product_key, matched_by, code) for a medication CodeableConcept, by code."""
    idx = _index()
    for system, code, _ in codings(concept):
        if (not system or system in idx.rxnorm_systems) and code in idx.by_rxnorm:
            return idx.by_rxnorm[code], "rxnorm", code
        if system in idx.hcpcs_systems and code.upper() in idx.by_hcpcs:
            return idx.by_hcpcs[code.upper()], "hcpcs", code
        if system in idx.ndc_systems and (ndc := normalize_ndc(code)) and ndc in idx.by_ndc:
            return idx.by_ndc[ndc], "ndc", code
    return None


def match_text(text: str) -> str | None:
    """Product key named in free text (last resort)."""
    lowered = text.lower()
    for pattern, key in _index().names:
        if pattern.search(lowered):
            return key
    return None


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
