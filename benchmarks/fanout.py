"""No-prefetch gathering of the heavy chart against the floor a plain client sets.

``python -m benchmarks.fanout [--runs N]``: starts sekmet-fhir, loads the heavy
chart in Epic shape (every medication resource a ``medicationReference``
without display, the Medications separate; local lab codes beside LOINC),
then times, per call, the service's gather stage (the order services'
templates, the laboratory-category search, then the batched Medication
search) against a plain ``requests`` client firing exactly the same HTTP
requests all at once (it knows the Medication ids in advance, which the
service cannot).  sekmet-fhir serialises requests, so that plain fan-out,
not the slowest single query, is the floor.  Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import requests

from fhir_fixtures.build import transaction
from fhir_fixtures.dates import shift_dates
from fhir_fixtures.heavy import PATIENT_ID, build_heavy_chart, heavy_requests, resource_counts
from fhir_fixtures.server import analyze, post_bundle, start
from fhir_fixtures.shapes import EpicShape
from service.fhir.client import next_link
from service.fhir.queries import query_plan
from service.hooks.invoke import handle_hook
from service.hooks.registry import SERVICES_BY_ID


def epic_heavy_bundle() -> dict[str, Any]:
    chart = build_heavy_chart()
    return shift_dates(transaction(EpicShape(PATIENT_ID).resources(chart.resources)), datetime.now(UTC).date())


def plain_urls(base: str, medication_ids: list[str]) -> list[str]:
    """The service's requests, written out: every template, the laboratory search, the Medications."""
    plan = query_plan("order")
    now = datetime.now(UTC)
    urls = [f"{base}/{t.replace('{{context.patientId}}', PATIENT_ID)}" for t in plan.templates.values()]
    urls.append(f"{base}/{plan.lab_search(PATIENT_ID, now)}")
    urls.append(f"{base}/Medication?_id={','.join(medication_ids)}")
    return urls


def fetch_all_pages(session: requests.Session, url: str) -> int:
    pages = 0
    next_url: str | None = url
    while next_url:
        data = session.get(next_url, headers={"Accept": "application/fhir+json"}, timeout=30).json()
        pages += 1
        next_url = next_link(data) if data.get("resourceType") == "Bundle" else None
    return pages


def plain_fanout_ms(session: requests.Session, pool: ThreadPoolExecutor, urls: list[str]) -> float:
    started = time.perf_counter()
    list(pool.map(lambda u: fetch_all_pages(session, u), urls))
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.fanout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args(argv)
    from benchmarks.run import inprocess_app

    bundle = epic_heavy_bundle()
    server = start(run_name="bench-fanout")
    try:
        post_bundle(server.base_url, bundle)
        analyze(server.db_path)
        app = inprocess_app(server.base_url)
        runtime = app.extensions["cds.runtime"]
        body = shift_dates(heavy_requests()["order-sign"], datetime.now(UTC).date())
        body["fhirServer"] = server.base_url
        service = SERVICES_BY_ID["rituximab-order-sign"]
        medication_ids = sorted(e["resource"]["id"] for e in bundle["entry"]
                                if e["resource"]["resourceType"] == "Medication")
        urls = plain_urls(server.base_url, medication_ids)
        gathers, plains, queries = [], [], 0
        with requests.Session() as session, ThreadPoolExecutor(max_workers=16) as pool:
            handle_hook(service, body, runtime)  # warm-up: imports, pools, server caches
            plain_fanout_ms(session, pool, urls)
            for _ in range(args.runs):  # interleaved, so machine noise hits both alike
                outcome = handle_hook(service, body, runtime)
                assert outcome.gather is not None and not outcome.gather.errors, outcome.gather
                gathers.append(outcome.timings["gather"])
                queries = outcome.gather.queries
                plains.append(plain_fanout_ms(session, pool, urls))
        counts = resource_counts(bundle)
        g, p = statistics.median(gathers), statistics.median(plains)
        references = sum(counts.get(t, 0) for t in ("MedicationRequest", "MedicationStatement",
                                                    "MedicationAdministration"))
        print(f"Heavy chart, Epic shape ({counts['Observation']} Observations, {counts['Medication']} Medications "
              f"behind {references} medication references), no prefetch, {args.runs} calls\n")
        print("| measure | median ms | p90 ms |\n|---|---|---|")
        print(f"| service gather ({queries} HTTP requests) | {g:.1f} | {statistics.quantiles(gathers, n=10)[-1]:.1f} |")
        p90 = statistics.quantiles(plains, n=10)[-1]
        print(f"| plain client, same {len(urls)} searches at once | {p:.1f} | {p90:.1f} |")
        print(f"\nratio gather / plain fan-out: {g / p:.2f}x (target <= 1.3x)")
        print(f"cards: {[c['source']['topic']['code'] + '/' + c['indicator'] for c in outcome.body['cards']]}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
