"""SMART client helpers of the course review: scopes, discovery checks, the PKCE authorization URL."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from service.web.course_review import smart
from service.web.course_review.errors import DiscoveryError
from service.web.course_review.sessions import (
    DirectorySessionStore,
    InMemorySessionStore,
    SessionCookies,
    session_store_for,
)

ISS = "https://ehr.example.org/fhir"
CONFIG_URL = ISS + "/.well-known/smart-configuration"
GOOD = {"authorization_endpoint": "https://ehr.example.org/authorize",
        "token_endpoint": "https://ehr.example.org/token", "code_challenge_methods_supported": ["S256"]}


@pytest.mark.parametrize(("granted", "missing"), [
    ("patient/*.rs", []),
    ("patient/*.read", []),
    ("user/*.cruds", []),
    (" ".join(f"patient/{t}.rs" for t in smart.READ_TYPES if t != "Immunization"), ["patient/Immunization.rs"]),
    ("patient/*.c", [f"patient/{t}.rs" for t in smart.READ_TYPES]),
    ("system/*.rs", [f"patient/{t}.rs" for t in smart.READ_TYPES]),
])
def test_missing_read_scopes(granted, missing):
    assert smart.missing_read_scopes(granted) == missing


def test_save_needs_document_reference_create():
    assert smart.can_save("patient/*.rs patient/DocumentReference.c")
    assert smart.can_save("patient/DocumentReference.write")
    assert not smart.can_save("patient/*.rs")


@responses.activate
@pytest.mark.parametrize("change", [
    {"code_challenge_methods_supported": ["plain"]},
    {"code_challenge_methods_supported": None},
    {"token_endpoint": "http://ehr.example.org/token"},  # a token in clear over a network
    {"authorization_endpoint": None},
])
def test_discovery_refuses_unusable_configurations(change):
    responses.get(CONFIG_URL, json={**GOOD, **change})
    with pytest.raises(DiscoveryError):
        smart.discover(ISS, requests.Session())


@responses.activate
def test_discovery_does_not_follow_redirects():
    responses.get(CONFIG_URL, status=302, headers={"Location": "https://elsewhere.example.org/x"})
    with pytest.raises(DiscoveryError, match="302"):
        smart.discover(ISS, requests.Session())


def test_authorization_url_carries_pkce_s256_state_aud_and_launch():
    config = smart.SmartConfiguration(GOOD["authorization_endpoint"], GOOD["token_endpoint"])
    auth = smart.authorization_request(config, "app", "https://cds.example.org/app/callback", ISS, "L1")
    query = {k: v[0] for k, v in parse_qs(urlsplit(auth.url).query).items()}
    digest = base64.urlsafe_b64encode(hashlib.sha256(auth.code_verifier.encode()).digest()).rstrip(b"=").decode()
    assert query["code_challenge_method"] == "S256" and query["code_challenge"] == digest
    assert query["state"] == auth.state and query["aud"] == ISS and query["launch"] == "L1"
    assert "code_verifier" not in query
    again = smart.authorization_request(config, "app", "https://cds.example.org/app/callback", ISS, "L1")
    assert again.state != auth.state and again.code_verifier != auth.code_verifier


def test_session_cookie_is_signed_and_the_store_expires():
    cookies = SessionCookies("secret", max_age_seconds=60)
    signed = cookies.sign("abc")
    assert cookies.unsign(signed) == "abc"
    assert cookies.unsign(signed + "x") is None and cookies.unsign(None) is None
    assert SessionCookies("other-secret", 60).unsign(signed) is None
    store = InMemorySessionStore()
    store.put("k", {"v": 1}, ttl_seconds=-1)
    assert store.get("k") is None


def test_workers_sharing_the_replay_cache_directory_see_each_others_sessions(tmp_path):
    # gunicorn workers: the launch may reach one and the callback the other (the demo runs two).
    launch_worker = session_store_for(None, str(tmp_path))
    callback_worker = session_store_for(None, str(tmp_path))
    assert isinstance(callback_worker, DirectorySessionStore)
    launch_worker.put("sid", {"pending": {"state": "s"}}, ttl_seconds=60)
    assert callback_worker.get("sid") == {"pending": {"state": "s"}}
    callback_worker.delete("sid")
    assert launch_worker.get("sid") is None
    assert isinstance(session_store_for(None, None), InMemorySessionStore)


def test_grant_repr_hides_the_token():
    grant = smart.Grant(access_token="secret-token", expires_in=60, scope="s", patient="p", app_context=None)
    assert "secret-token" not in repr(grant)
