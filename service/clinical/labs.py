"""Laboratory results indexed once per record: by LOINC code, newest first.

Sibling codes for the same test (e.g. HBsAg 5195-3 and 5196-1) are matched
as a set, never a single code (clinical-rules.md §6.4).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from service.clinical.fhir_values import (
    codings,
    concept_text,
    effective_datetime,
    finite_number,
    is_entered_in_error,
    status_of,
)
from service.clinical.findings import Evidence
from service.clinical.record import PatientRecord, Resource

LOINC = "http://loinc.org"
_EXCLUDED = {"entered-in-error", "cancelled", "registered"}


@dataclass(frozen=True)
class Result:
    """One Observation with its parsed date."""

    when: datetime | None
    resource: Resource

    @property
    def id(self) -> str | None:
        return self.resource.get("id")


#: sorts undated results last when sorting newest first
UNDATED = datetime.min.replace(tzinfo=UTC)


def _newest_first(results: list[Result]) -> None:
    results.sort(key=lambda r: r.when or UNDATED, reverse=True)


@dataclass(frozen=True)
class _Catalogue:
    """Every usable Observation once: by LOINC code, and by test name text."""

    by_code: dict[str, list[Resource]]
    #: Observations without a LOINC coding, by distinct lower-cased test name
    by_text: dict[str, list[Resource]]


def _test_text(concept: object, coded: list[tuple[str, str, str]]) -> str:
    """concept_text() of one Observation.code, reusing its already-read codings."""
    if type(concept) is not dict:
        return concept_text(concept)
    text = concept.get("text")
    parts = [text] if isinstance(text, str) else []
    parts.extend(display for _, _, display in coded if display)
    return " ".join(parts).lower()


def _index_loinc(obs: Resource, concept: object, by_code: dict[str, list[Resource]]) -> bool:
    """File ``obs`` under each LOINC (or system-less) code of its ``code``; whether there was one.

    The codings() walk inlined, without its tuples: this runs once per Observation, and a
    heavy chart has thousands.  Same reading as codings(): a code must be a string, and a
    system that is empty or missing counts as LOINC."""
    if type(concept) is not dict:  # a broken feed's list of concepts, or nothing: the general walk
        filed = False
        for system, code, _ in codings(concept):
            if not system or system == LOINC:
                by_code.setdefault(code, []).append(obs)
                filed = True
        return filed
    coding = concept.get("coding")
    if type(coding) is dict:
        coding = (coding,)
    elif type(coding) is not list:
        return False
    filed = False
    for c in coding:
        if type(c) is dict:
            value = c.get("code")
            if type(value) is str:
                coding_system = c.get("system")
                if not coding_system or coding_system == LOINC:
                    group = by_code.get(value)
                    if group is None:
                        by_code[value] = [obs]
                    else:
                        group.append(obs)
                    filed = True
    return filed


def _catalogue(record: PatientRecord) -> _Catalogue:
    """Built in one pass per record.  A heavy chart has thousands of vital signs
    the rules never read, so dates are parsed later, only for the codes asked for."""

    def build() -> _Catalogue:
        by_code: dict[str, list[Resource]] = {}
        by_text: dict[str, list[Resource]] = {}
        for obs in record.observations:
            if status_of(obs) in _EXCLUDED or is_entered_in_error(obs):
                continue
            concept = obs.get("code")
            if _index_loinc(obs, concept, by_code):
                continue
            # names are for local lab codes (indications.yaml)
            by_text.setdefault(_test_text(concept, codings(concept)), []).append(obs)
        return _Catalogue(by_code, by_text)

    return record.memo("lab_catalogue", build)


def _results_for_code(record: PatientRecord, code: str) -> list[Result]:
    def build() -> list[Result]:
        found = [Result(effective_datetime(obs), obs) for obs in _catalogue(record).by_code.get(code, ())]
        _newest_first(found)
        return found

    return record.memo(f"lab_results:{code}", build)


def results(record: PatientRecord, codes: Iterable[str]) -> list[Result]:
    """All results with any of ``codes``, newest first (undated last), each once."""
    seen: set[int] = set()
    out: list[Result] = []
    for code in codes:
        for r in _results_for_code(record, code):
            if id(r.resource) not in seen:
                seen.add(id(r.resource))
                out.append(r)
    _newest_first(out)
    return out


def results_named(record: PatientRecord, names: Iterable[str]) -> list[Result]:
    """Results with only local codes whose test name contains one of ``names``, newest first.

    LOINC-coded results are found by code (results()); names are the fallback
    for labs that send local codes only (indications.yaml)."""
    wanted = [n.lower() for n in names]
    found = [Result(effective_datetime(obs), obs)
             for text, group in _catalogue(record).by_text.items() if any(w in text for w in wanted)
             for obs in group]
    _newest_first(found)
    return found


def test_name(obs: Resource) -> str:
    code = obs.get("code") or {}
    if isinstance(code, dict) and isinstance(code.get("text"), str):
        return code["text"]
    return next((d or c for _, c, d in codings(code)), "result")


def value_text(obs: Resource) -> str | None:
    """The result as displayed on a card ('350 mg/dL', 'Negative')."""
    q = obs.get("valueQuantity")
    if isinstance(q, dict) and (value := finite_number(q.get("value"))) is not None:
        unit = q.get("unit") or q.get("code") or ""
        if isinstance(unit, str):
            unit = unit.replace("[", "").replace("]", "")  # UCUM annotations read "[IU]/mL": show "IU/mL"
        return f"{value:g} {unit}".strip()
    vcc = obs.get("valueCodeableConcept")
    if isinstance(vcc, dict):
        text = vcc.get("text")
        return text if isinstance(text, str) and text else next((d or c for _, c, d in codings(vcc)), None)
    for key in ("valueString", "valueBoolean", "valueInteger"):
        if key in obs:
            return str(obs[key])
    return None


def evidence(record: PatientRecord, result: Result, label: str | None = None) -> Evidence:
    """Card evidence for one lab result."""
    code = next((f"{s or LOINC}|{c}" for s, c, _ in codings(result.resource.get("code"))), None)
    return Evidence(
        resource_type="Observation",
        resource_id=result.id,
        label=label or test_name(result.resource),
        value=value_text(result.resource),
        date=result.when.date().isoformat() if result.when else None,
        code=code,
        origin=record.origin_of("Observation"),
    )
