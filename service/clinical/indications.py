"""What the chart documents as the reason for rituximab (knowledge/indications.yaml).

Active conditions (clinicalStatus active/recurrence/relapse, not refuted or
entered-in-error) and the order's ``reasonCode``/``reasonReference``, plus
the myositis antibodies that define antisynthetase syndrome and anti-MDA5
disease (no ICD-10-CM or SNOMED code exists for those, §3.3, §6.3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from service.clinical import labs
from service.clinical.conditions import active_conditions, condition_evidence, upper_prefixes
from service.clinical.fhir_values import as_list, codings, qualitative_result, quantity, text_and_codings
from service.clinical.findings import Evidence
from service.clinical.record import OrderUnderReview, PatientRecord, Resource
from service.knowledge import load

# Labeled indications are preferred as the basis for dosing when several are documented.
_PRIORITY = ("nhl", "cll", "ra", "gpa_mpa", "pv", "iim")


@dataclass(frozen=True)
class IndicationContext:
    """The documented indications and the features the prerequisite rules need."""

    groups: dict[str, list[Evidence]] = field(default_factory=dict)
    primary: str | None = None
    ild: list[Evidence] = field(default_factory=list)
    rapidly_progressive_ild: bool = False
    #: how rapid progression is documented: "anti-MDA5 with ILD", "lung function decline" or "text"
    rp_basis: tuple[str, ...] = ()
    lung_decline: list[Evidence] = field(default_factory=list)
    respiratory_involvement: list[Evidence] = field(default_factory=list)
    dysphagia: list[Evidence] = field(default_factory=list)
    antisynthetase: list[Evidence] = field(default_factory=list)
    mda5: list[Evidence] = field(default_factory=list)
    looked_for: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Codes:
    """One indications.yaml entry as _matches() reads it: codes and names, normalised once."""

    icd10_prefixes: tuple[str, ...]  # upper-cased: ICD-10-CM codes compare case-blind
    snomed: frozenset[str]
    names: tuple[str, ...]


def _codes(spec: dict[str, Any]) -> _Codes:
    return _Codes(upper_prefixes(tuple(spec.get("icd10_prefixes", []))), frozenset(spec.get("snomed", [])),
                  tuple(spec.get("names", [])))


@cache
def _group_codes() -> dict[str, _Codes]:
    """Each indication group's codes (knowledge/indications.yaml), read once per process."""
    return {key: _codes(spec) for key, spec in load("indications")["groups"].items()}


@cache
def _finding_codes(entry: str) -> _Codes:
    """The codes of a clinical feature ("ild", "dysphagia") of indications.yaml."""
    return _codes(load("indications")[entry])


#: (system, code, display, code upper-cased) of each coding of a concept, and its concept_text()
_Read = tuple[list[tuple[str, str, str, str]], str]


def _read(concept: Any) -> _Read:
    """A concept's codings and text, read once for every group it is matched against."""
    text, coded = text_and_codings(concept)
    return [(system, code, display, code.upper()) for system, code, display in coded], text


def _matches(concept: Any, codes: _Codes, systems: dict[str, str], read: _Read) -> tuple[str, str] | None:
    """(system|code, display) of the first coding in ``codes`` (ICD prefix or SNOMED), else a name in the text."""
    coded, text = read
    for system, code, display, upper in coded:
        if system in ("", systems["icd10"]) and upper.startswith(codes.icd10_prefixes):
            return f"{systems['icd10']}|{code}", display or code
        if system in ("", systems["snomed"]) and code in codes.snomed:
            return f"{systems['snomed']}|{code}", display or code
    for name in codes.names:
        if name in text:
            # Show the chart's own wording (a free-text problem), not the lower-cased match text.
            shown = concept.get("text") if isinstance(concept, dict) else None
            return "text", shown if isinstance(shown, str) and shown.strip() else text
    return None


def _reason_concepts(order: OrderUnderReview, record: PatientRecord) -> list[tuple[Resource, Any]]:
    """(resource to cite, concept) for the order's reasons."""
    out: list[tuple[Resource, Any]] = []
    for cc in as_list(order.request.get("reasonCode")):
        out.append((order.request, cc))
    conditions = {f"Condition/{c.get('id')}": c for c in record.conditions}
    for ref in as_list(order.request.get("reasonReference")):
        target = ref.get("reference") if isinstance(ref, dict) else None
        if isinstance(target, str) and target in conditions:
            out.append((conditions[target], conditions[target].get("code")))
    return out


def _positive(record: PatientRecord, spec: dict[str, Any]) -> list[Evidence]:
    found = labs.results(record, spec["loinc"]) or labs.results_named(record, spec["names"])
    return [labs.evidence(record, r) for r in found if qualitative_result(r.resource) == "positive"
            or _positive_quantity(r.resource)]


def _positive_quantity(obs: Resource) -> bool:
    # Units/volume antibody results: positive when flagged high/abnormal by the lab.
    return any(c in ("H", "HH", "A", "POS") for _, c, _ in codings(obs.get("interpretation")))


