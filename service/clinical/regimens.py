"""Regimens per indication group (knowledge/regimens.yaml): dose matching and oncology cycles.

An order matches a regimen when its dose per administration is at most the
regimen's (mg with mg, mg/m2 with mg/m2, or converted through the body
surface area with the vial-rounding allowance), its number of doses fits,
and, only where the source states the course as fixed doses, its course
total fits.  Oncology regimens are counted in cycles, not courses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from service.clinical.dosing import OrderedDose
from service.clinical.rituximab_history import Dose
from service.knowledge import load


def group_regimens(group: str) -> dict[str, Any]:
    """The regimen entry of an indication group."""
    spec: dict[str, Any] = load("regimens")["groups"][group]
    return spec


def is_cycle_pathway(group: str | None) -> bool:
    """True for oncology groups, whose rituximab is given per chemotherapy cycle."""
    return group is not None and group_regimens(group)["pathway"] == "cycle"


def regimen_text(group: str) -> str:
    return "; or ".join(r["text"] for r in group_regimens(group)["regimens"])


def regimen_citations(group: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c for r in group_regimens(group)["regimens"] for c in r["citations"]))


@dataclass(frozen=True)
class DoseCheck:
    """Result of comparing one order with the group's regimens."""

    matched: dict[str, Any] | None
    problems: tuple[str, ...]
    mg_per_dose: float | None  # computed for mg/m2 orders when the BSA is known
    per_m2: float | None  # the dose per m2 (ordered, or computed from a mg order)


def _fmt(mg: float) -> str:
    return f"{mg:,.0f} mg"


def _one(regimen: dict[str, Any], dose: OrderedDose, bsa: float | None, count: int,
         rounding: float) -> tuple[bool, str | None]:
    """(fits, why not) for one regimen; (False, None) when the dose units cannot be compared."""
    name = regimen["name"]
    limit_n = regimen.get("administrations") or regimen.get("max_administrations")
    if dose.per_m2 and "dose_mg_m2" in regimen:
        if dose.value > regimen["dose_mg_m2"]:
            return False, (f"{dose.value:g} mg/m2 per dose exceeds the {regimen['dose_mg_m2']} mg/m2 "
                           f"of the {name} regimen")
    elif not dose.per_m2 and "dose_mg" in regimen:
        if dose.value > regimen["dose_mg"]:
            return False, (f"{_fmt(dose.value)} per dose exceeds the {_fmt(regimen['dose_mg'])} single dose "
                           f"of the {name} regimen")
        total = regimen.get("course_total_mg")
        if total is not None and dose.value * count > total and not (limit_n and count > limit_n):
            return False, f"{_fmt(dose.value * count)} in this course exceeds the {_fmt(total)} of the {name} regimen"
    elif bsa and not dose.per_m2 and "dose_mg_m2" in regimen:
        per_m2 = dose.value / bsa
        if per_m2 > regimen["dose_mg_m2"] * (1 + rounding):
            return False, (f"{_fmt(dose.value)} is {per_m2:.0f} mg/m2 (BSA {bsa} m2), above the "
                           f"{regimen['dose_mg_m2']} mg/m2 of the {name} regimen")
    elif bsa and dose.per_m2 and "dose_mg" in regimen:
        mg = dose.value * bsa
        if mg > regimen["dose_mg"] * (1 + rounding):
            return False, (f"{dose.value:g} mg/m2 is {_fmt(mg)} (BSA {bsa} m2), above the "
                           f"{_fmt(regimen['dose_mg'])} of the {name} regimen")
    else:
        return False, None
    if limit_n is not None and count > limit_n:
        return False, f"{count} doses ordered; the {name} regimen has {limit_n}"
    return True, None


def check_dose(group: str, dose: OrderedDose, bsa: float | None) -> DoseCheck:
    """Compare the order with every regimen of the group; it passes if one regimen fits."""
    rounding = float(load("regimens")["vial_rounding"])
    count = dose.count or 1
    problems: list[str] = []
    matched = None
    for regimen in group_regimens(group)["regimens"]:
        fits, why = _one(regimen, dose, bsa, count, rounding)
        if fits:
            matched = regimen
            break
        if why:
            problems.append(why)
    mg = round(dose.value * bsa) if dose.per_m2 and bsa else (None if dose.per_m2 else dose.value)
    per_m2 = dose.value if dose.per_m2 else (round(dose.value / bsa) if bsa else None)
    return DoseCheck(matched, () if matched else tuple(problems), mg, per_m2)


@dataclass(frozen=True)
class CycleRun:
    """The current oncology regimen: consecutive rituximab doses no more than the maximum gap apart."""

    doses: tuple[Dose, ...]
    ongoing: bool  # the last dose is recent enough for the next dose to be the next cycle
    max_administrations: int

    @property
    def next_cycle(self) -> int:
        return len(self.doses) + 1 if self.ongoing else 1

    @property
    def complete(self) -> bool:
        return len(self.doses) >= self.max_administrations


def cycle_run(group: str, doses: list[Dose], now: datetime) -> CycleRun:
    """The latest run of cycles in ``doses`` (oldest first)."""
    spec = group_regimens(group)
    gap = timedelta(days=spec["cycle_gap_max_days"])
    run: list[Dose] = []
    for d in doses:
        if run and d.when - run[-1].when > gap:
            run = []
        run.append(d)
    ongoing = bool(run) and now - run[-1].when <= gap
    most = max(r.get("max_administrations", 0) for r in spec["regimens"])
    return CycleRun(tuple(run), ongoing, most)
