"""The demo's decisions, without starting anything: its mode, what it says, where its data goes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from service.cli import main
from service.demo import (
    DemoSigner,
    ScenarioResult,
    add_demo_issuer,
    closing_notes,
    describe_data_path,
    describe_mode,
    explain_failures,
    service_environment,
)
from service.security.issuers import load_trusted_issuers
from service.settings import Settings

FHIR = "http://127.0.0.1:5555/fhir"


@pytest.mark.parametrize(("environ", "jwt_required"), [
    ({}, False),
    ({"CDS_TRUSTED_ISSUERS_FILE": "issuers.json"}, True),  # a trust file means "test JWT"
    ({"CDS_TRUSTED_ISSUERS_FILE": "issuers.json", "CDS_JWT_REQUIRED": "false"}, False),
    ({"CDS_JWT_REQUIRED": "true"}, True),  # left over from the production block: honoured, and said
])
def test_the_environment_decides_the_mode(tmp_path, environ, jwt_required):
    env = service_environment(environ, FHIR, tmp_path)
    assert Settings.from_env({**env, "CDS_TRUSTED_ISSUERS_FILE": ""}).jwt_required is jwt_required
    assert env["CDS_ALLOWED_FHIR_SERVERS"] == FHIR
    assert env["CDS_DATABASE_URL"] == f"sqlite:///{tmp_path / 'demo.sqlite3'}"


def test_the_banner_says_the_mode_it_is_in(tmp_path):
    dev = Settings.from_env(service_environment({}, FHIR, tmp_path))
    assert describe_mode(dev, []).startswith("development mode: JWT off")
    jwt_on = Settings.from_env(service_environment({"CDS_JWT_REQUIRED": "true"}, FHIR, tmp_path))
    text = describe_mode(jwt_on, ["https://sandbox.cds-hooks.org"])
    assert text.startswith("JWT required: trusted issuers https://sandbox.cds-hooks.org") and "JWT off" not in text


def test_development_cors_allows_any_localhost_port_but_not_lookalikes(tmp_path):
    from service import create_app

    settings = Settings.from_env(service_environment({}, FHIR, tmp_path)).with_changes(database_url="sqlite://")
    client = create_app(settings).test_client()

    def allowed(origin: str) -> bool:
        resp = client.options("/cds-services", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
        return resp.headers.get("Access-Control-Allow-Origin") == origin

    assert allowed("http://localhost:3000") and allowed("http://127.0.0.1:8081") and allowed(
        "https://sandbox.cds-hooks.org")
    assert not allowed("http://localhost.evil.example") and not allowed("https://evil.example")


def test_the_demo_key_is_trusted_beside_the_configured_issuers(tmp_path):
    env = {"CDS_TRUSTED_ISSUERS_FILE": "service/security/data/dev-trusted-issuers.json"}
    add_demo_issuer(env, DemoSigner(), tmp_path)
    assert set(load_trusted_issuers(Path(env["CDS_TRUSTED_ISSUERS_FILE"]))) == {
        "https://sandbox.cds-hooks.org", "urn:rituximab-cds:demo"}


def test_data_path_is_read_from_server_timing():
    assert describe_data_path(True, 'parse;dur=1, fhir;dur=0.0;desc="0 queries"').endswith("made no FHIR query")
    assert describe_data_path(False, 'fhir;dur=9.1;desc="8 queries"') == (
        "no prefetch; the service queried the FHIR server itself (8 requests)")


def test_a_401_fails_the_demo_with_a_reason():
    text = explain_failures([ScenarioResult("seed-a", 401), ScenarioResult("seed-b", 401)],
                            Settings(jwt_required=True))
    assert text.startswith("2 of 2 hooks failed (HTTP 401). 401: the service rejected the JWT")


def test_the_printed_report_command_reads_the_demos_database(tmp_path, monkeypatch, capsys):
    """The demo's feedback, reported by the exact command the demo prints."""
    from service import create_app
    from tests.conftest import make_settings

    settings = Settings.from_env(service_environment({}, FHIR, tmp_path))
    app = create_app(make_settings(database_url=settings.database_url))
    client = app.test_client()
    assert main(["request", "igg-low"]) == 0
    cards = client.post("/cds-services/rituximab-order-sign", json=json.loads(capsys.readouterr().out)).get_json()
    app.extensions["cds.store"].flush()
    warning = next(c for c in cards["cards"] if c["indicator"] == "warning")
    assert client.post("/cds-services/rituximab-order-sign/feedback", json={"feedback": [
        {"card": warning["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-01T10:00:00Z",
         "overrideReason": {"reason": warning["overrideReasons"][0]}}]}).status_code == 200
    app.extensions["cds.store"].close()

    command = re.search(r"Overrides  : CDS_DATABASE_URL=(\S+) \.venv/bin/rituximab-cds (report overrides)",
                        closing_notes("http://127.0.0.1:8080", settings, tmp_path / "service.log"))
    assert command is not None
    monkeypatch.setenv("CDS_DATABASE_URL", command.group(1))
    assert main([*command.group(2).split(), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    rows = rows["rows"] if isinstance(rows, dict) else rows
    assert any(r.get("overridden") == 1 for r in rows)


def test_closing_notes_point_to_the_playground_only_in_development(tmp_path):
    dev = closing_notes("http://127.0.0.1:8080", Settings(jwt_required=False), tmp_path / "s.log")
    assert "Playground : http://127.0.0.1:8080/playground" in dev
    assert "Playground : off" in closing_notes("http://127.0.0.1:8080", Settings(), tmp_path / "s.log")


def test_course_review_urls_are_printed_only_in_development(tmp_path):
    offered = [("seed-a", "http://127.0.0.1:4000/launch/seed-a")]
    dev = closing_notes("http://127.0.0.1:8080", Settings(jwt_required=False), tmp_path / "s.log", offered)
    assert "    seed-a     : http://127.0.0.1:4000/launch/seed-a" in dev
    assert "test double" in dev
    jwt_on = closing_notes("http://127.0.0.1:8080", Settings(), tmp_path / "s.log", offered)
    assert "/launch/" not in jwt_on and "development mode only" in jwt_on


def test_the_demo_allows_the_launchers_fhir_front_and_signs_app_sessions_with_one_key(tmp_path):
    env = service_environment({}, FHIR, tmp_path, "http://127.0.0.1:6000/fhir")
    assert Settings.from_env(env).allowed_fhir_servers == (FHIR, "http://127.0.0.1:6000/fhir")
    assert len(env["CDS_APP_SECRET_KEY"]) >= 32  # one key for both workers: a launch survives a worker switch
    assert service_environment({"CDS_APP_SECRET_KEY": "mine"}, FHIR, tmp_path)["CDS_APP_SECRET_KEY"] == "mine"
