"""Unit conversion for the lab values the rules compare with thresholds.

Unknown units return None: the rule then says it could not interpret the
value instead of comparing numbers in different units.
"""

from __future__ import annotations

_IGG_TO_MG_DL = {"mg/dl": 1.0, "g/l": 100.0, "g/dl": 1000.0, "mg/l": 0.1}
_COUNT_TO_PER_UL = {
    "10*3/ul": 1000.0, "10^3/ul": 1000.0, "k/ul": 1000.0, "x10e3/ul": 1000.0, "10*9/l": 1000.0,
    "10^9/l": 1000.0, "x10^9/l": 1000.0, "/ul": 1.0, "cells/ul": 1.0, "/mm3": 1.0, "{cells}/ul": 1.0,
}


def _norm(unit: str) -> str:
    return unit.strip().lower().replace("µ", "u").replace("μ", "u").replace(" ", "")


def igg_mg_dl(value: float, unit: str) -> float | None:
    """An immunoglobulin concentration in mg/dL (g/L x 100)."""
    factor = _IGG_TO_MG_DL.get(_norm(unit))
    return None if factor is None else value * factor


def cells_per_ul(value: float, unit: str) -> float | None:
    """A blood cell count per microlitre (10*3/uL x 1000)."""
    factor = _COUNT_TO_PER_UL.get(_norm(unit))
    return None if factor is None else value * factor
