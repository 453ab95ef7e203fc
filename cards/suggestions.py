"""Suggestions that do the work: FHIR resources to create, per CDS Hooks 2.0.

A finding's tests become one suggestion ordering all of them (draft R4
ServiceRequests, LOINC-coded); a referral becomes its own suggestion; each
drug becomes its own suggestion (a draft R4 MedicationRequest, RxNorm-coded,
with the dose its source gives).  No two suggestions of a card create the
same thing under ``selectionBehavior: any`` (a clinician may accept all of
them, and each order must then exist once); alternatives over the same tests
("order all" and each single test) go under ``at-most-one``.  Drugs never join the lab bundle.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from cards.card_json import Json, create, suggestion
from cards.model import _prune
from service.clinical.findings import Finding, MedicationSuggestion, OrderSuggestion, ReferralSuggestion

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
#: SNOMED CT "Laboratory procedure" and "Patient referral" (FHIR ServiceRequest category examples)
LAB_CATEGORY = {"system": SNOMED, "code": "108252007", "display": "Laboratory procedure"}
REFERRAL_CODE = {"system": SNOMED, "code": "3457005", "display": "Patient referral"}
#: SNOMED CT route codes for Dosage.route (26643006 Oral route)
_ROUTES = {"oral": {"system": SNOMED, "code": "26643006", "display": "Oral route"}}


class CardContext(NamedTuple):
    """What a card needs from the hook call besides the findings.

    Immutable; a named tuple rather than a frozen dataclass, which sets each field through
    object.__setattr__ (built on every call, for a few attribute reads)."""

    patient_id: str
    user_id: str | None = None
    encounter_id: str | None = None
    #: "YYYY-MM-DD" of the evaluation, for authoredOn
    today: str | None = None


def _draft(resource_type: str, ctx: CardContext, reason: str | None) -> dict[str, Any]:
    """The fields every suggested draft order shares."""
    resource: dict[str, Any] = {"resourceType": resource_type, "status": "draft", "intent": "order",
                                "subject": {"reference": f"Patient/{ctx.patient_id}"}}
    if ctx.encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{ctx.encounter_id}"}
    if ctx.user_id and ctx.user_id.split("/")[0] in ("Practitioner", "PractitionerRole"):
        resource["requester"] = {"reference": ctx.user_id}
    if ctx.today:
        resource["authoredOn"] = ctx.today
    if reason:
        resource["reasonCode"] = [{"text": reason}]
    return resource


def service_request(order: OrderSuggestion, ctx: CardContext) -> dict[str, Any]:
    """A draft R4 ServiceRequest for one test."""
    return {**_draft("ServiceRequest", ctx, order.reason),
            "category": [{"coding": [LAB_CATEGORY]}],
            "code": {"coding": [{"system": order.system, "code": order.code, "display": order.display}],
                     "text": order.display}}


def referral_request(referral: ReferralSuggestion, ctx: CardContext) -> dict[str, Any]:
    """A draft R4 ServiceRequest referring the patient to a specialty."""
    return {**_draft("ServiceRequest", ctx, referral.reason),
            "code": {"coding": [REFERRAL_CODE], "text": referral.display},
            "performerType": {"text": referral.specialty}}


def medication_request(med: MedicationSuggestion, ctx: CardContext) -> dict[str, Any]:
    """A draft R4 MedicationRequest with the dose the source gives."""
    dosage: dict[str, Any] = {
        "text": med.dosage_text,
        "timing": {"repeat": {"frequency": med.times_per_period, "period": med.period_days, "periodUnit": "d"}},
        "doseAndRate": [{"doseQuantity": {"value": med.dose_value, "unit": med.dose_unit}}],
    }
    if med.route in _ROUTES:
        dosage["route"] = {"coding": [_ROUTES[med.route]]}
    return {**_draft("MedicationRequest", ctx, med.reason),
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": med.rxnorm, "display": med.display}],
                                          "text": med.display},
            "dosageInstruction": [dosage]}


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _prescribe_label(med: MedicationSuggestion) -> str:
    """'Prescribe <drug>: <dose>' without saying the drug twice."""
    if med.dosage_text.lower().startswith(med.display.lower()):
        return f"Prescribe {med.dosage_text}"
    return f"Prescribe {med.display}: {med.dosage_text}"


def _draft_action(description: str, resource: Json) -> Json:
    """A create action for a draft order.  The draft is filled from the rule's suggestion and the
    knowledge data, where a display or code could be empty: such elements are dropped (spec §Use of JSON)."""
    return create(description, _prune(resource))


def _order_action(order: OrderSuggestion, ctx: CardContext) -> Json:
    return _draft_action(f"Order {order.display}", service_request(order, ctx))


def order_suggestions(orders: tuple[OrderSuggestion, ...], ctx: CardContext,
                      singles: bool = False) -> list[Json]:
    """One recommended suggestion ordering every missing test, once each; with ``singles``, also
    each test alone (alternatives: the card must then use selectionBehavior at-most-one)."""
    unique = list({o.code: o for o in orders}.values())
    if not unique:
        return []
    label = ("Order all: " if singles and len(unique) > 1 else "Order ") + _names([o.display for o in unique])
    out = [suggestion(label, [_order_action(o, ctx) for o in unique], recommended=True)]
    if singles and len(unique) > 1:
        out += [suggestion(f"Order {o.display} only", [_order_action(o, ctx)], recommended=False) for o in unique]
    return out


def only_alternatives(finding: Finding) -> bool:
    """True when a finding's suggestions are alternatives over one set of lab tests (no referral, no drug)."""
    return len({o.code for o in finding.orders}) > 1 and not finding.referrals and not finding.medications


def finding_suggestions(finding: Finding, ctx: CardContext) -> list[Json]:
    """Every suggestion of one finding: tests, then referrals, then drugs (each its own).

    Lab tests alone: "order all" plus each single test, for selectionBehavior at-most-one.
    With referrals or drugs the suggestions stay disjoint under "any", so a clinician can
    order the tests and refer as well.
    """
    out = order_suggestions(finding.orders, ctx, singles=only_alternatives(finding))
    out += [suggestion(r.display, [_draft_action(r.display, referral_request(r, ctx))], recommended=True)
            for r in finding.referrals]
    out += [suggestion(_prescribe_label(m), [_draft_action(f"Prescribe {m.display}", medication_request(m, ctx))],
                       recommended=m.recommended)
            for m in finding.medications]
    return out
