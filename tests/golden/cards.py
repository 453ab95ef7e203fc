"""Every card of every fixture scenario, as the service answers it: the byte-for-byte reference.

The hot path (card rendering, record indexes, JSON) is rewritten for speed
from time to time; the card text must not change with it.  ``snapshot()``
runs every request fixture against its patient (full prefetch, as of the
fixtures' anchor date), the heavy synthetic chart, and each policy setting,
through the real invocation path, and keeps each card's text, and a hash of
the rest of its JSON minus the per-call ``uuid`` of the card and
its suggestions.  ``python -m tests.golden.cards`` rewrites
``cards.json`` (only when a card is meant to change: say why in the commit).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from fhir_fixtures import load_bundle, load_request, request_names
from fhir_fixtures.heavy import PATIENT_ID as HEAVY_ID
from fhir_fixtures.heavy import heavy_requests
from service.clinical.policy import Policy
from service.fhir.client import FhirClient
from service.hooks.invoke import HookRuntime, handle_hook
from service.hooks.prefetch import bundle_to_prefetch
from service.hooks.registry import SERVICE_ID_BY_HOOK, SERVICES_BY_ID
from tests.scenarios import _EXECUTOR, NOW

GOLDEN = Path(__file__).with_name("cards.json")
LAUNCH_URL = "https://cds.example.org/app/launch"
POLICIES = {
    "default": Policy(),
    "tb-required": Policy(tb_screening="required"),
    "tb-off": Policy(tb_screening="off"),
    "prefer-biosimilar": Policy(prefer_biosimilar=True),
}


def _requests() -> dict[str, dict[str, Any]]:
    """name -> hook request with its patient's whole chart as prefetch."""
    out: dict[str, dict[str, Any]] = {}
    for name in request_names():
        request = load_request(name)
        patient = request["context"]["patientId"]
        request["prefetch"] = bundle_to_prefetch(load_bundle(patient), patient)
        out[name] = request
    heavy = heavy_requests()
    for hook in ("order-sign", "patient-view"):
        request = json.loads(json.dumps(heavy[hook]))
        request["prefetch"] = bundle_to_prefetch(heavy["bundle"], HEAVY_ID)
        out[f"heavy.{hook}"] = request
    return out


def _cards(request: dict[str, Any], policy: Policy) -> list[dict[str, Any]]:
    runtime = HookRuntime(client=FhirClient(), executor=_EXECUTOR, policy=policy,
                          deadline_seconds=1.0, fhir_allowed=lambda _u: False)
    service = SERVICES_BY_ID[SERVICE_ID_BY_HOOK[request["hook"]]]
    outcome = handle_hook(service, request, runtime, now=NOW, app_launch_url=LAUNCH_URL)
    out = []
    for card in json.loads(json.dumps(outcome.body))["cards"]:
        card.pop("uuid", None)
        for suggestion in card.get("suggestions", []):
            suggestion.pop("uuid", None)
        whole = json.dumps(card, sort_keys=True, ensure_ascii=False).encode()
        # The text in full (a diff shows what changed); everything else by its hash.
        out.append({"summary": card["summary"], "detail": card.get("detail"), "indicator": card["indicator"],
                    "sha256": hashlib.sha256(whole).hexdigest()})
    return out


def snapshot() -> dict[str, Any]:
    """{"cards": "<policy>/<request>" -> its cards, "details": detail hash -> text (each text once)}."""
    requests = _requests()
    cards = {f"{pname}/{rname}": _cards(request, policy)
             for pname, policy in POLICIES.items() for rname, request in requests.items()}
    details: dict[str, str] = {}
    for scenario in cards.values():
        for card in scenario:
            text = card.pop("detail") or ""
            key = hashlib.sha256(text.encode()).hexdigest()[:16]
            details[key] = text
            card["detail"] = key
    return {"cards": cards, "details": details}


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(snapshot(), indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}", file=sys.stderr)
