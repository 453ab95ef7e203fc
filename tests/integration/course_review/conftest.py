"""The course-review app end to end: the service on a real port, a test EHR in front of the real FHIR server.

``smart`` is the helper the tests use: ``smart.launch("seed-b", context)``
plays the clinician clicking the card's SMART link (the EHR registers a
launch, the browser opens ``/app/launch?iss=...&launch=...``) and follows
the redirects to the course page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask

from cards.links import app_context
from fhir_fixtures import load_request
from fhir_fixtures.smart_launcher import SmartLauncher, running_launcher
from fhir_fixtures.threaded import serve_in_thread
from service import create_app
from tests.conftest import make_settings

SECRET = "course-review-test-secret"


def card_app_context(request_name: str) -> str | None:
    """The appContext the order-sign summary card carries for a fixture request."""
    body = load_request(request_name, datetime.now(UTC).date())
    drafts = [e["resource"] for e in body["context"]["draftOrders"]["entry"]]
    return app_context(d for d in drafts if d.get("resourceType") == "MedicationRequest")


@dataclass
class SmartHarness:
    ehr: SmartLauncher
    app: Flask
    base: str

    def launch_url(self, patient: str, context: str | None = None) -> str:
        launch = self.ehr.new_launch(patient, context)
        return f"{self.base}/app/launch?" + urlencode({"iss": self.ehr.fhir_base, "launch": launch})

    def launch(self, patient: str, context: str | None = None,
               session: requests.Session | None = None) -> tuple[requests.Session, requests.Response]:
        """A full EHR launch with a cookie-keeping client; the final response is the course page."""
        session = session or requests.Session()
        session.trust_env = False
        return session, session.get(self.launch_url(patient, context), timeout=60)

    def until_callback(self, patient: str) -> tuple[requests.Session, str]:
        """Launch and authorize, stopping before the app's callback: (session, callback URL)."""
        session = requests.Session()
        session.trust_env = False
        to_authorize = session.get(self.launch_url(patient), allow_redirects=False, timeout=30)
        assert to_authorize.status_code == 302
        to_callback = session.get(to_authorize.headers["Location"], allow_redirects=False, timeout=30)
        assert to_callback.status_code == 302
        return session, to_callback.headers["Location"]


@pytest.fixture(scope="package")
def _harness(fhir_base_url: str) -> Iterator[SmartHarness]:
    with running_launcher(fhir_base_url) as ehr:
        app = create_app(make_settings(allowed_fhir_servers=(ehr.fhir_base,), app_secret_key=SECRET))
        with serve_in_thread(app) as base:
            ehr.redirect_uri = base + "/app/callback"
            yield SmartHarness(ehr, app, base)


@pytest.fixture
def smart(_harness: SmartHarness) -> SmartHarness:
    """The harness with the EHR's knobs and recordings reset."""
    ehr = _harness.ehr
    ehr.drop_scopes = set()
    ehr.expires_in = 3600
    ehr.id_token_key = None
    for recording in (ehr.authorize_requests, ehr.token_requests, ehr.fhir_requests):
        recording.clear()
    return _harness


def fhir_get(fhir_base_url: str, path: str) -> dict[str, Any]:
    resp = requests.get(f"{fhir_base_url}/{path}", headers={"Accept": "application/fhir+json"}, timeout=30)
    resp.raise_for_status()
    return resp.json()  # type: ignore[no-any-return]
