"""`rituximab-cds demo` end to end (real FHIR server, gunicorn): truthful banner, readable output, exit code."""

from __future__ import annotations

import os
import re
import socket
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import sync_playwright

from service.demo import run_demo
from tests.integration.course_review.test_browser import CHROMIUM, FLAGS

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


def _printed_course_review_urls(out: str) -> dict[str, str]:
    return dict(re.findall(r"^    (\S+)\s+: (http://127\.0\.0\.1:\d+/launch/\S+)$", out, flags=re.MULTILINE))


def test_the_printed_course_review_urls_open_the_app_for_the_demo_patients(tmp_path, capsys, monkeypatch):
    """The URLs the demo prints go through the EHR launch (development launcher, two gunicorn workers,
    the real FHIR server) and land on the course review of that patient's order."""
    for name in ("CDS_JWT_REQUIRED", "CDS_TRUSTED_ISSUERS_FILE", "CDS_ALLOWED_FHIR_SERVERS", "CDS_REDIS_URL",
                 "CDS_APP_SECRET_KEY", "CDS_REPLAY_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    pages: dict[str, requests.Response] = {}
    printed: dict[str, str] = {}
    browser_page: dict[str, str] = {}

    def open_printed_urls() -> None:
        printed.update(_printed_course_review_urls(capsys.readouterr().out))
        for name in ("seed-a", "seed-b"):
            with requests.Session() as browser_like:  # keeps cookies, follows redirects
                browser_like.trust_env = False
                pages[name] = browser_like.get(printed[name], timeout=60)
        with sync_playwright() as p:  # and once in a real browser (cookies across the two ports)
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            try:
                page = browser.new_page()
                page.goto(printed["seed-a"])
                page.wait_for_url(re.compile(r"/app/course$"))
                browser_page["name"] = page.inner_text("#patient-name")
                browser_page["order"] = page.inner_text("#order")
            finally:
                browser.close()

    code = run_demo(port=_free_port(), keep_running=False, run_dir=tmp_path,
                    fhir_run_name=f"demo-test-{os.getpid()}", write_state=False, while_up=open_printed_urls)
    assert code == 0
    assert {"seed-a", "seed-b"} <= printed.keys(), printed
    for name, patient, order in (("seed-a", "Maria Reyes", "MedicationRequest/seed-a-rtx-order"),
                                 ("seed-b", "Wei Chen", "MedicationRequest/seed-b-rtx-order")):
        resp = pages[name]
        assert resp.status_code == 200, resp.text[:500]
        assert urlsplit(resp.url).path == "/app/course"
        hops = [urlsplit(r.url).path for r in resp.history]
        assert hops == [f"/launch/{name}", "/app/launch", "/authorize", "/app/callback"]
        assert patient in resp.text and order in resp.text  # the card's appContext reached the page
        assert 'id="timeline"' in resp.text and 'id="checklist"' in resp.text
    assert browser_page["name"] == "Maria Reyes"
    assert "MedicationRequest/seed-a-rtx-order" in browser_page["order"]


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

