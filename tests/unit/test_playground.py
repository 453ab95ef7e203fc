"""/playground through the Flask test client: development only, request building, escaping, feedback."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from service import create_app
from service.store.models import Feedback
from service.web.playground import card_view, with_hook
from tests.conftest import make_settings
from tests.jwt_helpers import ISS, SigningKey, jwks


@pytest.fixture
def pg_client():
    app = create_app(make_settings(allowed_fhir_servers=()))  # no FHIR server: prefetch from the fixtures
    return app, app.test_client()


def _cards(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-topic="([^"]+)" data-indicator="([^"]+)"', html)


def test_the_playground_does_not_exist_when_jwt_is_on(tmp_path):
    key = SigningKey()
    issuers = tmp_path / "i.json"
    issuers.write_text(json.dumps([{"iss": ISS, "jwks": jwks(key)}]))
    app = create_app(make_settings(jwt_required=True, trusted_issuers_file=issuers))
    assert not [r for r in app.url_map.iter_rules() if r.rule.startswith("/playground")]
    resp = app.test_client().get("/playground", headers={"Authorization": f"Bearer {key.token('http://localhost/playground')}"})
    assert resp.status_code == 404


def test_each_seed_fixture_fires_and_renders_its_cards(pg_client):
    _app, client = pg_client
    page = client.get("/playground").get_data(as_text=True)
    assert 'value="seed-a"' in page and "/playground/static/playground.css" in page
    html = client.post("/playground/fire", data={"name": "hbsag-positive-untreated", "data_path": "prefetch"})
    text = html.get_data(as_text=True)
    assert ("hbv", "critical") in _cards(text)
    assert "Patient: Ada Okafor (hbsag-positive-untreated)" in text and "Data: prefetch sent" in text


def test_order_select_is_built_with_its_selections(pg_client):
    _app, client = pg_client
    text = client.post("/playground/fire", data={"name": "igg-low", "hook": "order-select",
                                                 "data_path": "prefetch"}).get_data(as_text=True)
    assert "POST /cds-services/rituximab-order-select: HTTP 200" in text
    assert "&#34;selections&#34;: [\n      &#34;MedicationRequest/igg-low-rtx-order&#34;" in text
    assert ("immunoglobulins", "warning") in _cards(text)


def test_patient_view_cannot_become_an_order_hook():
    with pytest.raises(ValueError, match="needs a draft order"):
        with_hook({"hook": "patient-view", "context": {"patientId": "p"}}, "order-sign")


def test_pasted_non_json_is_a_400_page_with_the_reason(pg_client):
    _app, client = pg_client
    resp = client.post("/playground/fire", data={"pasted": "{hook: order-sign"})
    assert resp.status_code == 400 and "the pasted request is not JSON" in resp.get_data(as_text=True)


def test_card_markdown_is_rendered_without_raw_html():
    view = card_view({"uuid": "u", "indicator": "warning", "summary": "s", "source": {"label": "x"},
                      "detail": "**bold** <script>alert(1)</script> 10\\*3/uL"})
    assert "<strong>bold</strong>" in view.detail_html and "<script>" not in view.detail_html
    assert "10*3/uL" in view.detail_html


def test_override_from_the_page_stores_feedback(pg_client):
    app, client = pg_client
    text = client.post("/playground/fire", data={"name": "igg-low", "data_path": "prefetch"}).get_data(as_text=True)
    form_html = text.split('<form class="actions"')[1].split("</form>")[0]
    form = {k: unescape(v) for k, v in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form_html)}
    reason = unescape(re.findall(r'<option value="(\{[^"]+)"', form_html)[0])
    app.extensions["cds.store"].flush()
    resp = client.post("/playground/feedback", data={**form, "outcome": "overridden", "reason": reason})
    assert "Feedback (overridden) stored: HTTP 200" in resp.get_data(as_text=True)
    assert _cards(resp.get_data(as_text=True)) == _cards(text)  # the same cards stay on the page
    assert app.extensions["cds.store"].count(Feedback) == 1
