"""Shared fixtures: app -> client -> helpers (flask tutorial style).

Every response the Flask test client receives from a CDS endpoint is
validated against the project's CDS Hooks 2.0 schema (tests/cds_schema.py),
so no test can pass on a non-conformant response.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.settings import Settings
from tests.cds_schema import validate_cds_exchange


class ValidatingClient(FlaskClient):
    """A test client that schema-checks every CDS Hooks response."""

    def open(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        response = super().open(*args, **kwargs)
        request_path = response.request.path
        body = response.get_json(silent=True)
        validate_cds_exchange(request_path, response.request.method, response.status_code, body)
        return response


def make_settings(**changes: Any) -> Settings:
    """Development-style settings for tests: no JWT, loopback FHIR allowed."""
    base = Settings(
        jwt_required=False,
        allowed_fhir_servers=("*",),
        database_url="sqlite://",
    )
    return base.with_changes(**changes)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    application = create_app(settings)
    application.test_client_class = ValidatingClient
    yield application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
