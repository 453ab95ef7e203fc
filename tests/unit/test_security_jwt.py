"""CDS client JWT verification: every rejection reason of CDS Hooks 2.0 §Trusting CDS Clients."""

from __future__ import annotations

import json
import time

import jwt
import pytest

from service.security.client_jwt import AuthenticationError, ClientAuthenticator
from service.security.issuers import TrustedIssuer
from service.security.keys import KeyResolver
from service.security.replay import InMemoryReplayCache
from tests.jwt_helpers import ISS, SigningKey, jwks, jwks_server

AUD = "https://cds.example.org/cds-services/rituximab-order-sign"


@pytest.fixture(scope="module")
def es_key():
    return SigningKey("ES384")


@pytest.fixture(scope="module")
def rs_key():
    return SigningKey("RS384")


@pytest.fixture
def auth(es_key, rs_key):
    issuers = {ISS: TrustedIssuer(ISS, jwks_uri="https://ehr.example.org/jwks", jwks=jwks(es_key, rs_key))}
    return ClientAuthenticator(issuers, InMemoryReplayCache())


def bearer(token):
    return f"Bearer {token}"


@pytest.mark.parametrize("key_name", ["es_key", "rs_key"])
def test_valid_es384_and_rs384_tokens_pass(auth, key_name, request):
    key = request.getfixturevalue(key_name)
    client = auth.authenticate(bearer(key.token(AUD, tenant="hospital-a")), AUD)
    assert client.iss == ISS and client.tenant == "hospital-a"


def test_aud_may_be_an_array(auth, es_key):
    auth.authenticate(bearer(es_key.token([AUD, "https://other"])), AUD)


def reject(auth, header, reason):
    with pytest.raises(AuthenticationError) as err:
        auth.authenticate(header, AUD)
    assert reason in str(err.value)


def test_missing_token(auth):
    reject(auth, None, "missing bearer token")
    reject(auth, "Basic abc", "missing bearer token")


def test_unknown_issuer(auth, es_key):
    reject(auth, bearer(es_key.token(AUD, iss="https://evil.example")), "issuer not trusted")


def test_unknown_kid(auth):
    other = SigningKey("ES384")
    reject(auth, bearer(other.token(AUD)), "unknown kid")


def test_wrong_signature(auth, es_key):
    impostor = SigningKey("ES384", kid=es_key.kid)  # same kid, different key
    reject(auth, bearer(impostor.token(AUD)), "InvalidSignatureError")


def test_alg_none(auth, es_key):
    token = jwt.encode({"iss": ISS, "aud": AUD, "exp": time.time() + 60, "iat": time.time(), "jti": "x"},
                       None, algorithm="none", headers={"kid": es_key.kid})
    reject(auth, bearer(token), "algorithm 'none' not allowed")


def test_hs256_with_the_public_key_as_secret(auth, rs_key):
    from cryptography.hazmat.primitives import serialization

    secret = rs_key.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    token = jwt.api_jws.PyJWS().encode(
        json.dumps({"iss": ISS, "aud": AUD, "exp": int(time.time()) + 60, "iat": int(time.time()),
                    "jti": "y"}).encode(),
        key=b"x" * 32, algorithm="HS256", headers={"kid": rs_key.kid})
    # Re-sign with the PEM as the HMAC secret (what the classic attack does).
    import hashlib
    import hmac

    signing_input = token.rsplit(".", 1)[0].encode()
    sig = jwt.utils.base64url_encode(hmac.new(secret, signing_input, hashlib.sha256).digest()).decode()
    reject(auth, bearer(signing_input.decode() + "." + sig), "algorithm 'HS256' not allowed")


def test_wrong_aud(auth, es_key):
    reject(auth, bearer(es_key.token("https://cds.example.org/cds-services/other")), "aud does not match")


def test_expired(auth, es_key):
    reject(auth, bearer(es_key.token(AUD, iat=int(time.time()) - 1000, exp=int(time.time()) - 600)), "expired")


def test_exp_too_far_in_the_future(auth, es_key):
    reject(auth, bearer(es_key.token(AUD, lifetime=24 * 3600)), "exp too far")


def test_iat_in_the_future(auth, es_key):
    reject(auth, bearer(es_key.token(AUD, iat=int(time.time()) + 600)), "iat in the future")


def test_jti_required(auth, es_key):
    reject(auth, bearer(es_key.token(AUD, jti=None)), "jti")


def test_replayed_jti(auth, es_key):
    token = es_key.token(AUD)
    auth.authenticate(bearer(token), AUD)
    reject(auth, bearer(token), "jti replayed")


def test_foreign_jku(auth, es_key):
    token = es_key.token(AUD, headers={"jku": "https://attacker.example/jwks.json"})
    reject(auth, bearer(token), "jku does not match")


def test_configured_jku_is_accepted(auth, es_key):
    auth.authenticate(bearer(es_key.token(AUD, headers={"jku": "https://ehr.example.org/jwks"})), AUD)


def test_malformed_token(auth):
    reject(auth, "Bearer not.a.jwt", "malformed token")


def test_jwks_rotation_without_restart():
    old, new = SigningKey("ES384"), SigningKey("RS384")
    with jwks_server(jwks(old)) as (url, state, hits):
        auth = ClientAuthenticator({ISS: TrustedIssuer(ISS, jwks_uri=url)}, InMemoryReplayCache(),
                                   keys=KeyResolver({ISS: TrustedIssuer(ISS, jwks_uri=url)}, min_refresh_seconds=0))
        auth.authenticate(bearer(old.token(AUD)), AUD)
        auth.authenticate(bearer(old.token(AUD)), AUD)
        assert len(hits) == 1  # cached
        state["jwks"] = jwks(new)  # the EHR rotates its key
        auth.authenticate(bearer(new.token(AUD)), AUD)
        assert len(hits) == 2  # one refresh on the unknown kid


def test_unknown_kid_refresh_is_rate_limited():
    key = SigningKey("ES384")
    with jwks_server(jwks(key)) as (url, _state, hits):
        issuers = {ISS: TrustedIssuer(ISS, jwks_uri=url)}
        auth = ClientAuthenticator(issuers, InMemoryReplayCache(), keys=KeyResolver(issuers, min_refresh_seconds=60))
        auth.authenticate(bearer(key.token(AUD)), AUD)
        for _ in range(5):
            with pytest.raises(AuthenticationError):
                auth.authenticate(bearer(SigningKey("ES384").token(AUD)), AUD)
        assert len(hits) == 1


def test_in_memory_replay_cache_expires_entries():
    cache = InMemoryReplayCache()
    assert cache.first_use(ISS, "a", time.time() - 1)
    assert cache.first_use(ISS, "a", time.time() + 60)  # the expired entry was dropped
    assert not cache.first_use(ISS, "a", time.time() + 60)
    assert cache.first_use("other-iss", "a", time.time() + 60)
