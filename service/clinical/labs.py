"""Laboratory results indexed once per record: by LOINC code, newest first.

Sibling codes for the same test (e.g. HBsAg 5195-3 and 5196-1) are matched
as a set, never a single code (clinical-rules.md §6.4).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from service.clinical.fhir_values import codings, concept_text, effective_datetime, is_entered_in_error
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


def _index(record: PatientRecord) -> dict[str, list[Result]]:
    def build() -> dict[str, list[Result]]:
        idx: dict[str, list[Result]] = {}
        for obs in record.observations:
            if obs.get("status") in _EXCLUDED or is_entered_in_error(obs):
                continue
            result = Result(effective_datetime(obs), obs)
            for system, code, _ in codings(obs.get("code")):
                if not system or system == LOINC:
                    idx.setdefault(code, []).append(result)
        for results in idx.values():
            results.sort(key=lambda r: r.when.isoformat() if r.when else "", reverse=True)
        return idx

    return record.memo("lab_index", build)


def results(record: PatientRecord, codes: Iterable[str]) -> list[Result]:
    """All results with any of ``codes``, newest first (undated last), each once."""
    idx = _index(record)
    seen: set[int] = set()
    out: list[Result] = []
    for code in codes:
        for r in idx.get(code, ()):
            if id(r.resource) not in seen:
                seen.add(id(r.resource))
                out.append(r)
    out.sort(key=lambda r: r.when.isoformat() if r.when else "", reverse=True)
    return out


def results_named(record: PatientRecord, names: Iterable[str]) -> list[Result]:
    """Results whose test name contains one of ``names`` (local lab codes)."""
    wanted = [n.lower() for n in names]

    def build() -> list[tuple[str, Result]]:
        return [(concept_text(o.get("code")), Result(effective_datetime(o), o))
                for o in record.observations if not is_entered_in_error(o)]

    texts = record.memo("lab_texts", build)
    return [r for text, r in texts if any(w in text for w in wanted)]


def test_name(obs: Resource) -> str:
    code = obs.get("code") or {}
    if isinstance(code, dict) and isinstance(code.get("text"), str):
        return code["text"]
    return next((d or c for _, c, d in codings(code)), "result")


def value_text(obs: Resource) -> str | None:
    """The result as displayed on a card ('350 mg/dL', 'Negative')."""
    q = obs.get("valueQuantity")
    if isinstance(q, dict) and isinstance(q.get("value"), int | float):
        unit = q.get("unit") or q.get("code") or ""
        return f"{q['value']:g} {unit}".strip()
    vcc = obs.get("valueCodeableConcept")
    if isinstance(vcc, dict):
        return vcc.get("text") or next((d or c for _, c, d in codings(vcc)), None)
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
