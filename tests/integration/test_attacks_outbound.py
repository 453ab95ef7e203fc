"""Red-team regressions: outbound requests go only under an allowlisted fhirServer.

Real sockets on loopback: an "EHR" FHIR server on 127.0.0.1 (the allowlisted
one) and an attacker's listener on 127.0.0.2.  Each attack must end with
zero requests at the attacker's listener and the token never sent anywhere
it does not belong.  Defects 1 (backslash), 6 (``?``/``#`` in the base URL),
10 (``next`` links leaving the base path) and 2 (patientId in URLs).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from fhir_fixtures import load_bundle, load_request
from service import create_app
from service.cli import bundle_to_prefetch
from tests.conftest import ValidatingClient, make_settings
from tests.loopback_server import running

TOKEN = "ehr-access-token-not-for-attackers"
ORDER_SIGN = "/cds-services/rituximab-order-sign"


@dataclass
class Listener:
    """A loopback HTTP server that records every request and answers empty Bundles (or ``pages``)."""

    host: str
    port: int = 0
    seen: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization)
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def tokens_seen(self) -> list[str | None]:
        return [auth for _path, auth in self.seen]


def _listening(host: str) -> Iterator[Listener]:
    listener = Listener(host)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            listener.seen.append((self.path, self.headers.get("Authorization")))
            page = listener.pages.get(self.path.split("?")[0], {"resourceType": "Bundle", "type": "searchset"})
            body = json.dumps(page).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    with running(ThreadingHTTPServer((host, 0), Handler)) as server:
        listener.port = server.server_port
        yield listener


@pytest.fixture
def ehr() -> Iterator[Listener]:
    yield from _listening("127.0.0.1")


@pytest.fixture
def attacker() -> Iterator[Listener]:
    yield from _listening("127.0.0.2")


def _client(*allowed: str) -> Any:
    app = create_app(make_settings(allowed_fhir_servers=allowed, fhir_deadline_seconds=2.0))
    app.test_client_class = ValidatingClient
    return app.test_client()


def _hook(fhir_server: str, patient_id: str = "seed-b", prefetch: dict[str, Any] | None = None) -> dict[str, Any]:
    body = load_request("seed-b")
    body["context"]["patientId"] = patient_id
    body["prefetch"] = prefetch or {}
    body["fhirServer"] = fhir_server
    body["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                                 "scope": "patient/*.read", "subject": "rituximab-cds"}
    return body


def test_backslash_fhir_server_reaches_no_one(ehr, attacker):
    # urllib.parse reads host 127.0.0.1 (allowlisted) after the "@"; urllib3, and so requests, ends the
    # host at the backslash and connects to 127.0.0.2 (the attacker).
    client = _client(f"{ehr.base}/fhir")
    fhir_server = f"http://127.0.0.2:{attacker.port}\\@127.0.0.1:{ehr.port}/fhir"
    resp = client.post(ORDER_SIGN, json=_hook(fhir_server))
    assert resp.status_code == 412  # no prefetch and no server it may call
    assert attacker.seen == [] and ehr.seen == []


@pytest.mark.parametrize("suffix", ["?x", "#x", "?", "/?_format=json"])
def test_query_or_fragment_in_base_url_is_not_called(attacker, suffix):
    client = _client(f"{attacker.base}/fhir")  # the allowlist names the listener's /fhir
    resp = client.post(ORDER_SIGN, json=_hook(f"{attacker.base}/fhir{suffix}"))
    assert resp.status_code == 412
    assert attacker.seen == []  # nothing queried outside /fhir (nor inside)


@pytest.mark.parametrize("fhir_server", [
    "http://user:pw@127.0.0.1:{ehr}/fhir",
    "http://127.0.0.2:{attacker}\\\\127.0.0.1:{ehr}/fhir",
    "http://127.0.0.2:{attacker}/\\@127.0.0.1:{ehr}/fhir",
    "http://127.0.0.1:{ehr}/fhir/../../127.0.0.2:{attacker}",
    "http://127.0.0.1:{ehr}/fhir%2f..%2f..",
])
def test_userinfo_and_escapes_in_fhir_server_are_refused(ehr, attacker, fhir_server):
    client = _client(f"{ehr.base}/fhir")
    resp = client.post(ORDER_SIGN, json=_hook(fhir_server.format(ehr=ehr.port, attacker=attacker.port)))
    assert resp.status_code == 412
    assert attacker.seen == [] and ehr.seen == []


def _prefetch_with_next(next_url: str) -> dict[str, Any]:
    prefetch = bundle_to_prefetch(load_bundle("seed-b"), "seed-b")
    prefetch["conditions"]["link"] = [{"relation": "next", "url": next_url}]
    return prefetch


@pytest.mark.parametrize("next_url", [
    "http://127.0.0.2:{attacker}\\@127.0.0.1:{ehr}/fhir/Condition?page=2",
    "http://127.0.0.2:{attacker}/fhir/Condition?page=2",
    "http://127.0.0.1:{ehr}@127.0.0.2:{attacker}/fhir/Condition?page=2",
])
def test_next_link_in_prefetch_to_another_host_is_not_followed(ehr, attacker, next_url):
    client = _client(f"{ehr.base}/fhir")
    prefetch = _prefetch_with_next(next_url.format(ehr=ehr.port, attacker=attacker.port))
    resp = client.post(ORDER_SIGN, json=_hook(f"{ehr.base}/fhir", prefetch=prefetch))
    assert resp.status_code == 200
    assert attacker.seen == []
    # The conditions were read only in part: the cards say some checks were not done.
    assert "data-access" in [c["source"]["topic"]["code"] for c in resp.get_json()["cards"]]


@pytest.mark.parametrize("path", ["/admin/export", "/fhir/../admin/export", "/fhirx/Condition",
                                  "/fhir/%2e%2e/admin/export"])
def test_next_link_from_the_server_stays_under_the_base_path(ehr, path):
    # The allowed server itself answers a search with a next link that leaves /fhir.
    ehr.pages["/fhir/Condition"] = {"resourceType": "Bundle", "type": "searchset",
                                    "link": [{"relation": "next", "url": f"{ehr.base}{path}"}]}
    client = _client(f"{ehr.base}/fhir")
    resp = client.post(ORDER_SIGN, json=_hook(f"{ehr.base}/fhir"))
    assert resp.status_code == 200
    paths = [p for p, _auth in ehr.seen]
    assert paths and all(p.startswith("/fhir/") for p in paths), paths
    assert set(ehr.tokens_seen) == {f"Bearer {TOKEN}"}  # the token went only under /fhir


@pytest.mark.parametrize("patient_id", ["no-indication,seed-b", "../../admin/secret", "seed-b&patient=seed-a",
                                        "seed-b?x=1", "seed-b#x", "..", "a" * 65, "seed b", "seed-b%2C1"])
def test_patient_id_that_is_not_a_fhir_id_is_refused_before_any_query(ehr, patient_id):
    client = _client(f"{ehr.base}/fhir")
    resp = client.post(ORDER_SIGN, json=_hook(f"{ehr.base}/fhir", patient_id=patient_id))
    assert resp.status_code == 400
    assert "context.patientId" in resp.get_json()["message"]
    assert ehr.seen == []


def test_a_valid_patient_id_is_queried_under_the_base(ehr):
    client = _client(f"{ehr.base}/fhir")
    resp = client.post(ORDER_SIGN, json=_hook(f"{ehr.base}/fhir", patient_id="seed-b.2"))
    assert resp.status_code == 200
    paths = sorted(p for p, _auth in ehr.seen)
    assert "/fhir/Patient/seed-b.2" in paths
    assert "/fhir/Condition?patient=seed-b.2&_count=200" in paths
    assert set(ehr.tokens_seen) == {f"Bearer {TOKEN}"}
