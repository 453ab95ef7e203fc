"""/metrics under ``rituximab-cds serve`` with two workers: one scrape counts every worker's calls.

The invocation metrics are added up in memory and written to the shared
metric files about once a second (service/metrics.py), so this checks the
aggregation across processes end to end: calls spread over both workers,
and a scrape answered by either one reports them all.
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector

from service.hooks.prefetch import bundle_to_prefetch
from tests.integration.test_gunicorn_front import serve
from tests.scenarios import load_bundle, load_request

pytestmark = pytest.mark.integration
CALLS = 48
_COUNT = re.compile(r'^cds_hook_duration_seconds_count\{hook="order-sign",service="rituximab-order-sign",'
                    r'status="200"\} ([0-9.]+)$', re.MULTILINE)


def _calls_per_worker(metrics_dir: Path) -> dict[str, float]:
    """cds_hook_duration_seconds_count as each worker's own file holds it."""
    out = {}
    for path in metrics_dir.glob("histogram_*.db"):
        for metric in MultiProcessCollector.merge([str(path)]):
            for sample in metric.samples:
                if sample.name == "cds_hook_duration_seconds_count":
                    out[path.stem] = out.get(path.stem, 0.0) + sample.value
    return out


def test_one_scrape_counts_the_calls_of_both_workers(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    body = load_request("igg-low")
    body["prefetch"] = bundle_to_prefetch(load_bundle("igg-low"), "igg-low")
    with serve(tmp_path, workers=2, threads=2, CDS_JWT_REQUIRED="false",
               PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)) as url:
        barrier = threading.Barrier(8)

        def call(i: int) -> int:
            with requests.Session() as s:  # a connection each, eight at a time: both workers get some
                if i < 8:
                    barrier.wait()
                return s.post(f"{url}/cds-services/rituximab-order-sign", json=body, timeout=30).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert set(pool.map(call, range(CALLS))) == {200}
        deadline = time.monotonic() + 15
        counts: list[float] = []
        while time.monotonic() < deadline:
            scrapes = [requests.get(f"{url}/metrics", timeout=10).text for _ in range(4)]
            counts = [float(m.group(1)) for text in scrapes for m in [_COUNT.search(text)] if m]
            if counts == [CALLS] * 4:
                break
            time.sleep(0.2)
        assert counts == [CALLS] * 4, counts
        per_worker = _calls_per_worker(metrics_dir)
        assert sum(per_worker.values()) == CALLS
        assert len([n for n in per_worker.values() if n]) == 2, per_worker  # both workers served calls
