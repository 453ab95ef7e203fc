"""/metrics exposes latency, FHIR, card and JWT metrics without patient data."""

from __future__ import annotations

import os
import subprocess
import sys

from service.hooks.prefetch import bundle_to_prefetch
from tests.scenarios import load_bundle, load_request


def test_metrics_after_an_invocation(client):
    body = load_request("igg-low")
    body["prefetch"] = bundle_to_prefetch(load_bundle("igg-low"), "igg-low")
    assert client.post("/cds-services/rituximab-order-sign", json=body).status_code == 200
    text = client.get("/metrics").get_data(as_text=True)
    assert 'cds_hook_duration_seconds_count{hook="order-sign",service="rituximab-order-sign",status="200"}' in text
    assert 'cds_cards_total{indicator="warning",service="rituximab-order-sign",topic="immunoglobulins"}' in text
    assert 'cds_record_sections_total{origin="prefetch",section="observations"}' in text
    assert 'cds_hook_stage_duration_seconds_bucket' in text
    for private in ("igg-low", "Okafor", "350"):
        assert f'"{private}' not in text and f"={private}" not in text


def test_each_invocation_counts_once_in_every_metric(client):
    """Two calls, two of everything: cards by topic, record sections by origin, the hook's and each
    stage's latency (the calls' counters are remembered per combination of label values)."""
    from prometheus_client import REGISTRY

    body = load_request("igg-low")
    body["prefetch"] = bundle_to_prefetch(load_bundle("igg-low"), "igg-low")
    samples = {
        "cards": ("cds_cards_total",
                  {"service": "rituximab-order-sign", "topic": "immunoglobulins", "indicator": "warning"}),
        "origin": ("cds_record_sections_total", {"section": "observations", "origin": "prefetch"}),
        "hook": ("cds_hook_duration_seconds_count",
                 {"service": "rituximab-order-sign", "hook": "order-sign", "status": "200"}),
        "stage": ("cds_hook_stage_duration_seconds_count", {"service": "rituximab-order-sign", "stage": "evaluate"}),
    }

    def read() -> dict[str, float]:
        client.get("/metrics")  # flushes the pending figures
        return {k: REGISTRY.get_sample_value(name, labels) or 0.0 for k, (name, labels) in samples.items()}

    before = read()
    for _ in range(2):
        assert client.post("/cds-services/rituximab-order-sign", json=body).status_code == 200
    after = read()
    assert {k: after[k] - before[k] for k in samples} == {k: 2.0 for k in samples}


def test_jwt_failures_are_counted(tmp_path):
    from service import create_app
    from tests.conftest import make_settings

    issuers = tmp_path / "i.json"
    issuers.write_text("[]")
    app = create_app(make_settings(jwt_required=True, trusted_issuers_file=issuers))
    c = app.test_client()
    assert c.get("/cds-services").status_code == 401
    assert c.get("/metrics").status_code == 200  # the scrape needs no JWT
    assert 'cds_jwt_failures_total{reason="missing"}' in c.get("/metrics").get_data(as_text=True)


def test_multiprocess_collector(tmp_path):
    code = """
from service import create_app
from tests.conftest import make_settings
app = create_app(make_settings())
c = app.test_client()
c.get('/cds-services')
text = c.get('/metrics').get_data(as_text=True)
assert 'cds_audit_write_failures_total' in text, text[:500]
print('ok')
"""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert any(p.name.endswith(".db") for p in tmp_path.iterdir())  # values went through the shared files


def test_failure_counters_exist_at_zero_before_any_failure_in_multiprocess_mode(tmp_path):
    """As in a gunicorn worker: alerts on these series need them present from start-up."""
    code = """
from service import create_app
from tests.conftest import make_settings
text = create_app(make_settings()).test_client().get('/metrics').get_data(as_text=True)
for line in ('cds_jwt_failures_total{reason="missing"} 0.0', 'cds_jwt_failures_total{reason="other"} 0.0',
             'cds_fhir_query_errors_total{section="observations"} 0.0'):
    assert line in text, line
print('ok')
"""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]


def test_pending_increments_write_what_observe_and_inc_would():
    """Observations added up in memory reach the scrape exactly as prometheus-client's own
    ``observe``/``inc`` write them (bucket edges included: a value equal to a bound)."""
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    from service.metrics import PendingIncrements

    def build() -> tuple[CollectorRegistry, Histogram, Counter]:
        registry = CollectorRegistry()
        hist = Histogram("h_seconds", "h", ["stage"], buckets=(0.005, 0.01, 0.25), registry=registry)
        count = Counter("c_total", "c", ["topic"], registry=registry)
        return registry, hist, count

    values = [0.0, 0.004, 0.005, 0.0051, 0.01, 0.2, 0.25, 0.3, 7.0]
    direct, hist, count = build()
    for i, v in enumerate(values):
        hist.labels(f"s{i % 2}").observe(v)
        count.labels(f"t{i % 3}").inc()
    deferred, hist2, count2 = build()
    pending = PendingIncrements(interval=3600)
    for i, v in enumerate(values):
        pending.add((count2.labels(f"t{i % 3}"),), [(hist2.labels(f"s{i % 2}"), v)])
    before = generate_latest(deferred).decode()
    assert 'h_seconds_count{stage="s0"} 0.0' in before and 'c_total{topic="t0"} 0.0' in before  # not yet written

    def samples(registry: CollectorRegistry) -> list[str]:
        return [ln for ln in generate_latest(registry).decode().splitlines() if "_created" not in ln]

    pending.flush()
    assert samples(deferred) == samples(direct)
    assert 'h_seconds_bucket{le="0.005",stage="s0"} 2.0' in samples(direct)  # 0.0 and 0.005 (s0: even i)


def test_pending_increments_lose_nothing_to_concurrent_flushes():
    """Request threads add while the flusher swaps the totals out (a stress test): every increment is
    written, once."""
    import threading

    from prometheus_client import CollectorRegistry, Counter

    from service.metrics import PendingIncrements

    registry = CollectorRegistry()
    child = Counter("n_total", "n", ["k"], registry=registry).labels("a")
    pending = PendingIncrements(interval=0.0005)  # its own thread flushes all the time
    threads = [threading.Thread(target=lambda: [pending.add((child,) * 3) for _ in range(5000)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pending.flush()
    assert registry.get_sample_value("n_total", {"k": "a"}) == 4 * 5000 * 3
