"""Prometheus metrics (prometheus-client), multi-process aware under gunicorn.

Labels carry no patient data: service, hook, status, record section, topic,
indicator, coarse failure reason.  With PROMETHEUS_MULTIPROC_DIR set (done by
``rituximab-cds serve`` before workers fork), /metrics aggregates all workers.
"""

from __future__ import annotations

import os
import time
from functools import cache
from typing import Any

from flask import Blueprint, Flask, Response, g
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from service.fhir.queries import PREFETCH_TYPES
from service.hooks.invoke import HookOutcome
from service.hooks.registry import ServiceDefinition

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HOOK_LATENCY = Histogram("cds_hook_duration_seconds", "Hook invocation latency", ["service", "hook", "status"],
                         buckets=_BUCKETS)
STAGE_LATENCY = Histogram("cds_hook_stage_duration_seconds", "Latency per stage (parse, gather, evaluate, cards)",
                          ["service", "stage"], buckets=_BUCKETS)
FHIR_LATENCY = Histogram("cds_fhir_query_duration_seconds", "FHIR query latency per record section",
                         ["section"], buckets=_BUCKETS)
FHIR_ERRORS = Counter("cds_fhir_query_errors_total", "FHIR queries that failed, per record section", ["section"])
DATA_ORIGIN = Counter("cds_record_sections_total", "Record sections by where they came from", ["section", "origin"])
CARDS = Counter("cds_cards_total", "Cards returned", ["service", "topic", "indicator"])
JWT_FAILURES = Counter("cds_jwt_failures_total", "Rejected CDS client JWTs", ["reason"])
AUDIT_FAILURES = Counter("cds_audit_write_failures_total", "Audit rows that could not be written")

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        data = generate_latest(registry)
    else:
        data = generate_latest()
    return Response(data, mimetype=CONTENT_TYPE_LATEST)


#: the bounded label values of cds_jwt_failures_total{reason}, most specific first
JWT_REASONS = ("missing", "algorithm", "issuer", "kid", "jku", "aud", "expired", "replay", "iat", "exp", "jti",
               "other")


def _reason_category(reason: str) -> str:
    """A coarse, bounded label from an authentication failure reason."""
    for key in JWT_REASONS[:-1]:
        if key in reason:
            return key
    return "other"


def _start_at_zero() -> None:
    """Create every bounded label value now, so the counters read 0 before the first failure.

    A labelled counter is absent from /metrics until its first ``labels()`` call (in
    multi-process mode too), and an alert on a series that does not exist never fires.
    """
    for reason in JWT_REASONS:
        JWT_FAILURES.labels(reason)
    for section in PREFETCH_TYPES:
        FHIR_ERRORS.labels(section)


@cache
def _child(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, looked up once per label set (every label here is bounded;
    ``labels()`` takes a lock and validates its arguments on every call)."""
    return metric.labels(*labels)


def observe_invocation(service: ServiceDefinition, outcome: HookOutcome) -> None:
    started = g.get("request_started")
    if started is not None:
        _child(HOOK_LATENCY, service.id, service.hook, str(outcome.status)).observe(time.perf_counter() - started)
    for stage, ms in outcome.timings.items():
        _child(STAGE_LATENCY, service.id, stage).observe(ms / 1000)
    if outcome.gather is not None:
        for section, ms in outcome.gather.per_key_ms.items():
            _child(FHIR_LATENCY, section).observe(ms / 1000)
        for section in outcome.gather.errors:
            _child(FHIR_ERRORS, section).inc()
        for section, origin in outcome.gather.origins.items():
            _child(DATA_ORIGIN, section, origin).inc()
    for card in outcome.cards:
        _child(CARDS, service.id, card.topic, card.indicator).inc()


def install_metrics(app: Flask) -> None:
    _start_at_zero()
    app.extensions["cds.invocation_listeners"].append(observe_invocation)
    app.extensions.setdefault("cds.auth_failure_listeners", []).append(
        lambda reason: JWT_FAILURES.labels(_reason_category(reason)).inc())
    store: Any = app.extensions.get("cds.store")
    if store is not None:
        store.failure_listeners.append(AUDIT_FAILURES.inc)
    app.register_blueprint(bp)
