"""The course-review app's first view of the heavy chart, through a full EHR launch.

Issue #16 asks for the heavy fixture chart (about 2,000 Observations) to
render its first view of ``/app/course`` in under 1 s with data from the real
FHIR server.  Each run is what a clinician's click does: the development
SMART launcher (``fhir_fixtures/smart_launcher.py``) plays the EHR in front of
sekmet-fhir; a new browser session goes launch -> authorize -> token ->
``/app/course``, which gathers the chart from the FHIR server through the
launcher (the app keeps no FHIR cache, so every run is a cold first view),
evaluates it and renders the page.  Printed: p50 and max over the runs, for
the sign-in hops and for the page itself.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from benchmarks.procs import SERVICE_APP, gunicorn
from cards.links import app_context
from fhir_fixtures.dates import shift_dates
from fhir_fixtures.heavy import PATIENT_ID as HEAVY_ID
from fhir_fixtures.heavy import heavy_requests
from fhir_fixtures.smart_launcher import LaunchPreset, running_launcher

WORKERS = 2


@dataclass
class FirstView:
    sign_in_ms: float  # launcher click to the app's callback redirect (launch, authorize, token)
    page_ms: float  # GET /app/course: gather through the launcher, evaluate, render
    fhir_requests: int
    page_kib: float


def _heavy_app_context() -> str | None:
    order_sign = shift_dates(heavy_requests(), datetime.now(UTC).date())["order-sign"]
    return app_context(e["resource"] for e in order_sign["context"]["draftOrders"]["entry"])


def _one_view(launch_url: str, recorded: list[tuple[str, str, int]]) -> FirstView:
    """One click on the card's link, in a new browser session; the course page timed on its own."""
    before = len(recorded)
    with requests.Session() as browser:
        browser.trust_env = False
        url, hops, start = launch_url, 0, time.perf_counter()
        while not url.endswith("/app/course"):  # launch, app launch, authorize, callback
            hop = browser.get(url, allow_redirects=False, timeout=60)
            if hop.status_code != 302 or hops > 6:
                raise RuntimeError(f"sign-in stopped at {url.split('?')[0]}: HTTP {hop.status_code}")
            url, hops = requests.compat.urljoin(url, hop.headers["Location"]), hops + 1
        sign_in = time.perf_counter() - start
        start = time.perf_counter()
        page = browser.get(url, allow_redirects=False, timeout=60)
        page_s = time.perf_counter() - start
    if page.status_code != 200 or 'id="timeline"' not in page.text:
        raise RuntimeError(f"course review answered HTTP {page.status_code}: {page.text[:300]}")
    return FirstView(sign_in * 1000, page_s * 1000, len(recorded) - before, len(page.content) / 1024)


def _row(label: str, values: list[float]) -> str:
    return f"| {label} | {statistics.median(values):.0f} | {max(values):.0f} |"


def course_review_table(fhir_url: str, service_env: dict[str, str], runs: int) -> list[FirstView]:
    """Print p50 / max of the heavy chart's first view over ``runs`` launches (after one warm-up)."""
    print(f"\n## Course review: heavy chart, first view of /app/course through an EHR launch "
          f"(gunicorn {WORKERS} workers, {runs} runs)\n")
    with running_launcher(fhir_url) as launcher:
        env = {**service_env,
               "CDS_ALLOWED_FHIR_SERVERS": launcher.fhir_base,
               "CDS_APP_SECRET_KEY": "benchmark-only-key",
               # as `rituximab-cds serve` does without Redis: the workers share the app sessions
               "CDS_REPLAY_CACHE_DIR": tempfile.mkdtemp(prefix="bench-replay-")}
        with gunicorn(SERVICE_APP, WORKERS, env) as svc:
            launcher.redirect_uri = svc.url + "/app/callback"
            launcher.presets["heavy"] = LaunchPreset(patient=HEAVY_ID, app_launch_url=svc.url + "/app/launch",
                                                     app_context=_heavy_app_context())
            views: list[FirstView] = []
            for i in range(runs + 1):
                view = _one_view(f"{launcher.base_url}/launch/heavy", launcher.fhir_requests)
                if i:  # the first one warms the workers (imports, templates, knowledge files)
                    views.append(view)
    print("| step | p50 ms | max ms |\n|---|---|---|")
    print(_row("sign-in: launch, authorize, token (4 redirects)", [v.sign_in_ms for v in views]))
    print(_row("**first view of /app/course** (gather, evaluate, render)", [v.page_ms for v in views]))
    print(_row("click to page (both)", [v.sign_in_ms + v.page_ms for v in views]))
    print(f"\nFHIR requests per view (through the launcher): {views[-1].fhir_requests}; "
          f"page {views[-1].page_kib:.0f} KiB; target: first view under 1,000 ms.", flush=True)
    return views
