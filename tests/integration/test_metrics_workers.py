"""/metrics under ``rituximab-cds serve`` with two workers: one scrape counts every worker's calls.

The invocation metrics are added up in memory and written to the shared
metric files about once a second (service/metrics.py), so this checks the
aggregation across processes end to end: calls spread over both workers,
and a scrape answered by either one reports them all.
"""

from __future__ import annotations

import http.client
import json
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


def test_connections_opened_at_once_and_kept_alive_are_spread_over_the_workers(tmp_path):
    """Sixteen clients connect at the same moment and keep their connection for ten calls each.  On one
    shared listening socket, the worker that woke first accepted the whole burst and kept it, so one
    worker (one GIL) served every call while the other idled; each worker listens on a socket of its
    own now (SO_REUSEPORT), and the kernel spreads the connections (all sixteen on one of two sockets:
    a chance of 2 in 65,536)."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    body = load_request("igg-low")
    body["prefetch"] = bundle_to_prefetch(load_bundle("igg-low"), "igg-low")
    clients, calls_each = 16, 10
    raw = json.dumps(body)
    with serve(tmp_path, workers=2, threads=4, CDS_JWT_REQUIRED="false",
               PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)) as url:
        host, port = url.removeprefix("http://").split(":")
        connections = [http.client.HTTPConnection(host, int(port), timeout=30) for _ in range(clients)]
        for conn in connections:  # all connected before the first request, as a load generator does
            conn.connect()

        def client(conn: http.client.HTTPConnection) -> set[int]:
            statuses = set()
            for _ in range(calls_each):
                conn.request("POST", "/cds-services/rituximab-order-sign", raw,
                             {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                statuses.add(response.status)
            conn.close()
            return statuses

        with ThreadPoolExecutor(max_workers=clients) as pool:
            assert set().union(*pool.map(client, connections)) == {200}
        deadline = time.monotonic() + 15
        per_worker: dict[str, float] = {}
        while time.monotonic() < deadline:  # each worker writes its figures about once a second
            per_worker = _calls_per_worker(metrics_dir)
            if sum(per_worker.values()) == clients * calls_each:
                break
            time.sleep(0.2)
        assert sum(per_worker.values()) == clients * calls_each, per_worker
        assert len([n for n in per_worker.values() if n]) == 2, per_worker
