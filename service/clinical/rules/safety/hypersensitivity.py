"""Prior reactions to rituximab, graded by what happened.

Label Boxed Warning and 5.1: fatal infusion-related reactions; premedicate;
interrupt or slow the infusion and resume at half the rate once symptoms
resolve; discontinue for severe reactions.  Label 5.2: after a severe
mucocutaneous reaction the safety of re-administration is not established.

AllergyIntolerance.criticality is often an EHR default ("high" for every drug
allergy), so it is shown but never grades the card: anaphylaxis, a reaction
recorded as severe, or a severe mucocutaneous reaction is critical; any
other reaction is a warning with the label's premedication advice.
"""

from __future__ import annotations

from typing import Any

from service.clinical.engine import order_rule
from service.clinical.fhir_values import codings, concept_text, effective_datetime, is_entered_in_error
from service.clinical.findings import Evidence, Finding
from service.clinical.policy import Policy
from service.clinical.products import match_concept, match_text
from service.clinical.record import OrderUnderReview, PatientRecord, Resource
from service.clinical.rules.safety._common import RuleOutput, cfg
from service.knowledge import load

REACTION = RuleOutput("safety.hypersensitivity", "hypersensitivity", "2")


def _names_rituximab(allergy: Resource) -> bool:
    concept = allergy.get("code")
    if match_concept(concept):
        return True
    if any(c in load("products")["substance_snomed"] for _, c, _ in codings(concept)):
        return True
    text = concept_text(concept)
    return bool(match_text(text)) or any(w in text for w in cfg("hypersensitivity")["murine_words"])


def _grade(allergy: Resource) -> tuple[str | None, str]:
    """(why it is severe or None, what happened in words)."""
    conf = cfg("hypersensitivity")
    reactions = [r for r in allergy.get("reaction") or [] if isinstance(r, dict)]
    manifestations = [m for r in reactions for m in r.get("manifestation") or []]
    words = concept_text(manifestations)
    if any(c in conf["anaphylaxis_snomed"] for _, c, _ in codings(manifestations)) or any(
            w in words for w in conf["anaphylaxis_words"]):
        return "anaphylaxis", "anaphylaxis"
    if any(w in words for w in conf["severe_mucocutaneous_words"]):
        return "severe mucocutaneous reaction", words
    if any(r.get("severity") == "severe" for r in reactions):
        return "reaction recorded as severe", words or "severe reaction"
    return None, words


@order_rule("safety.hypersensitivity", "Prior reactions to rituximab", needs=["allergies"], scope="patient")
def prior_reaction(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    findings = []
    for allergy in record.allergies:
        if is_entered_in_error(allergy) or not _names_rituximab(allergy):
            continue
        status = [c for _, c, _ in codings(allergy.get("clinicalStatus"))]
        if status and not any(s == "active" for s in status):
            continue
        severe, what = _grade(allergy)
        when = effective_datetime(allergy)
        criticality = allergy.get("criticality") if isinstance(allergy.get("criticality"), str) else None
        value = ", ".join(p for p in (what, f"EHR criticality: {criticality}" if criticality else "") if p)
        evidence = (Evidence("AllergyIntolerance", allergy.get("id"), concept_text(allergy.get("code")) or "rituximab",
                             value or None, when.date().isoformat() if when else None,
                             origin=record.origin_of("AllergyIntolerance")),)
        facts: dict[str, Any] = {"manifestation": what or None, "criticality": criticality}
        if severe:
            findings.append(REACTION.finding(
                "critical", f"Documented {severe} to rituximab: do not re-challenge without specialist review",
                facts={**facts, "state": "severe", "why": severe, "anaphylaxis": severe == "anaphylaxis"},
                evidence=evidence, citations=("label-boxed-warning",),
                override_reasons=("specialist-reviewed", "benefit-outweighs-risk")))
        else:
            findings.append(REACTION.finding(
                "warning", "Prior infusion reaction to rituximab: premedicate and slow the infusion if it recurs",
                facts={**facts, "state": "prior-reaction"}, evidence=evidence, citations=("label-boxed-warning",),
                override_reasons=("documented-elsewhere", "benefit-outweighs-risk")))
    # One card: the most severe documented reaction.
    findings.sort(key=lambda f: f.severity != "critical")
    return findings[:1]
