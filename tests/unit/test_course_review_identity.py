"""The letter's signer: id_token verification against the JWKS, the fhirUser path, the display name."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
import responses
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from service.web.course_review.identity import display_name, user_path, verified_fhir_user

ISSUER = "https://ehr.example.org"
JWKS_URI = ISSUER + "/.well-known/jwks.json"
CLIENT = "rituximab-course-review"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"}, private=True)
FHIR_USER = "https://ehr.example.org/fhir/Practitioner/p1"


def _claims(**change: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CLIENT, "sub": "u1", "iat": now, "exp": now + 300, "fhirUser": FHIR_USER}
    claims.update(change)
    return {k: v for k, v in claims.items() if v is not None}


def _token(key: Any = KEY, alg: str = "RS256", **change: Any) -> str:
    return jwt.encode({"alg": alg, "kid": "k1"}, _claims(**change), key)


def _verify(token: str) -> str | None:
    responses.get(JWKS_URI, json={"keys": [KEY.as_dict(private=False)]})
    return verified_fhir_user(token, ISSUER, JWKS_URI, CLIENT, requests.Session())


@responses.activate
def test_a_valid_id_token_yields_its_fhir_user():
    assert _verify(_token()) == FHIR_USER


@responses.activate
@pytest.mark.parametrize(("token", "why"), [
    (lambda: _token(aud="another-app"), "issued to another client"),
    (lambda: _token(iss="https://other.example.org"), "from another issuer"),
    (lambda: _token(exp=int(time.time()) - 3600), "expired"),
    (lambda: _token(sub=None), "no subject"),
    (lambda: _token(key=RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)), "signed with another key"),
    (lambda: _token(key=OctKey.import_key("a-shared-secret-that-is-long-enough!"), alg="HS256"), "symmetric"),
    (lambda: "not.a.jwt", "garbage"),
])
def test_an_id_token_that_fails_a_check_gives_no_name(token, why):
    assert _verify(token()) is None, why


@responses.activate
def test_no_jwks_or_a_clear_text_jwks_uri_gives_no_name():
    responses.get(JWKS_URI, status=500)
    assert verified_fhir_user(_token(), ISSUER, JWKS_URI, CLIENT, requests.Session()) is None
    assert verified_fhir_user(_token(), ISSUER, "http://ehr.example.org/jwks", CLIENT, requests.Session()) is None
    assert verified_fhir_user(_token(), None, JWKS_URI, CLIENT, requests.Session()) is None


@pytest.mark.parametrize(("fhir_user", "path"), [
    (FHIR_USER, "Practitioner/p1"),
    ("Practitioner/p1", "Practitioner/p1"),
    ("https://elsewhere.example.org/fhir/Practitioner/p1", None),  # the token would go to another server
    ("https://ehr.example.org/fhir/Practitioner/p1/_history/2", None),
    ("https://ehr.example.org/fhir/Observation/o1", None),
    ("https://ehr.example.org/fhir/../Practitioner/p1", None),
])
def test_the_fhir_user_is_read_only_from_the_launchs_fhir_server(fhir_user, path):
    assert user_path(fhir_user, "https://ehr.example.org/fhir") == path


def test_display_name_prefers_the_official_name_and_its_text():
    assert display_name({"name": [{"use": "usual", "given": ["Al"]},
                                  {"use": "official", "prefix": ["Dr"], "given": ["Alex", "J"], "family": "Morgan"}]}) \
        == "Dr Alex J Morgan"
    assert display_name({"name": [{"text": "Dr. A. Morgan, MD", "family": "Morgan"}]}) == "Dr. A. Morgan, MD"
    assert display_name({"name": []}) is None and display_name({}) is None
