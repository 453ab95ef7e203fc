"""Log hygiene that keeps logs useful: 401 reasons stay readable, tokens never appear; the start-up line."""

from __future__ import annotations

import json
import logging

from service import create_app
from service.log_format import redact
from tests.conftest import make_settings
from tests.jwt_helpers import ISS, SigningKey, jwks


def test_a_401_reason_is_logged_readably(tmp_path, caplog):
    issuers = tmp_path / "issuers.json"
    issuers.write_text("[]")
    app = create_app(make_settings(jwt_required=True, trusted_issuers_file=issuers))
    caplog.set_level(logging.WARNING, logger="service.security.flask_hooks")
    app.test_client().get("/cds-services")
    reasons = [redact(r.reason) for r in caplog.records if r.getMessage() == "authentication failed"]
    assert reasons == ["missing bearer token"]


def test_prose_after_bearer_survives_but_credentials_do_not():
    assert redact("missing Bearer token; Bearer credentials expired") == "missing Bearer token; Bearer credentials expired"
    assert "s3cr3t-Opaque_value" not in redact("Authorization: Bearer s3cr3t-Opaque_value")
    assert "tokenABC123" not in redact("Bearer tokenABC123")  # a credential that starts like a word


def test_start_up_line_names_issuers_origins_and_fhir_servers(tmp_path, caplog):
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps([{"iss": ISS, "jwks": jwks(SigningKey())}]))
    caplog.set_level(logging.INFO, logger="cds.config")
    create_app(make_settings(jwt_required=True, trusted_issuers_file=issuers,
                             cors_origins=("https://ehr.example.org",), allowed_fhir_servers=("https://f.example/r4",)))
    (line,) = [r for r in caplog.records if r.name == "cds.config"]
    assert (line.jwt_required, line.trusted_issuers, line.cors_origins, line.fhir_servers) == (
        True, [ISS], ["https://ehr.example.org"], ["https://f.example/r4"])


def test_localhost_cors_is_logged_as_development_only(caplog):
    caplog.set_level(logging.INFO, logger="cds.config")
    create_app(make_settings(cors_origins=(r"^https?://(localhost|127\.0\.0\.1)(:[0-9]+)?$",)))
    assert any(r.levelno == logging.WARNING and "development only" in r.getMessage()
               for r in caplog.records if r.name == "cds.config")


def test_a_request_id_is_echoed_when_well_formed_and_made_otherwise(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc.DEF-12_3"}).headers["X-Request-ID"] == "abc.DEF-12_3"
    made = [client.get("/healthz", headers=h).headers["X-Request-ID"] for h in ({}, {"X-Request-ID": "bad id!"}, {})]
    assert all(len(m) == 32 and int(m, 16) >= 0 for m in made)  # 32 hex digits, as uuid4().hex
    assert len(set(made)) == 3
