"""In-process cost per stage (read, parse, gather, evaluate, cards, serialize) of one workload.

Runs the very function the HTTP endpoint runs (service.hooks.invoke.handle_hook)
so a regression shows up in the stage that caused it.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from dataclasses import dataclass, field

import orjson
from flask import Flask

from benchmarks.workloads import Workload
from service.hooks.invoke import handle_hook
from service.hooks.registry import SERVICES_BY_ID
from service.http import json_body

#: read: raw bytes -> object with the depth check (the HTTP layer's part); parse: the CDS Hooks request
STAGES = ("read", "parse", "gather", "evaluate", "cards", "serialize")


@dataclass
class StageResult:
    name: str
    p50_ms: dict[str, float]
    p95_ms: dict[str, float]
    cards: int
    #: no-prefetch runs: median per-query ms by prefetch key, and gather / slowest query
    per_query_ms: dict[str, float] = field(default_factory=dict)
    queries: int = 0
    parallel_ratio: float | None = None


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def measure_stages(app: Flask, workload: Workload, runs: int) -> StageResult:
    """Time each stage over ``runs`` calls (after one warm-up call)."""
    logging.disable(logging.INFO)  # one log line per call is not what is measured here
    runtime = app.extensions["cds.runtime"]
    service = SERVICES_BY_ID[workload.service_id]
    samples: dict[str, list[float]] = {s: [] for s in STAGES}
    per_query: dict[str, list[float]] = {}
    ratios: list[float] = []
    queries = 0
    cards = 0
    raw = json.dumps(workload.body).encode()
    limit = app.extensions["cds.settings"].max_json_depth
    handle_hook(service, workload.body, runtime)
    for _ in range(runs):
        t = time.perf_counter()
        body = json_body.loads(raw, max_depth=limit)
        read_ms = (time.perf_counter() - t) * 1000
        outcome = handle_hook(service, body, runtime)
        outcome.timings["read"] = read_ms
        t = time.perf_counter()
        orjson.dumps(outcome.body)  # as the endpoint writes it
        outcome.timings["serialize"] = (time.perf_counter() - t) * 1000
        for stage in STAGES:
            samples[stage].append(outcome.timings.get(stage, 0.0))
        cards = len(outcome.body.get("cards", []))
        stats = outcome.gather
        if stats and stats.per_key_ms:
            queries = stats.queries
            for key, ms in stats.per_key_ms.items():
                per_query.setdefault(key, []).append(ms)
            slowest = max(stats.per_key_ms.values())
            if slowest > 0:
                ratios.append(outcome.timings["gather"] / slowest)
    logging.disable(logging.NOTSET)
    return StageResult(
        name=workload.name,
        p50_ms={s: _pct(v, 0.5) for s, v in samples.items()},
        p95_ms={s: _pct(v, 0.95) for s, v in samples.items()},
        cards=cards,
        per_query_ms={k: round(statistics.median(v), 1) for k, v in per_query.items()},
        queries=queries,
        parallel_ratio=round(statistics.median(ratios), 2) if ratios else None,
    )


def profile_text(app: Flask, workload: Workload, runs: int) -> str:
    """A pyinstrument call tree of ``runs`` in-process calls (where the time goes)."""
    from pyinstrument import Profiler

    runtime = app.extensions["cds.runtime"]
    service = SERVICES_BY_ID[workload.service_id]
    handle_hook(service, workload.body, runtime)
    logging.disable(logging.INFO)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(runs):
        handle_hook(service, workload.body, runtime)
    profiler.stop()
    logging.disable(logging.NOTSET)
    return str(profiler.output_text(unicode=False, color=False))

