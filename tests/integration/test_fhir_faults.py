"""FHIR fault injection on the no-prefetch path, against a real misbehaving server.

Each fault -> HTTP 200 with a data-access card, within the deadline; and the
next request (a good one) is served normally.  Faults that a socket must
produce (dripping bodies, hangs, looping next links, connection refused,
DNS failure) are real here, not mocked.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from fhir_fixtures import load_bundle, load_request
from service import create_app
from service.hooks.prefetch import bundle_to_prefetch
from tests.conftest import ValidatingClient, make_settings
from tests.faulty_fhir import base_url, faulty_fhir_server

DEADLINE = 1.5
#: the deadline plus what evaluation and HTTP cost on a slow shared machine
ANSWER_WITHIN = DEADLINE + 1.5
ORDER_SIGN = "/cds-services/rituximab-order-sign"


@pytest.fixture(scope="module")
def faults():
    with faulty_fhir_server(hang_seconds=DEADLINE + 2) as server:
        yield server


@pytest.fixture(scope="module")
def client():
    app = create_app(make_settings(fhir_deadline_seconds=DEADLINE, fhir_timeout_seconds=1.0,
                                   fhir_max_response_bytes=200_000))
    app.test_client_class = ValidatingClient
    return app.test_client()


def _no_prefetch(fhir_server: str) -> dict[str, Any]:
    body = load_request("seed-b")
    body.pop("prefetch", None)
    body["fhirServer"] = fhir_server
    body["fhirAuthorization"] = {"access_token": "secret-token", "token_type": "Bearer", "expires_in": 300,
                                 "scope": "patient/*.read", "subject": "cds-service"}
    return body


def _good_request() -> dict[str, Any]:
    body = load_request("seed-b")
    body["prefetch"] = bundle_to_prefetch(load_bundle("seed-b"), "seed-b")
    return body


def _topics(resp: Any) -> list[str]:
    return [c["source"]["topic"]["code"] for c in resp.get_json()["cards"]]


def _assert_fault_handled(client: Any, fhir_server: str) -> dict[str, Any]:
    started = time.monotonic()
    resp = client.post(ORDER_SIGN, json=_no_prefetch(fhir_server))
    elapsed = time.monotonic() - started
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert elapsed < ANSWER_WITHIN, f"answered after {elapsed:.2f} s"
    access = [c for c in resp.get_json()["cards"] if c["source"]["topic"]["code"] == "data-access"]
    assert len(access) == 1
    # The service stays healthy: the next, good request gets its normal cards.
    good = client.post(ORDER_SIGN, json=_good_request())
    assert good.status_code == 200
    assert "data-access" not in _topics(good) and _topics(good)
    return access[0]


@pytest.mark.parametrize("status", [401, 403, 404, 500, 503])
@pytest.mark.parametrize("outcome", [True, False], ids=["with-OperationOutcome", "empty-body"])
def test_fault_http_error_status(client, faults, status, outcome):
    card = _assert_fault_handled(client, base_url(faults, f"status-{status}" + ("-outcome" if outcome else "")))
    assert "observations" in card["detail"]


def test_fault_connection_refused(client):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _assert_fault_handled(client, f"http://127.0.0.1:{port}/fhir")


def test_fault_dns_failure(client):
    _assert_fault_handled(client, "https://fhir.example.invalid/r4")  # .invalid never resolves (RFC 2606)


def test_fault_timeout_server_never_answers(client, faults):
    _assert_fault_handled(client, base_url(faults, "hang"))


def test_fault_slow_drip_body(client, faults):
    _assert_fault_handled(client, base_url(faults, "slow-drip"))


def test_fault_invalid_json(client, faults):
    _assert_fault_handled(client, base_url(faults, "invalid-json"))


def test_fault_html_instead_of_json(client, faults):
    _assert_fault_handled(client, base_url(faults, "html"))


def test_fault_wrong_resource_type(client, faults):
    _assert_fault_handled(client, base_url(faults, "wrong-type"))


def test_fault_next_links_loop(client, faults):
    card = _assert_fault_handled(client, base_url(faults, "loop"))
    assert "in part" in card["detail"]


def test_fault_response_over_size_cap(client, faults):
    _assert_fault_handled(client, base_url(faults, "oversize"))


def test_fault_no_fhir_server_and_no_prefetch_is_412(client):
    body = _no_prefetch("http://127.0.0.1:1/unused")
    del body["fhirServer"], body["fhirAuthorization"]
    resp = client.post(ORDER_SIGN, json=body)
    assert resp.status_code == 412
    assert "observations" in resp.get_json()["missingPrefetch"]
