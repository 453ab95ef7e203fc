"""Suggestions that do the work: FHIR resources to create, per CDS Hooks 2.0.

Missing tests become ``create`` actions of R4 ServiceRequests (draft, order,
LOINC-coded, subject the patient, requester the user from the context).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cards.model import Action, Suggestion
from service.clinical.findings import OrderSuggestion


@dataclass(frozen=True)
class CardContext:
    """What a card needs from the hook call besides the findings."""

    patient_id: str
    user_id: str | None = None
    encounter_id: str | None = None
    #: "YYYY-MM-DD" of the evaluation, for authoredOn
    today: str | None = None


def service_request(order: OrderSuggestion, ctx: CardContext) -> dict[str, Any]:
    """A draft R4 ServiceRequest for one test."""
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://snomed.info/sct",
                        "code": "108252007",
                        "display": "Laboratory procedure",
                    }
                ]
            }
        ],
        "code": {
            "coding": [{"system": order.system, "code": order.code, "display": order.display}],
            "text": order.display,
        },
        "subject": {"reference": f"Patient/{ctx.patient_id}"},
    }
    if ctx.encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{ctx.encounter_id}"}
    if ctx.user_id and ctx.user_id.split("/")[0] in ("Practitioner", "PractitionerRole"):
        resource["requester"] = {"reference": ctx.user_id}
    if ctx.today:
        resource["authoredOn"] = ctx.today
    if order.reason:
        resource["reasonCode"] = [{"text": order.reason}]
    return resource


def order_suggestions(orders: tuple[OrderSuggestion, ...], ctx: CardContext) -> list[Suggestion]:
    """One recommended suggestion ordering everything, then one per test.

    With a single test there is only the one suggestion.  The card uses
    ``selectionBehavior: any`` so a clinician may pick the bundle or a subset.
    """
    unique = list({o.code: o for o in orders}.values())
    if not unique:
        return []
    actions = [
        Action(type="create", description=f"Order {o.display}", resource=service_request(o, ctx))
        for o in unique
    ]
    if len(unique) == 1:
        return [Suggestion(label=f"Order {unique[0].display}", isRecommended=True, actions=actions)]
    everything = Suggestion(
        label="Order all: " + ", ".join(o.display for o in unique),
        isRecommended=True,
        actions=actions,
    )
    singles = [
        Suggestion(label=f"Order {o.display} only", actions=[a])
        for o, a in zip(unique, actions, strict=True)
    ]
    return [everything, *singles]
