"""Integration fixtures: a real FHIR server (sekmet-fhir) loaded with every fixture patient.

Set FHIR_BASE_URL to use a server that is already running and loaded;
otherwise one is installed (first run, cached under ~/.cache), started on a
free loopback port, loaded with dates shifted to today, and stopped at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from fhir_fixtures.server import load_fixtures, start


@pytest.fixture(scope="session")
def fhir_base_url() -> Iterator[str]:
    if os.environ.get("FHIR_BASE_URL"):
        yield os.environ["FHIR_BASE_URL"].rstrip("/")
        return
    server = start()
    try:
        load_fixtures(server)
        yield server.base_url
    finally:
        server.stop()
