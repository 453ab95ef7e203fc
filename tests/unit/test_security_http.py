"""The security boundary seen over HTTP: 401s, CORS preflight, FHIR allowlist, log hygiene."""

from __future__ import annotations

import json
import logging
import socket

import pytest

from service import create_app
from service.security.fhir_allowlist import fhir_server_policy
from tests.conftest import ValidatingClient, make_settings
from tests.jwt_helpers import ISS, SigningKey, jwks
from tests.scenarios import NOW  # noqa: F401  (fixtures dated at the anchor)

BASE = "http://localhost"


@pytest.fixture(scope="module")
def key():
    return SigningKey("ES384")


@pytest.fixture
def secured_app(tmp_path, key):
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps([{"iss": ISS, "jwks": jwks(key)}]))
    app = create_app(make_settings(jwt_required=True, trusted_issuers_file=issuers,
                                   cors_origins=("https://sandbox.cds-hooks.org",)))
    app.test_client_class = ValidatingClient
    return app


def test_every_cds_endpoint_needs_a_jwt(secured_app):
    c = secured_app.test_client()
    for method, path in [("get", "/cds-services"), ("post", "/cds-services/rituximab-order-sign"),
                         ("post", "/cds-services/rituximab-order-sign/feedback")]:
        resp = getattr(c, method)(path, json={})
        assert resp.status_code == 401, path
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert resp.get_json() == {"error": "unauthorized", "message": "A valid CDS client JWT is required."}


def test_valid_jwt_with_the_called_url_as_aud(secured_app, key):
    c = secured_app.test_client()
    token = key.token(f"{BASE}/cds-services")
    assert c.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # The same token again is a replay.
    assert c.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    # A token for discovery does not open an invocation.
    token2 = key.token(f"{BASE}/cds-services")
    resp = c.post("/cds-services/rituximab-order-sign", json={}, headers={"Authorization": f"Bearer {token2}"})
    assert resp.status_code == 401


def test_public_base_url_is_the_audience_behind_a_proxy(tmp_path, key):
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps([{"iss": ISS, "jwks": jwks(key)}]))
    app = create_app(make_settings(jwt_required=True, trusted_issuers_file=issuers,
                                   public_base_url="https://cds.hospital.org/rtx"))
    c = app.test_client()
    ok = key.token("https://cds.hospital.org/rtx/cds-services")
    assert c.get("/cds-services", headers={"Authorization": f"Bearer {ok}"}).status_code == 200
    wrong = key.token(f"{BASE}/cds-services")
    assert c.get("/cds-services", headers={"Authorization": f"Bearer {wrong}"}).status_code == 401


def test_healthz_needs_no_jwt(secured_app):
    assert secured_app.test_client().get("/healthz").status_code == 200


def test_cors_preflight_without_jwt_for_allowed_origin_only(secured_app):
    c = secured_app.test_client()
    headers = {"Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "Authorization, Content-Type"}
    resp = c.options("/cds-services/rituximab-order-sign", headers=headers)
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "https://sandbox.cds-hooks.org"
    assert "authorization" in resp.headers["Access-Control-Allow-Headers"].lower()
    assert resp.headers.get("Access-Control-Allow-Credentials") is None
    bad = c.options("/cds-services/rituximab-order-sign", headers={**headers, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in bad.headers


@pytest.mark.parametrize(
    ("allowed", "url", "ok"),
    [
        (("https://ehr.example.org/fhir",), "https://ehr.example.org/fhir/", True),
        (("https://ehr.example.org/fhir",), "https://EHR.example.org:443/fhir", True),
        (("https://ehr.example.org/fhir",), "https://ehr.example.org/other", False),
        (("https://ehr.example.org/fhir",), "https://evil.example/fhir", False),
        (("*",), "http://ehr.example.org/fhir", False),  # https required off loopback
        (("*",), "http://127.0.0.1:8090/fhir", True),
        (("http://localhost:8090/fhir",), "http://localhost:8090/fhir", True),
        ((), "https://ehr.example.org/fhir", False),
    ],
)
def test_fhir_server_allowlist(allowed, url, ok):
    assert fhir_server_policy(allowed)(url) is ok


def test_non_allowlisted_fhir_server_gets_zero_connections():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.3)
    port = listener.getsockname()[1]
    app = create_app(make_settings(allowed_fhir_servers=("https://ehr.example.org/fhir",)))
    body = json.loads(open("fhir_fixtures/requests/seed-a.json").read())
    body["fhirServer"] = f"http://127.0.0.1:{port}/fhir"
    body["fhirAuthorization"] = {"access_token": "tok", "token_type": "Bearer", "expires_in": 300,
                                 "scope": "patient/*.read", "subject": "cds"}
    resp = app.test_client().post("/cds-services/rituximab-order-sign", json=body)
    assert resp.status_code == 412  # answered as if no FHIR server were given
    with pytest.raises(TimeoutError):
        listener.accept()
    listener.close()


def test_logs_never_carry_tokens_jwts_or_lab_values(secured_app, key, caplog):
    from service.hooks.prefetch import bundle_to_prefetch
    from tests.scenarios import load_bundle

    body = json.loads(open("fhir_fixtures/requests/igg-low.json").read())
    body["prefetch"] = bundle_to_prefetch(load_bundle("igg-low"), "igg-low")
    body["fhirServer"] = "https://ehr.example.org/fhir"
    body["fhirAuthorization"] = {"access_token": "secret-access-token-123", "token_type": "Bearer",
                                 "expires_in": 300, "scope": "patient/*.read", "subject": "cds"}
    token = key.token(f"{BASE}/cds-services/rituximab-order-sign")
    caplog.set_level(logging.DEBUG)
    c = secured_app.test_client()
    resp = c.post("/cds-services/rituximab-order-sign", json=body, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and "350 mg/dL" in json.dumps(resp.get_json())
    c.post("/cds-services/rituximab-order-sign", json=body, headers={"Authorization": f"Bearer {token}"})  # replay
    from service.log_format import JsonFormatter, RedactingFilter

    formatter, redactor = JsonFormatter(), RedactingFilter()
    text = ""
    for record in caplog.records:
        redactor.filter(record)
        text += formatter.format(record) + "\n"
    assert "request" in text and "jti replayed" in text
    for secret in (token, token.split(".")[2], "secret-access-token-123", "350 mg/dL", "Okafor"):
        assert secret not in text, secret


def test_redaction_filter_scrubs_jwts_and_bearer_tokens():
    from service.log_format import redact

    jwt_like = "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJ4In0.c2ln"
    out = redact(f"header Authorization: Bearer abc.def-123 token={jwt_like} "
                 '{"access_token": "zzz"}')
    assert "abc.def-123" not in out and jwt_like not in out and "zzz" not in out


def test_redaction_keeps_mapping_style_log_arguments_a_mapping():
    """fontTools logs "%(msg)s"-style with a dict: wrapping it in a tuple broke every such line."""
    import logging

    from service.log_format import RedactingFilter

    record = logging.LogRecord("fontTools", logging.DEBUG, __file__, 1, "Took %(time).3fs to %(msg)s",
                               ({"msg": "load Bearer abc.def", "time": 0.5},), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "Took 0.500s to load Bearer [redacted]"
