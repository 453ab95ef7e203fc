"""The "Open course review" SMART link on cards: order-sign summary and patient-view, not order-select."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from fhir_fixtures import load_bundle, load_request
from service.cli import bundle_to_prefetch

TODAY = datetime.now(UTC).date()


def _cards(client: Any, request_name: str, patient: str, service: str) -> list[dict[str, Any]]:
    body = load_request(request_name, TODAY)
    body["prefetch"] = bundle_to_prefetch(load_bundle(patient, TODAY), patient)
    resp = client.post(f"/cds-services/{service}", json=body)
    assert resp.status_code == 200
    return resp.get_json()["cards"]  # type: ignore[no-any-return]


def _smart_links(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [link for link in card.get("links", []) if link["type"] == "smart"]


def test_order_sign_summary_card_links_to_the_course_review_naming_the_order(client):
    cards = _cards(client, "seed-b", "seed-b", "rituximab-order-sign")
    summary = [c for c in cards if c["indicator"] == "info" and c["source"]["topic"]["code"] == "indication"]
    assert summary
    (link,) = _smart_links(summary[0])
    assert link["label"] == "Open course review"
    assert link["url"] == "http://localhost/app/launch"
    context = json.loads(link["appContext"])
    assert context["orders"] == ["MedicationRequest/seed-b-rtx-order"]
    assert context["draftOrders"][0]["id"] == "seed-b-rtx-order"
    others = [c for c in cards if c not in summary]
    assert all(not _smart_links(c) for c in others)  # warnings say what to do; the summary links the review


def test_patient_view_cards_link_to_the_course_review(client):
    cards = _cards(client, "pv-overdue", "pv-overdue", "rituximab-monitoring")
    assert cards
    for card in cards:
        (link,) = _smart_links(card)
        assert "appContext" not in link  # no order: the app reviews what is on file


def test_order_select_cards_carry_no_link(client):
    cards = _cards(client, "seed-b.order-select", "seed-b", "rituximab-order-select")
    assert all(not _smart_links(c) for c in cards)


@pytest.mark.parametrize("base", ["https://cds.hospital.org"])
def test_link_uses_the_public_base_url(base):
    from service import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(public_base_url=base))
    body = load_request("seed-b", TODAY)
    body["prefetch"] = bundle_to_prefetch(load_bundle("seed-b", TODAY), "seed-b")
    cards = app.test_client().post("/cds-services/rituximab-order-sign", json=body).get_json()["cards"]
    assert {link["url"] for c in cards for link in _smart_links(c)} == {f"{base}/app/launch"}


def test_discovery_says_where_the_app_is(client):
    services = {s["id"]: s for s in client.get("/cds-services").get_json()["services"]}
    assert "/app/launch" in services["rituximab-order-sign"]["description"]
    assert "/app/launch" in services["rituximab-monitoring"]["description"]
