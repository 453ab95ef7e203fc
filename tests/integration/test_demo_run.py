"""`rituximab-cds demo` end to end (real FHIR server, gunicorn): truthful banner, readable output, exit code."""

from __future__ import annotations

import os
import socket

import pytest

from service.demo import run_demo

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _demo(tmp_path, capsys) -> tuple[int, str]:
    code = run_demo(port=_free_port(), keep_running=False, run_dir=tmp_path,
                    fhir_run_name=f"demo-test-{os.getpid()}", write_state=False)
    return code, capsys.readouterr().out


def test_development_demo_shows_what_was_sent_and_ends_with_the_playground(tmp_path, capsys, monkeypatch):
    for name in ("CDS_JWT_REQUIRED", "CDS_TRUSTED_ISSUERS_FILE", "CDS_DATABASE_URL", "CDS_CORS_ORIGINS",
                 "CDS_ALLOWED_FHIR_SERVERS", "CDS_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    code, out = _demo(tmp_path, capsys)
    assert code == 0, out
    assert "(development mode: JWT off" in out
    assert "patient : Maria Reyes (seed-a), female" in out
    assert "order   : MedicationRequest/seed-b-rtx-order: 50 ML rituximab-abbs 10 MG/ML Injection" in out
    assert "request : fhir_fixtures/requests/seed-b.json" in out
    assert "data    : prefetch filled from the FHIR server (as an EHR does); the service made no FHIR query" in out
    assert "data    : no prefetch; the service queried the FHIR server itself" in out
    assert "MDA5 Ab [Presence]" in out and "\\[" not in out  # markdown rendered, not escaped
    assert '{"ts"' not in out  # log lines went to the file
    assert '"logger": "cds.request"' in (tmp_path / "service.log").read_text()
    assert "  Playground : http://127.0.0.1:" in out
    assert f"Overrides  : CDS_DATABASE_URL=sqlite:///{tmp_path / 'demo.sqlite3'}" in out


def test_a_demo_whose_hooks_get_401_says_so_and_exits_1(tmp_path, capsys, monkeypatch):
    # JWT on (as after pasting the production block) with a replay cache that cannot be reached:
    # the service fails closed, so every call is a 401.
    monkeypatch.setenv("CDS_JWT_REQUIRED", "true")
    monkeypatch.setenv("CDS_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.delenv("CDS_TRUSTED_ISSUERS_FILE", raising=False)
    code, out = _demo(tmp_path, capsys)
    assert code == 1
    assert "(JWT required: trusted issuers no issuer configured, plus this demo's own key" in out
    assert "5 of 5 hooks failed (HTTP 401)" in out
    assert "Playground" not in out
