"""The SMART flow's rules, over real HTTP: PKCE, state, scopes, sessions, CSRF, allowlist, headers, logs."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import socket
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from joserfc.jwk import RSAKey
from pypdf import PdfReader

from service.web.course_review.sessions import COOKIE_NAME
from service.web.course_review.smart import READ_TYPES
from tests.integration.course_review.conftest import SECRET, SmartHarness, card_app_context, fhir_get

pytestmark = pytest.mark.integration


def test_ehr_launch_uses_pkce_s256_and_minimal_scopes(smart: SmartHarness):
    _, page = smart.launch("seed-b", card_app_context("seed-b"))
    assert page.status_code == 200, page.text[:500]
    assert page.url.endswith("/app/course")
    authorize = smart.ehr.authorize_requests[-1]
    token = smart.ehr.token_requests[-1]
    assert authorize["code_challenge_method"] == "S256"
    verifier = token["code_verifier"]
    assert 43 <= len(verifier) <= 128
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert authorize["code_challenge"] == expected  # S256, not plain
    assert authorize["aud"] == smart.ehr.fhir_base
    assert authorize["launch"] in smart.ehr.launches
    assert set(authorize["scope"].split()) == (
        {"launch", "patient/DocumentReference.c", "openid", "fhirUser"} | {f"patient/{t}.rs" for t in READ_TYPES})
    assert len(authorize["state"]) >= 32


def test_course_page_shows_timeline_checklist_and_letter_for_the_card_order(smart: SmartHarness):
    _, page = smart.launch("seed-b", card_app_context("seed-b"))
    html = page.text
    assert "MedicationRequest/seed-b-rtx-order" in html  # the order named by the card's appContext
    assert 'id="timeline"' in html and 'id="checklist"' in html and 'id="letter"' in html
    assert "Letter of medical necessity" in html


def test_the_letter_is_signed_with_the_verified_fhir_users_name(smart: SmartHarness):
    session, page = smart.launch("seed-b", card_app_context("seed-b"))
    assert page.status_code == 200
    assert '<span id="clinician">Dr Alex Morgan</span>' in page.text
    assert ("GET", "Practitioner/dev-launcher-clinician", 200) in smart.ehr.fhir_requests
    pdf = session.get(f"{smart.base}/app/course/letter.pdf", timeout=60)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Clinician: Dr Alex Morgan" in text


@pytest.mark.parametrize("tamper", ["id_token signed with a key the server does not publish", "fhirUser not granted"])
def test_an_unverifiable_or_absent_identity_keeps_the_blank_signature_line(smart: SmartHarness, tamper: str):
    if tamper.startswith("id_token"):
        smart.ehr.id_token_key = RSAKey.generate_key(2048, parameters={"kid": smart.ehr.signing_key.kid}, private=True)
    else:
        smart.ehr.drop_scopes = {"fhirUser"}
    _, page = smart.launch("seed-b", card_app_context("seed-b"))
    assert page.status_code == 200  # identity is a convenience: the review still opens
    assert 'id="clinician"' not in page.text and "Clinician: ______" in page.text
    assert not any(path.startswith("Practitioner") for _, path, _ in smart.ehr.fhir_requests)


def test_standalone_launch_asks_for_a_patient(smart: SmartHarness):
    session = requests.Session()
    session.trust_env = False
    page = session.get(f"{smart.base}/app/launch", params={"iss": smart.ehr.fhir_base}, timeout=60)
    assert page.status_code == 200
    scopes = smart.ehr.authorize_requests[-1]["scope"].split()
    assert "launch/patient" in scopes and "launch" not in scopes
    assert "launch" not in smart.ehr.authorize_requests[-1]


def test_wrong_state_is_refused_before_any_token_request(smart: SmartHarness):
    session, callback = smart.until_callback("seed-a")
    query = parse_qs(urlsplit(callback).query)
    forged = f"{smart.base}/app/callback?code={query['code'][0]}&state=forged-{query['state'][0]}"
    resp = session.get(forged, allow_redirects=False, timeout=30)
    assert resp.status_code == 400
    assert "state" in resp.text.lower()
    assert smart.ehr.token_requests == []
    # The pending launch is single use: the right state afterwards does not revive it.
    again = session.get(callback, allow_redirects=False, timeout=30)
    assert again.status_code == 401
    assert smart.ehr.token_requests == []


def test_callback_from_another_browser_is_refused(smart: SmartHarness):
    _, callback = smart.until_callback("seed-a")
    stranger = requests.Session()
    stranger.trust_env = False
    resp = stranger.get(callback, allow_redirects=False, timeout=30)
    assert resp.status_code == 401
    assert smart.ehr.token_requests == []


def test_missing_read_scope_is_refused(smart: SmartHarness):
    smart.ehr.drop_scopes = {"patient/Observation.rs"}
    _, page = smart.launch("seed-a")
    assert page.status_code == 403
    assert "patient/Observation.rs" in page.text
    assert not any(path.startswith("Observation") for _, path, _ in smart.ehr.fhir_requests)


def test_without_write_scope_there_is_no_save(smart: SmartHarness):
    smart.ehr.drop_scopes = {"patient/DocumentReference.c"}
    session, page = smart.launch("seed-b", card_app_context("seed-b"))
    assert page.status_code == 200
    assert 'id="save"' not in page.text
    csrf = _csrf(session, smart)
    resp = session.post(f"{smart.base}/app/course/save", data={"csrf_token": csrf}, timeout=60)
    assert resp.status_code == 403
    assert not any(method == "POST" for method, _, _ in smart.ehr.fhir_requests)


def _csrf(session: requests.Session, smart: SmartHarness) -> str:
    store = smart.app.extensions["course_review"]
    session_id = store.cookies.unsign(session.cookies.get(COOKIE_NAME))
    return store.store.get(session_id)["csrf"]  # type: ignore[index]


def test_save_without_csrf_token_is_refused_and_writes_nothing(smart: SmartHarness):
    session, _ = smart.launch("seed-b", card_app_context("seed-b"))
    for data in ({}, {"csrf_token": "not-the-token"}):
        resp = session.post(f"{smart.base}/app/course/save", data=data, allow_redirects=False, timeout=60)
        assert resp.status_code == 400
        assert "nothing was saved" in resp.text
    assert not any(method == "POST" for method, _, _ in smart.ehr.fhir_requests)


def test_save_creates_the_card_document_with_the_pdf(smart: SmartHarness, fhir_base_url: str):
    session, _ = smart.launch("seed-b", card_app_context("seed-b"))
    resp = session.post(f"{smart.base}/app/course/save", data={"csrf_token": _csrf(session, smart)},
                        allow_redirects=False, timeout=60)
    assert resp.status_code == 302
    created = parse_qs(urlsplit(resp.headers["Location"]).query)["saved"][0]
    doc = fhir_get(fhir_base_url, f"DocumentReference/{created}")
    assert doc["subject"]["reference"] == "Patient/seed-b"
    types = [c["attachment"]["contentType"] for c in doc["content"]]
    assert types == ["text/markdown", "application/pdf"]
    markdown = base64.b64decode(doc["content"][0]["attachment"]["data"]).decode()
    assert "Assessment." in markdown
    assert base64.b64decode(doc["content"][1]["attachment"]["data"]).startswith(b"%PDF")


def test_expired_or_tampered_session_is_refused(smart: SmartHarness):
    session, page = smart.launch("seed-a")
    assert page.status_code == 200
    cookie = session.cookies.get(COOKIE_NAME)
    # Tampered signature.
    tampered = requests.get(f"{smart.base}/app/course", cookies={COOKIE_NAME: cookie[:-2] + "xx"}, timeout=30)
    assert tampered.status_code == 401
    # A cookie signed an hour ago, past the session's age limit.

    class HourAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 3600

    state = smart.app.extensions["course_review"]
    session_id = state.cookies.unsign(cookie)
    old = URLSafeTimedSerializer(SECRET, salt="course-review-session", signer=HourAgo).dumps(session_id)
    stale = requests.get(f"{smart.base}/app/course", cookies={COOKIE_NAME: old}, timeout=30)
    assert stale.status_code == 401
    # The server-side session past the token's expiry.
    data = state.store.get(session_id)
    state.store.put(session_id, {**data, "expires_at": time.time() - 1}, 60)
    expired = session.get(f"{smart.base}/app/course", timeout=30)
    assert expired.status_code == 401
    assert "open the course review again" in expired.text.lower()


def test_fhir_server_not_on_the_allowlist_gets_no_connection(smart: SmartHarness):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.3)
    port = listener.getsockname()[1]
    try:
        resp = requests.get(f"{smart.base}/app/launch", params={"iss": f"http://127.0.0.1:{port}/fhir",
                                                                  "launch": "x"}, timeout=30)
        assert resp.status_code == 403
        assert "CDS_ALLOWED_FHIR_SERVERS" in resp.text
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()


def test_pages_carry_a_strict_content_security_policy(smart: SmartHarness):
    session, page = smart.launch("seed-a")
    error = requests.get(f"{smart.base}/app/course", timeout=30)
    for resp in (page, error):
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert "<script>" not in page.text and " style=" not in page.text  # nothing inline for the CSP to block
    cookie_header = page.history[-1].headers["Set-Cookie"]
    assert "HttpOnly" in cookie_header and "SameSite=Lax" in cookie_header


def test_tokens_never_reach_the_logs(smart: SmartHarness, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    session, _ = smart.launch("seed-b", card_app_context("seed-b"))
    session.get(f"{smart.base}/app/course/letter.pdf", timeout=60)
    session.post(f"{smart.base}/app/course/save", data={"csrf_token": _csrf(session, smart)}, timeout=60)
    tokens = list(smart.ehr.tokens)
    verifiers = [r["code_verifier"] for r in smart.ehr.token_requests]
    codes = [r["code"] for r in smart.ehr.token_requests]
    assert tokens and verifiers and codes
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "/app/course/save" in logged  # the requests were logged...
    for secret in tokens + verifiers:
        assert secret not in logged  # ...without a token or a PKCE verifier
    # The code appears only in the test servers' own access lines (werkzeug, urllib3); the service's
    # logs never carry it (in production gunicorn's access log is off: service/gunicorn_app.py).
    ours = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records
                      if not r.name.startswith(("werkzeug", "urllib3")))
    for code in codes:
        assert code not in ours
