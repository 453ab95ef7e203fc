"""Prometheus metrics (prometheus-client), multi-process aware under gunicorn.

Labels carry no patient data: service, hook, status, record section, topic,
indicator, coarse failure reason.  With PROMETHEUS_MULTIPROC_DIR set (done by
``rituximab-cds serve`` before workers fork), /metrics aggregates all workers.

Per call, the invocation's observations are added up in memory
(:class:`PendingIncrements`) and written to the metric values at most once a
second and before every scrape: in multi-process mode each write takes a
lock, checks the pid and writes a file mapping, and a call made about twenty.
A call's counters (record sections by origin, cards by topic) come as one
remembered tuple per combination of label values, counted as one.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Sequence
from functools import cache, lru_cache
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
    """Counter increments and histogram observations, added up until :meth:`flush` writes each
    value's total with one ``inc``.

    A thread per process flushes every ``interval`` seconds, so another worker's figures
    reach a scrape at most that late; the scraping worker flushes its own first, and every
    process flushes at exit.  A flush does little: the calls' counters are counted per tuple
    of children, and only a flush spreads those counts over the children (a flush that did
    all the calls' work at once would hold the GIL for milliseconds, a stall for a request).
    """

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        #: value (a counter's, a histogram's sum or bucket) -> amount to add
        self._amounts: dict[Any, float] = {}
        #: tuple of counter children -> how many calls incremented each of them by one
        self._counter_calls: dict[tuple[Any, ...], int] = {}
        self._flusher_pid: int | None = None

    def add(self, counters: tuple[Any, ...] = (), observations: Sequence[tuple[Any, float]] = ()) -> None:
        """One call's figures: each counter child in ``counters`` counts one more (a child may come
        several times), each ``(histogram child, value)`` is one observation, added up as
        ``observe`` would write it: to the sum, and to the count of the first bucket whose upper
        bound is at least the value (prometheus-client's own values)."""
        if self._flusher_pid != os.getpid():
            self._start_flusher()
        with self._lock:
            calls = self._counter_calls  # inside the lock: a flush swaps in new dicts
            calls[counters] = calls.get(counters, 0) + 1
            amounts = self._amounts
            for child, observed in observations:
                amounts[child._sum] = amounts.get(child._sum, 0.0) + observed  # noqa: SLF001
                bucket = child._buckets[bisect_left(child._upper_bounds, observed)]  # noqa: SLF001
                amounts[bucket] = amounts.get(bucket, 0.0) + 1.0

    def flush(self) -> None:
        with self._lock:
            amounts, self._amounts = self._amounts, {}
            counter_calls, self._counter_calls = self._counter_calls, {}
        for counters, calls in counter_calls.items():
            for value in counters:
                amounts[value] = amounts.get(value, 0.0) + calls
        for value, amount in amounts.items():
            value.inc(amount)

    def _start_flusher(self) -> None:
        # Once per process (a forked worker starts its own: threads do not survive fork).
        with self._lock:
            if self._flusher_pid == os.getpid():
                return
            self._flusher_pid = os.getpid()
            self._amounts, self._counter_calls = {}, {}  # a parent's unflushed figures are the parent's
        threading.Thread(target=self._flush_every_interval, name="metrics-flush", daemon=True).start()
        atexit.register(self.flush)

    def _flush_every_interval(self) -> None:
        while True:
            time.sleep(self.interval)
            self.flush()


PENDING = PendingIncrements()


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


@lru_cache(maxsize=1024)
def _call_counters(service_id: str, origins: tuple[tuple[str, str], ...], errors: tuple[str, ...],
                   cards: tuple[tuple[str, str], ...]) -> tuple[Any, ...]:
    """The counter children one call increments, for one combination of its label values (every
    label here is bounded, and calls repeat few combinations)."""
    return (*(_child(DATA_ORIGIN, section, origin) for section, origin in origins),
            *(_child(FHIR_ERRORS, section) for section in errors),
            *(_child(CARDS, service_id, topic, indicator) for topic, indicator in cards))


def observe_invocation(service: ServiceDefinition, outcome: HookOutcome) -> None:
    observations = [(_child(STAGE_LATENCY, service.id, stage), ms / 1000) for stage, ms in outcome.timings.items()]
    started = g.get("request_started")
    if started is not None:
        observations.append((_child(HOOK_LATENCY, service.id, service.hook, str(outcome.status)),
                             time.perf_counter() - started))
    gather = outcome.gather
    if gather is not None:
        observations += [(_child(FHIR_LATENCY, section), ms / 1000) for section, ms in gather.per_key_ms.items()]
    counters = _call_counters(service.id, tuple(gather.origins.items()) if gather is not None else (),
                              tuple(gather.errors) if gather is not None else (),
                              tuple((card.topic, card.indicator) for card in outcome.cards))
    PENDING.add(counters, observations)


def install_metrics(app: Flask) -> None:
    _start_at_zero()
    app.extensions["cds.invocation_listeners"].append(observe_invocation)
    app.extensions.setdefault("cds.auth_failure_listeners", []).append(
        lambda reason: JWT_FAILURES.labels(_reason_category(reason)).inc())
    store: Any = app.extensions.get("cds.store")
    if store is not None:
        store.failure_listeners.append(AUDIT_FAILURES.inc)
    app.register_blueprint(bp)
