"""The playground in headless Chromium (Playwright driving Debian's /usr/bin/chromium).

The app runs on a loopback port against the real FHIR server and PostgreSQL;
the browser picks seed-a and seed-b, fires order-sign, sees the rituximab cards,
and overrides one, which must land in the feedback table.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from service import create_app
from service.store.models import Feedback
from service.store.store import make_engine
from tests.conftest import make_settings
from tests.integration.stores import pg_schema, pg_url
from tests.loopback_server import running
from tests.scenarios import EXPECTED

pytestmark = pytest.mark.integration
CHROMIUM = os.environ.get("CDS_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def playground(fhir_base_url: str) -> Iterator[tuple[str, str, Any]]:
    """(base URL of the running service, its database URL, its store)."""
    with pg_schema() as schema:
        db_url = pg_url(schema)
        app = create_app(make_settings(allowed_fhir_servers=(fhir_base_url,), database_url=db_url))
        with running(make_server("127.0.0.1", 0, app, threaded=True)) as server:
            yield f"http://127.0.0.1:{server.server_port}", db_url, app.extensions["cds.store"]
        app.extensions["cds.store"].close()


def fire(page: Page, name: str, data_path: str) -> None:
    page.select_option("#name", name)
    page.select_option("#data_path", data_path)
    page.click("#fire")
    expect(page.locator(".sent").first).to_contain_text("HTTP 200")


@pytest.mark.parametrize(("name", "data_path"), [("seed-a", "prefetch"), ("seed-b", "query")])
def test_seed_orders_render_their_order_sign_cards(browser, playground, name, data_path):
    expected = EXPECTED[name]
    base, _db, _store = playground
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(base + "/playground")
    fire(page, name, data_path)
    cards = page.locator("article.card")
    shown = {(c.get_attribute("data-topic"), c.get_attribute("data-indicator")) for c in cards.all()}
    assert shown == expected
    first = cards.first
    expect(first.locator("h2.summary")).to_contain_text("Rituximab criteria met")
    # Markdown is rendered (a table, list items), not shown as escapes
    expect(first.locator(".detail table")).to_have_count(1)
    assert "\\[" not in first.locator(".detail").inner_text()
    expect(first.locator(".source a")).to_have_attribute("href", re.compile(r"^https://"))
    expect(page.locator("#raw-request")).to_contain_text('"hook": "order-sign"')
    expect(page.locator("#raw-response")).to_contain_text('"cards"')
    if data_path == "query":
        expect(page.locator(".sent")).to_contain_text("no prefetch: the service queried")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"playground-{name}.png"), full_page=False)
    page.close()


def test_override_from_the_page_is_stored_as_feedback(browser, playground):
    base, db_url, store = playground
    page = browser.new_page()
    page.goto(base + "/playground")
    fire(page, "hbsag-positive-untreated", "prefetch")
    critical = page.locator("article.card[data-indicator=critical]")
    expect(critical).to_have_count(1)
    card_uuid = critical.locator("input[name=card]").get_attribute("value")
    store.flush()  # the audit row is written in the background; flushed, the card is known to the store
    critical.locator("select[name=reason]").select_option(index=1)
    critical.locator("button.override").click()
    expect(page.locator(".notice")).to_contain_text("Feedback (overridden) stored: HTTP 200")
    expect(page.locator("article.card[data-indicator=critical]")).to_have_count(1)  # the cards stay on screen
    page.close()
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    with Session(make_engine(db_url)) as session:
        rows = session.scalars(select(Feedback).where(Feedback.card_uuid == card_uuid)).all()
    assert [(r.outcome, r.known_card, bool(r.override_code)) for r in rows] == [("overridden", True, True)]
