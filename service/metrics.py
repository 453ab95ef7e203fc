"""Prometheus metrics (prometheus-client), multi-process aware under gunicorn.

Labels carry no patient data: service, hook, status, record section, topic,
indicator, coarse failure reason.  With PROMETHEUS_MULTIPROC_DIR set (done by
``rituximab-cds serve`` before workers fork), /metrics aggregates all workers.

Per call, the invocation's observations are added up in memory
(:class:`PendingIncrements`) and written to the metric values at most once a
second and before every scrape: in multi-process mode each write takes a
lock, checks the pid and writes a file mapping, and a call made about twenty.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from bisect import bisect_left
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
from service.store.audit import AUDIT_FAILURES_METRIC

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
AUDIT_FAILURES = Counter(*AUDIT_FAILURES_METRIC)

bp = Blueprint("metrics", __name__)


class PendingIncrements:
    """Increments of metric values (a counter's, or a histogram's sum and buckets), added up
    until :meth:`flush` writes each value's total with one ``inc``.

    A thread per process flushes every ``interval`` seconds, so another worker's figures
    reach a scrape at most that late; the scraping worker flushes its own first, and every
    process flushes at exit.
    """

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._amounts: dict[Any, float] = {}
        self._flusher_pid: int | None = None

    def add(self, increments: list[tuple[Any, float]]) -> None:
        """Queue ``(value, amount)`` pairs; one lock for the whole call."""
        if self._flusher_pid != os.getpid():
            self._start_flusher()
        with self._lock:
            amounts = self._amounts  # inside the lock: a flush swaps in a new dict
            for value, amount in increments:
                amounts[value] = amounts.get(value, 0.0) + amount

    def flush(self) -> None:
        with self._lock:
            amounts, self._amounts = self._amounts, {}
        for value, amount in amounts.items():
            value.inc(amount)

    def _start_flusher(self) -> None:
        # Once per process (a forked worker starts its own: threads do not survive fork).
        with self._lock:
            if self._flusher_pid == os.getpid():
                return
            self._flusher_pid = os.getpid()
            self._amounts = {}  # a parent's unflushed amounts are the parent's to write
        threading.Thread(target=self._flush_every_interval, name="metrics-flush", daemon=True).start()
        atexit.register(self.flush)

    def _flush_every_interval(self) -> None:
        while True:
            time.sleep(self.interval)
            self.flush()


PENDING = PendingIncrements()


def counter_increment(child: Any, amount: float = 1.0) -> tuple[Any, float]:
    """The increment ``child.inc(amount)`` would make, for :meth:`PendingIncrements.add`."""
    return child, amount


def histogram_increments(child: Any, amount: float) -> tuple[tuple[Any, float], tuple[Any, float]]:
    """The two increments ``child.observe(amount)`` would make: its sum, and the count of the
    first bucket whose upper bound is at least ``amount`` (prometheus-client's own values:
    the test compares the scrape with ``observe``'s)."""
    return (child._sum, amount), (child._buckets[bisect_left(child._upper_bounds, amount)], 1.0)  # noqa: SLF001


@bp.get("/metrics")
def metrics() -> Response:
    PENDING.flush()
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
    adds: list[tuple[Any, float]] = []
    if started is not None:
        adds += histogram_increments(_child(HOOK_LATENCY, service.id, service.hook, str(outcome.status)),
                                     time.perf_counter() - started)
    for stage, ms in outcome.timings.items():
        adds += histogram_increments(_child(STAGE_LATENCY, service.id, stage), ms / 1000)
    if outcome.gather is not None:
        for section, ms in outcome.gather.per_key_ms.items():
            adds += histogram_increments(_child(FHIR_LATENCY, section), ms / 1000)
        for section in outcome.gather.errors:
            adds.append(counter_increment(_child(FHIR_ERRORS, section)))
        for section, origin in outcome.gather.origins.items():
            adds.append(counter_increment(_child(DATA_ORIGIN, section, origin)))
    for card in outcome.cards:
        adds.append(counter_increment(_child(CARDS, service.id, card.topic, card.indicator)))
    PENDING.add(adds)


def install_metrics(app: Flask) -> None:
    _start_at_zero()
    app.extensions["cds.invocation_listeners"].append(observe_invocation)
    app.extensions.setdefault("cds.auth_failure_listeners", []).append(
        lambda reason: JWT_FAILURES.labels(_reason_category(reason)).inc())
    store: Any = app.extensions.get("cds.store")
    if store is not None:
        store.failure_listeners.append(AUDIT_FAILURES.inc)
    app.register_blueprint(bp)
