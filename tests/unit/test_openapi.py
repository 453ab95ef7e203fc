"""The OpenAPI 3.1 document: valid, complete, consistent with the CDS Hooks schema; then fuzzed.

schemathesis generates requests from the document for every operation and
checks each response: no 5xx, a documented status code and content type,
and a body that matches the documented schema.  Bounded by default
(CDS_FUZZ_EXAMPLES examples per operation; set it higher for a long run).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from service import create_app
from service.http.openapi import openapi_document
from tests.conftest import make_settings
from tests.jwt_helpers import ISS, SigningKey, jwks

FUZZ_EXAMPLES = int(os.environ.get("CDS_FUZZ_EXAMPLES", "25"))
#: the bounded run in the normal suite is reproducible; a long run explores new inputs each time
DERANDOMIZE = "CDS_FUZZ_EXAMPLES" not in os.environ
SCHEMA_FILE = Path(__file__).parents[2] / "service/hooks/schema/cds-hooks-2.0.schema.json"


def _app():
    # No FHIR server may be called: generated fhirServer URLs must never leave the machine.
    return create_app(make_settings(allowed_fhir_servers=()))


def test_document_is_valid_openapi_3_1():
    validate(openapi_document())


def test_every_route_is_documented():
    app = _app()
    documented = set(openapi_document()["paths"])
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("playground.") or rule.rule.startswith("/app/"):
            continue  # the playground and the course-review app are pages for people, not the HTTP API
        path = rule.rule.replace("<service_id>", "{service_id}")
        if path == "/cds-services/{service_id}":
            continue  # documented per service id, below
        assert path in documented, f"{rule.rule} is not in the OpenAPI document"
    for service_id in ("rituximab-order-sign", "rituximab-order-select", "rituximab-monitoring"):
        assert f"/cds-services/{service_id}" in documented


def test_payload_schemas_are_the_cds_hooks_schema():
    """Not a second copy: every $def of the CDS Hooks schema is a component, refs rewritten."""
    defs = json.loads(SCHEMA_FILE.read_text())["$defs"]
    components = openapi_document()["components"]["schemas"]
    for name, schema in defs.items():
        assert json.dumps(components[name]) == json.dumps(schema).replace("#/$defs/", "#/components/schemas/")


def test_document_is_served(client):
    resp = client.get("/openapi.json")
    assert resp.status_code == 200
    assert resp.get_json() == json.loads(json.dumps(openapi_document()))


_KEY = SigningKey("ES384")


def _secured_app():
    """Production settings for the fuzz: JWT required (a trusted test issuer), no FHIR server allowed."""
    issuers = Path(tempfile.mkdtemp()) / "issuers.json"
    issuers.write_text(json.dumps([{"iss": ISS, "jwks": jwks(_KEY)}]))
    return create_app(make_settings(jwt_required=True, trusted_issuers_file=issuers, allowed_fhir_servers=()))


fuzz_schema = schemathesis.openapi.from_wsgi("/openapi.json", _secured_app())


@fuzz_schema.auth(refresh_interval=None)
class ClientJwt:
    """A fresh, valid client JWT (new jti) for the URL called; schemathesis also tries without it."""

    def get(self, case, ctx):  # noqa: ANN001, ANN201 - schemathesis' auth provider protocol
        return _KEY.token(aud="http://localhost" + case.formatted_path)

    def set(self, case, data, ctx):  # noqa: ANN001, ANN201
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@fuzz_schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=DERANDOMIZE,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@pytest.mark.filterwarnings("ignore")
def test_fuzz_every_operation(case):
    # Every default check except two that contradict the CDS Hooks contract on purpose:
    # - "schema-valid data is accepted": a valid request whose prefetch lacks data and that
    #   names no FHIR server the service may use gets 412 (CDS Hooks 2.0 §Prefetch).
    # - "schema-violating data is rejected": the service reads EHR requests leniently (e.g. a
    #   fhirAuthorization without token_type, as some EHRs and the sandbox send) and rejects
    #   only what it cannot use, with a 400 that says what is wrong.
    case.call_and_validate(excluded_checks=[positive_data_acceptance, negative_data_rejection])
