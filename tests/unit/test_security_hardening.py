"""Red-team regressions on the JWT boundary, over HTTP (defects 7, 8, 9 and the "also seen" items)."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from typing import Any

import jwt
import pytest
from prometheus_client import REGISTRY

from service import create_app
from service.security.issuers import TrustedIssuersError, load_trusted_issuers
from tests.conftest import ValidatingClient, make_settings
from tests.jwt_helpers import ISS, SigningKey, jwks

DISCOVERY = "http://localhost/cds-services"


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    return {"ES256": SigningKey("ES256"), "ES384": SigningKey("ES384"), "RS256": SigningKey("RS256")}


@pytest.fixture
def client(tmp_path, keys):
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps([{"iss": ISS, "jwks": jwks(*keys.values())}]))
    app = create_app(make_settings(jwt_required=True, trusted_issuers_file=issuers))
    app.test_client_class = ValidatingClient
    return app.test_client()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"\x01" * 64) -> str:
    """A token with any header and claims (JSON the way an attacker writes it) and a junk signature."""
    return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(signature)])


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISS, "aud": DISCOVERY, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}
    claims.update(changes)
    return claims


def failures(reason: str) -> float:
    return REGISTRY.get_sample_value("cds_jwt_failures_total", {"reason": reason}) or 0.0


@pytest.mark.parametrize(("alg", "key_alg"), [("RS256", "ES256"), ("ES384", "RS256"), ("PS256", "ES384"),
                                              ("RS512", "ES384")])
def test_algorithm_naming_a_key_of_another_type_is_a_counted_401_not_a_500(client, keys, alg, key_alg, caplog):
    # PyJWT raised TypeError here: a 500 with a traceback, and the failure counter missed it.
    token = forged({"alg": alg, "kid": keys[key_alg].kid, "typ": "JWT"}, _claims())
    before = failures("other") + failures("algorithm")
    with caplog.at_level(logging.ERROR):
        resp = client.get("/cds-services", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401
    assert failures("other") + failures("algorithm") == before + 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no stack trace


@pytest.mark.parametrize("claims", [
    {"exp": str(int(time.time()) + 300)}, {"iat": "NaN"}, {"iat": "abc"}, {"iat": [1]}, {"exp": 10**400},
    {"exp": True}, {"nbf": "0"}, {"iat": None},
], ids=["exp-string", "iat-NaN-string", "iat-abc", "iat-list", "exp-huge", "exp-bool", "nbf-string", "iat-null"])
def test_numeric_dates_must_be_finite_numbers(client, keys, claims):
    # Signed for real: only the claim's type is wrong.  json.dumps writes 10**400 as a JSON integer.
    key = keys["ES384"]
    token = jwt.encode(_claims(**claims), key.private, algorithm="ES384", headers={"kid": key.kid})
    resp = client.get("/cds-services", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401


def test_a_valid_float_numeric_date_is_accepted(client, keys):
    token = keys["ES384"].token(DISCOVERY, exp=time.time() + 300.5)
    assert client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_audience_is_not_taken_from_the_host_header(client, keys):
    # Defect 8: a token for another CDS service, replayed here with that service's Host header.
    other = keys["ES384"].token("http://other-cds.example/cds-services")
    resp = client.get("/cds-services", headers={"Authorization": f"Bearer {other}", "Host": "other-cds.example"})
    assert resp.status_code == 401
    own = keys["ES384"].token(DISCOVERY)
    assert client.get("/cds-services", headers={"Authorization": f"Bearer {own}",
                                                "Host": "other-cds.example"}).status_code == 200


def test_start_up_warns_loudly_when_the_public_base_url_is_unset(tmp_path, keys, caplog):
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps([{"iss": ISS, "jwks": jwks(keys["ES384"])}]))
    with caplog.at_level(logging.WARNING):
        create_app(make_settings(jwt_required=True, trusted_issuers_file=issuers))
    assert any("CDS_PUBLIC_BASE_URL is unset" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_the_bearer_scheme_is_case_insensitive(client, keys, scheme):
    token = keys["ES384"].token(DISCOVERY)
    assert client.get("/cds-services", headers={"Authorization": f"{scheme} {token}"}).status_code == 200


@pytest.mark.parametrize("jwks_uri", ["http://ehr.example.org/jwks.json", "http://10.0.0.5/jwks",
                                      "http://127.0.0.1:1\\@ehr.example.org/jwks"])
def test_a_cleartext_jwks_uri_off_loopback_is_refused_at_start_up(tmp_path, jwks_uri):
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps([{"iss": ISS, "jwks_uri": jwks_uri}]))
    with pytest.raises(TrustedIssuersError, match="jwks_uri"):
        load_trusted_issuers(issuers)


def test_https_and_loopback_jwks_uris_are_accepted(tmp_path):
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps([{"iss": "a", "jwks_uri": "https://ehr.example.org/jwks.json"},
                                   {"iss": "b", "jwks_uri": "http://127.0.0.1:8099/jwks.json"}]))
    assert set(load_trusted_issuers(issuers)) == {"a", "b"}
