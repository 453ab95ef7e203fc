"""Rituximab products (knowledge/products.yaml) recognised from codes or names.

Shared by order detection (hooks) and treatment history (clinical rules).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from service.clinical.fhir_values import as_list, codings
from service.knowledge import load


@dataclass(frozen=True)
class _Index:
    by_rxnorm: dict[str, str]
    by_hcpcs: dict[str, str]
    by_ndc: dict[str, str]
    names: tuple[tuple[re.Pattern[str], str], ...]
    #: any of the names: most medication texts name no rituximab product, and one search says so
    any_name: re.Pattern[str]
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
    any_name = re.compile(r"(?<![a-z])(?:" + "|".join(re.escape(n) for n, _ in names) + r")(?![a-z])")
    systems = data["systems"]
    return _Index(
        by_rx, by_hcpcs, by_ndc, patterns, any_name,
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
    return match_codings(codings(concept))


def match_codings(read: Iterable[tuple[str, str, str]]) -> tuple[str, str, str] | None:
    """match_concept() of a concept whose codings() are already read."""
    idx = _index()
    for system, code, _ in read:
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
    index = _index()
    if index.any_name.search(lowered) is None:
        return None
    for pattern, key in index.names:
        if pattern.search(lowered):
            return key
    return None


def product(key: str) -> dict[str, Any]:
    """The products.yaml entry of a product key."""
    return load("products")["products"][key]  # type: ignore[no-any-return]
