"""SMART links from cards to the course-review app (CDS Hooks 2.0 §Link, ``type: smart``).

The course timeline, lab trends and the necessity letter do not fit in a
card; the app served under ``/app/`` shows them.  The EHR launches the link's
``url`` with ``iss`` and ``launch`` and hands ``appContext`` back to the app
in the token response; ours names the orders under review and carries them,
since a draft order is not on the FHIR server yet.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from cards.card_json import CardJson, link

LABEL = "Open course review"


def app_context(draft_orders: Iterable[dict[str, Any]]) -> str | None:
    """``appContext`` naming the orders under review (None without orders: a chart launch)."""
    orders = list(draft_orders)
    if not orders:
        return None
    refs = [f"{o.get('resourceType', 'MedicationRequest')}/{o.get('id')}" for o in orders if o.get("id")]
    return json.dumps({"orders": refs, "draftOrders": orders}, separators=(",", ":"))


def wants_course_review(card: CardJson, hook: str) -> bool:
    """The order-sign medical-necessity summary (the one info card on the indication topic), and
    every patient-view card; order-select answers only what would change the order."""
    if hook == "patient-view":
        return True
    return hook == "order-sign" and card.indicator == "info" and card.topic == "indication"


def add_course_review_links(
    cards: list[CardJson], hook: str, launch_url: str, draft_orders: Iterable[dict[str, Any]] = ()
) -> list[CardJson]:
    """Add the "Open course review" SMART link to the cards that want it (in place; returns them)."""
    context = app_context(draft_orders)
    for card in cards:
        if wants_course_review(card, hook):
            card.add_link(link(LABEL, launch_url, "smart", context))
    return cards
