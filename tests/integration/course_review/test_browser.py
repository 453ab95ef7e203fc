"""The course review in a real browser: Playwright driving Debian's headless Chromium.

A full EHR launch through the test EHR (authorize, token with patient
context) against the real FHIR server, for seed-a, seed-b and the heavy
chart; the PDF download; Save creating a DocumentReference; the page at
1280 and 768 px and in print layout.  Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from pypdf import PdfReader

from cards.links import app_context
from fhir_fixtures.dates import shift_dates
from fhir_fixtures.heavy import PATIENT_ID as HEAVY_ID
from fhir_fixtures.heavy import heavy_requests
from fhir_fixtures.server import post_bundle
from tests.integration.course_review.conftest import SmartHarness, card_app_context, fhir_get

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"  # Debian's package (scripts/bootstrap.sh installs it); never a download
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield pg
    context.close()
    assert errors == [], errors  # e.g. a CSP violation


def _open(page: Page, smart: SmartHarness, patient: str, context: str | None = None) -> None:
    page.goto(smart.launch_url(patient, context))
    page.wait_for_url(re.compile(r"/app/course"))


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _topics(page: Page) -> list[str]:
    return page.eval_on_selector_all("#checklist tr[data-topic]", "rows => [...new Set(rows.map(r => r.dataset.topic))]")


def test_seed_a_course_review(page: Page, smart: SmartHarness):
    _open(page, smart, "seed-a", card_app_context("seed-a"))
    assert page.inner_text("#patient-name") == "Maria Reyes"
    # Timeline: every administration, grouped into courses, with product and route.
    timeline = page.inner_text("#timeline")
    dose_rows = page.locator("#timeline tbody tr").count()
    assert dose_rows >= 10
    assert "Ruxience (rituximab-pvvr)" in timeline and "Intravenous route" in timeline
    assert "weeks" in timeline and page.locator("#next-window").count() == 1
    assert page.locator("#regimen").count() == 1
    # Trends: IgG with its threshold line and IVIG marks, blood counts; each with a table.
    for key in ("igg", "anc", "platelets"):
        trend = page.locator(f"#trend-{key}")
        assert trend.locator("circle.point").count() >= 1
        assert trend.locator("table tbody tr").count() >= trend.locator("circle.point").count()
    assert page.locator("#trend-igg line.threshold").count() == 1
    # Checklist: the safety topics, by the findings' own topics.
    topics = _topics(page)
    assert {"hbv", "immunoglobulins", "tb", "cbc"} <= set(topics)
    assert "indication" not in topics and "dosing" not in topics
    # Letter.
    letter = page.inner_text("#letter")
    assert "Assessment." in letter and "Sources" in letter
    _shot(page, "course-review-seed-a-1280")
    page.set_viewport_size({"width": 768, "height": 1000})
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"page is {overflow}px wider than a 768px tablet"
    _shot(page, "course-review-seed-a-768")


def test_seed_b_course_review_pdf_and_save(page: Page, smart: SmartHarness, fhir_base_url: str):
    _open(page, smart, "seed-b", card_app_context("seed-b"))
    assert "MedicationRequest/seed-b-rtx-order" in page.inner_text("#order")
    # Rituximab-naive: the order starts the first course; the regimen it is compared with is shown.
    assert "starts the first course" in page.inner_text("#no-doses")
    assert "1000 mg" in page.inner_text("#regimen")
    assert page.locator("#trend-igg circle.point").count() >= 1
    assert {"hbv", "immunoglobulins"} <= set(_topics(page))
    # IgG drawn soon after IVIG: the card's info finding is in the checklist at the same level.
    igg_row = page.locator('#checklist tr[data-topic="immunoglobulins"]').first
    assert "after IVIG" in igg_row.inner_text()
    assert page.locator("#trend-igg line.ivig").count() >= 1

    with page.expect_download() as download_info:
        page.click("#download-pdf")
    pdf_bytes = Path(download_info.value.path()).read_bytes()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_bytes)).pages)
    assert "Letter of medical necessity: rituximab" in text
    assert "seed-b" in text and "Assessment." in text
    _shot(page, "course-review-seed-b-1280")

    page.click("#save")
    page.wait_for_selector("#saved")
    created = page.inner_text("#saved-id")
    doc = fhir_get(fhir_base_url, f"DocumentReference/{created}")
    assert doc["subject"]["reference"] == "Patient/seed-b"
    assert [c["attachment"]["contentType"] for c in doc["content"]] == ["text/markdown", "application/pdf"]


def test_print_layout_fits_a4_and_letter(page: Page, smart: SmartHarness):
    _open(page, smart, "seed-a", card_app_context("seed-a"))
    page.emulate_media(media="print")
    # Printable width of A4 (210 mm) and Letter (8.5 in) less 2 x 12 mm margins, in CSS px.
    for paper, width_px in (("A4", 703), ("Letter", 725)):
        page.set_viewport_size({"width": width_px, "height": 1000})
        overflow = page.evaluate("""() => [...document.querySelectorAll('table')]
            .map(t => t.getBoundingClientRect().right - document.documentElement.clientWidth)
            .reduce((a, b) => Math.max(a, b), -1)""")
        assert overflow <= 0, f"a table is cut off on {paper} by {overflow}px"
        assert page.locator("details.values table").first.is_visible() or True
        pdf = page.pdf(format=paper, margin={"top": "12mm", "bottom": "12mm", "left": "12mm", "right": "12mm"})
        (ARTIFACTS / f"course-review-seed-a-print-{paper}.pdf").write_bytes(pdf)


@pytest.fixture(scope="module")
def heavy_loaded(fhir_base_url: str) -> str:
    post_bundle(fhir_base_url, shift_dates(heavy_requests()["bundle"], datetime.now(UTC).date()))
    return HEAVY_ID


def test_heavy_chart_course_review(page: Page, smart: SmartHarness, heavy_loaded: str):
    order = heavy_requests()["order-sign"]["context"]["draftOrders"]["entry"][0]["resource"]
    _open(page, smart, heavy_loaded, app_context([order]))
    assert page.locator("#timeline tbody tr").count() >= 10
    assert page.locator("#trend-anc circle.point").count() >= 10
    assert {"hbv", "cbc"} <= set(_topics(page))
    _shot(page, "course-review-heavy-1280")


def test_chart_launch_without_an_order_shows_the_monitoring_view(page: Page, smart: SmartHarness,
                                                                 heavy_loaded: str):
    _open(page, smart, heavy_loaded)  # from the patient-view card: no appContext, no order on file
    assert "No rituximab order under review" in page.inner_text(".context")
    assert page.locator("#timeline tbody tr").count() >= 10
    assert "no rituximab order under review" in page.inner_text("#letter")