def indication_context(record: PatientRecord, order: OrderUnderReview) -> IndicationContext:
    """Documented indications for this order (computed once per record and order)."""
    return record.memo(f"indication:{order.reference}", lambda: _build(record, order))


def chart_indication(record: PatientRecord) -> IndicationContext:
    """Documented indications from the chart alone (patient-view has no order)."""
    return record.memo("indication:chart", lambda: _build(record, None))


def _build(record: PatientRecord, order: OrderUnderReview | None) -> IndicationContext:
    data = load("indications")
    systems = data["systems"]
    groups: dict[str, list[Evidence]] = {}
    active = [c for c, _ in active_conditions(record)]
    sources: list[tuple[Resource, Any]] = [(c, c.get("code")) for c in active]
    if order is not None:
        sources += _reason_concepts(order, record)

    ild: list[Evidence] = []
    respiratory: list[Evidence] = []
    dysphagia: list[Evidence] = []
    rp = False
    group_codes = _group_codes()
    for resource, concept in sources:
        is_order = order is not None and resource is order.request
        read = _read(concept)  # once per concept, not once per group
        for key, spec in data["groups"].items():
            hit = _matches(concept, group_codes[key], systems, read)
            if hit:
                label = f"{spec['display']}: {hit[1]}" + (" (order reason)" if is_order else "")
                ev = (
                    Evidence("MedicationRequest", resource.get("id"), label, code=hit[0], origin="order")
                    if is_order else condition_evidence(record, resource, label, hit[0])
                )
                groups.setdefault(key, []).append(ev)
                if key == "iim" and any(
                    s in ("", systems["icd10"]) and upper in data["iim_respiratory_icd10"]
                    for s, _, _, upper in read[0]
                ):
                    respiratory.append(ev)
        if is_order:
            continue
        if hit := _matches(concept, _finding_codes("ild"), systems, read):
            ild.append(condition_evidence(record, resource, f"Interstitial lung disease: {hit[1]}", hit[0]))
            text = read[1] + " " + " ".join(
                n.get("text", "") for n in as_list(resource.get("note")) if isinstance(n, dict))
            if any(w in text.lower() for w in data["rapidly_progressive_words"]):
                rp = True
        if hit := _matches(concept, _finding_codes("dysphagia"), systems, read):
            dysphagia.append(condition_evidence(record, resource, f"Dysphagia: {hit[1]}", hit[0]))

    antisynthetase = _positive(record, data["antibodies"]["antisynthetase"])
    mda5 = _positive(record, data["antibodies"]["mda5"])
    if "iim" not in groups and (antisynthetase or mda5):
        # Antisynthetase syndrome and anti-MDA5 disease have no code of their own:
        # a positive antibody documents the myopathy (clinical-rules.md §3.3).
        groups["iim"] = [e._replace(label=f"Myositis-specific antibody positive: {e.label}")
                         for e in antisynthetase + mda5]

    rp_basis: list[str] = []
    decline = _lung_function_decline(record, data["lung_function_decline"]) if ild else []
    if decline:
        rp_basis.append("lung function decline")
    if ild and mda5:
        rp_basis.append("anti-MDA5 with ILD")
    if rp:
        rp_basis.append("text")
    primary = None
    reason_groups = [k for k, evs in groups.items() if any(e.origin == "order" for e in evs)]
    for key in _PRIORITY:
        if key in reason_groups:
            primary = key
            break
    if primary is None:
        primary = next((k for k in _PRIORITY if k in groups), None)
    return IndicationContext(
        groups=groups, primary=primary, ild=ild, rapidly_progressive_ild=bool(decline) or rp,
        rp_basis=tuple(rp_basis), lung_decline=decline,
        respiratory_involvement=respiratory, dysphagia=dysphagia,
        antisynthetase=antisynthetase, mda5=mda5,
        looked_for=tuple(spec["display"] for spec in data["groups"].values()),
    )


def _lung_function_decline(record: PatientRecord, spec: dict[str, Any]) -> list[Evidence]:
    """Evidence of a relative drop of at least ``drop_percent`` between the earliest and the
    latest result of a lung function test within ``within_days`` (empty: none documented)."""
    for test in spec["tests"]:
        recent = [r for r in labs.results(record, test["loinc"])
                  if r.when and (record.now - r.when).days <= spec["within_days"]]
        values = [(r, q[0]) for r in recent if (q := quantity(r.resource)) and q[0] > 0]
        if len(values) < 2:
            continue
        (latest, new), (first, old) = values[0], values[-1]
        if (old - new) / old * 100 >= test["drop_percent"]:
            return [labs.evidence(record, first, test["name"]), labs.evidence(record, latest, test["name"])]
    return []


def group_spec(key: str) -> dict[str, Any]:
    return load("indications")["groups"][key]  # type: ignore[no-any-return]
