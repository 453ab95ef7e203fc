"""The benchmark harness (``bash benchmarks/run.sh``; see benchmarks/README.md).

Prints, for each workload, p50/p95/p99 latency, throughput and RSS per worker
at concurrency 1, 8 and 32 for the service and, beside it, a Flask no-op app
receiving the same bodies under the same gunicorn settings; then the
in-process cost per stage, the no-prefetch fan-out against sekmet-fhir,
throughput with 1 and 2 workers, and memory across many requests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.course_review import course_review_table
from benchmarks.load import LoadResult, Spread, ratios, require_wrk, run_wrk
from benchmarks.procs import NOOP_APP, SERVICE_APP, gunicorn, pg_database_url
from benchmarks.stages import STAGES, StageResult, measure_stages, profile_text
from benchmarks.workloads import Workload, build_workloads, heavy_bundle

CONCURRENCY = (1, 8, 32)
#: the service with its rules replaced by their answer (benchmarks/layer_app.py)
LAYER_APP = "benchmarks.layer_app:create_app()"
SECTIONS = ["stages", "http", "scale", "memory", "course-review"]


def service_env(database_url: str, fhir_url: str | None) -> dict[str, str]:
    """Production-like settings, except no JWT (the EHR's JWT is not what is measured)."""
    return {
        "CDS_JWT_REQUIRED": "false",
        "CDS_DATABASE_URL": database_url,
        "CDS_ALLOWED_FHIR_SERVERS": fhir_url or "",
        "CDS_LOG_LEVEL": "WARNING",
    }


def fmt_row(label: str, cell: HttpCell, base: HttpCell | None = None) -> str:
    """One row: medians of the cell's repeats with their range, and the per-round ratios to the no-op."""
    ratio = " |  |"
    if base is not None:
        ratio = (f" | {ratios(cell.p99_ms.values, base.p99_ms.values).text('{:.2f}', 'x')}"
                 f" | {ratios(cell.rps.values, base.rps.values).text('{:.2f}', 'x')} |")
    return (f"| {label} | {cell.concurrency} | {cell.p50_ms.text('{:.2f}')} | {cell.p95_ms.text('{:.2f}')} | "
            f"{cell.p99_ms.text('{:.2f}')} | {cell.rps.text()} | {max(cell.rss_mb, default=0):.1f} | "
            f"{cell.errors}{ratio}")


HEADER = ("| workload (app) | c | p50 ms | p95 ms | p99 ms | req/s | RSS MB | err | p99/noop | rps/noop |\n|"
          + "---|" * 10)


@dataclass
class HttpCell:
    """The repeats of one (app, workload, concurrency) cell."""

    concurrency: int
    p50_ms: Spread = field(default_factory=Spread)
    p95_ms: Spread = field(default_factory=Spread)
    p99_ms: Spread = field(default_factory=Spread)
    rps: Spread = field(default_factory=Spread)
    rss_mb: list[float] = field(default_factory=list)
    errors: int = 0

    def add(self, r: LoadResult, rss: list[float]) -> None:
        for name in ("p50_ms", "p95_ms", "p99_ms"):
            getattr(self, name).values.append(getattr(r, name))
        self.rps.values.append(r.rps)
        self.rss_mb = rss
        self.errors += r.non_2xx + r.socket_errors

    def as_json(self) -> dict[str, Any]:
        return {"p50_ms": self.p50_ms.median, "p95_ms": self.p95_ms.median, "p99_ms": self.p99_ms.median,
                "rps": self.rps.median, "rounds": {k: getattr(self, k).values for k in
                                                   ("p50_ms", "p95_ms", "p99_ms", "rps")}}


def http_table(workloads: list[Workload], workers: int, seconds: float, database_url: str,
               fhir_url: str | None, layer: bool = False, repeats: int = 3) -> list[dict[str, Any]]:
    """Each workload at each concurrency against the service and the no-op, ``repeats`` rounds of
    interleaved cells (no-op, service; then service, no-op; ...) so that both meet the same moments of
    the shared machine; each figure is the median of its rounds, its range beside it.  With ``layer``,
    the seed workloads also against the service with its rules replaced by their answer
    (benchmarks/layer_app.py): the HTTP layer's share of the service's figures."""
    rows: list[dict[str, Any]] = []
    print(f"\n## HTTP: gunicorn, {workers} workers x 4 threads (gthread), wrk on loopback, "
          f"{repeats} interleaved rounds of {seconds:g} s cells: median (range)\n")
    print(HEADER)
    with ExitStack() as stack:
        apps = {"service": stack.enter_context(gunicorn(SERVICE_APP, workers, service_env(database_url, fhir_url))),
                "noop": stack.enter_context(gunicorn(NOOP_APP, workers, {}))}
        if layer:
            apps["layer"] = stack.enter_context(gunicorn(LAYER_APP, workers, service_env(database_url, fhir_url)))
        for w in workloads:
            for c in CONCURRENCY:
                cells = {name: HttpCell(c) for name in apps}
                order = [name for name in apps if name != "layer" or w.name.startswith("seed")]
                for round_ in range(repeats):
                    for name in order if round_ % 2 == 0 else reversed(order):
                        r = run_wrk(f"{apps[name].url}/cds-services/{w.service_id}", w.body, c, seconds)
                        cells[name].add(r, apps[name].worker_rss_mb())
                base = cells["noop"]
                print(fmt_row(f"{w.name} (service)", cells["service"], base), flush=True)
                if "layer" in order:
                    print(fmt_row("  HTTP layer alone (rules' answer)", cells["layer"], base), flush=True)
                print(fmt_row("  Flask no-op, same body", base), flush=True)
                rows.append({"workload": w.name, "concurrency": c, "service": cells["service"].as_json(),
                             "noop": base.as_json(), "rss_mb": cells["service"].rss_mb, "noop_rss_mb": base.rss_mb,
                             "rps_ratio": ratios(cells["service"].rps.values, base.rps.values).values,
                             "p99_ratio": ratios(cells["service"].p99_ms.values, base.p99_ms.values).values})
    return rows


def inprocess_app(fhir_url: str | None) -> Any:
    """The service's Flask app for in-process timing (no audit database to wait on)."""
    from service import create_app
    from service.settings import Settings

    return create_app(Settings.from_env({"CDS_JWT_REQUIRED": "false", "CDS_DATABASE_URL": "sqlite://",
                                         "CDS_ALLOWED_FHIR_SERVERS": fhir_url or "", "CDS_LOG_LEVEL": "WARNING"}))


def stage_table(workloads: list[Workload], runs: int, fhir_url: str | None) -> list[StageResult]:
    app = inprocess_app(fhir_url)
    print(f"\n## In-process cost per stage (ms, p50 / p95 of {runs} calls; one thread)\n")
    print("| workload | " + " | ".join(STAGES) + " | total p50 | cards |\n|" + "---|" * (len(STAGES) + 3))
    results = []
    for w in workloads:
        r = measure_stages(app, w, runs)
        results.append(r)
        cells = " | ".join(f"{r.p50_ms[s]:.2f} / {r.p95_ms[s]:.2f}" for s in STAGES)
        print(f"| {w.name} | {cells} | {sum(r.p50_ms.values()):.2f} | {r.cards} |", flush=True)
    for r in results:
        if r.per_query_ms:
            slowest = max(r.per_query_ms.values())
            print(f"\n### No-prefetch fan-out: {r.name} ({r.queries} HTTP requests per call)\n")
            print("| query (prefetch key) | median ms |\n|---|---|")
            for key, ms in sorted(r.per_query_ms.items(), key=lambda kv: -kv[1]):
                print(f"| {key} | {ms:.1f} |")
            print(f"| **gather total (p50)** | **{r.p50_ms['gather']:.1f}** |")
            print(f"\ngather / slowest single query: {r.parallel_ratio}x; slowest query median {slowest:.1f} ms "
                  "(the target compares with a plain client's fan-out: python -m benchmarks.fanout)")
    return results


def scale_table(workload: Workload, seconds: float, database_url: str) -> None:
    print(f"\n## Scale: {workload.name}, concurrency 32, 1 vs 2 workers ({seconds:g} s per cell)\n")
    print("| workers | service req/s | no-op req/s | service p99 ms | no-op p99 ms |\n|---|---|---|---|---|")
    for workers in (1, 2):
        with gunicorn(SERVICE_APP, workers, service_env(database_url, None)) as svc, \
                gunicorn(NOOP_APP, workers, {}) as noop:
            res = run_wrk(f"{svc.url}/cds-services/{workload.service_id}", workload.body, 32, seconds)
            base = run_wrk(f"{noop.url}/cds-services/{workload.service_id}", workload.body, 32, seconds)
        print(f"| {workers} | {res.rps:.1f} | {base.rps:.1f} | {res.p99_ms:.2f} | {base.p99_ms:.2f} |", flush=True)


def memory_table(workload: Workload, total_requests: int, database_url: str) -> list[float]:
    """RSS per worker along the run, then where the memory of the whole server is (master, workers,
    audit writer) at start and at the end, beside the no-op's workers under the same settings."""
    print(f"\n## Memory: {workload.name}, 2 workers x 4 threads, concurrency 8, until {total_requests} requests\n")
    print("| requests so far | RSS per worker MB | req/s in step |\n|---|---|---|")
    with gunicorn(SERVICE_APP, 2, service_env(database_url, None)) as svc:
        url = f"{svc.url}/cds-services/{workload.service_id}"
        at_start = svc.memory_mb()
        print(f"| 0 (started) | {svc.worker_rss_mb()} | |", flush=True)
        run_wrk(url, workload.body, 8, 2)  # warm-up: first-call imports, caches, pools
        done = 0
        print(f"| warm-up | {svc.worker_rss_mb()} | |", flush=True)
        step = 10.0
        while done < total_requests:
            r = run_wrk(url, workload.body, 8, step)
            done += r.requests
            print(f"| {done} | {svc.worker_rss_mb()} | {r.rps:.0f} |", flush=True)
            if r.non_2xx or r.socket_errors:
                print(f"errors in step: {r.non_2xx} non-2xx, {r.socket_errors} socket", flush=True)
        at_end = svc.memory_mb()
        rss_after = svc.worker_rss_mb()
    with gunicorn(NOOP_APP, 2, {}) as noop:
        run_wrk(f"{noop.url}/cds-services/{workload.service_id}", workload.body, 8, 2)
        noop_memory = noop.memory_mb()
    print("\n| process (MB) | service at start | service at the end | Flask no-op after warm-up |\n|---|---|---|---|")
    for name in at_end:
        print(f"| {name} | {at_start.get(name, '')} | {at_end[name]} | {noop_memory.get(name, '')} |")
    return rss_after


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**not met**")


def targets_table(stages: list[StageResult], rows: list[dict[str, Any]], rss_after: list[float] | None) -> None:
    """Issue 18's targets, each as measured in this run (ratios to the no-op of the same run)."""
    print("\n## Targets (this run)\n")
    print("| target | measured | verdict |\n|---|---|---|")
    cell = {(r["workload"], r["concurrency"]): r for r in rows}
    for name in ("seed-a order-sign", "seed-b order-sign"):
        r8, r1 = cell.get((name, 8)), cell.get((name, 1))
        if r8:
            ratio = Spread(r8["rps_ratio"])
            print(f"| {name}: throughput at 8 connections >= 0.5x no-op | {r8['service']['rps']:.0f} vs "
                  f"{r8['noop']['rps']:.0f} req/s; ratio per round {ratio.text('{:.2f}', 'x')} | "
                  f"{_verdict(ratio.median >= 0.5)} |")
        if r1:
            ratio = Spread(r1["p99_ratio"])
            print(f"| {name}: sequential p99 <= 2x no-op | {r1['service']['p99_ms']:.2f} vs "
                  f"{r1['noop']['p99_ms']:.2f} ms; ratio per round {ratio.text('{:.2f}', 'x')} | "
                  f"{_verdict(ratio.median <= 2)} |")
    for r in stages:
        total = sum(r.p50_ms.values())
        if r.name.startswith("seed"):
            print(f"| {r.name}: in process total p50 <= 0.5 ms | {total:.2f} ms | {_verdict(total <= 0.5)} |")
        elif r.name == "heavy order-sign":
            # Reading the 1.2 MB body is what the no-op pays as well; the target is the service's own work.
            own = total - r.p50_ms["read"]
            print(f"| heavy chart in process, parse to JSON out (body read apart: {r.p50_ms['read']:.1f} ms) "
                  f"p50 <= 3 ms | {own:.2f} ms | {_verdict(own <= 3)} |")
    if rss_after:
        print(f"| RSS per worker <= 60 MB after the memory run | {max(rss_after):.1f} MB | "
              f"{_verdict(max(rss_after) <= 60)} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, help="duration of each wrk cell (default 5)")
    parser.add_argument("--runs", type=int, help="in-process calls per workload (default 200)")
    parser.add_argument("--memory-requests", type=int, help="requests of the memory run (default 50,000; 0 skips)")
    parser.add_argument("--repeats", type=int, help="interleaved rounds of each HTTP cell (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="defaults of 2 s cells, 1 round, 50 runs, 5,000 requests")
    parser.add_argument("--profile", metavar="FILE", help="write a pyinstrument profile of the heavy chart")
    parser.add_argument("--json", metavar="FILE", help="also write the HTTP table as JSON")
    parser.add_argument("--layer", action="store_true",
                        help="http: also the seeds against the service with its rules replaced by their answer")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=SECTIONS, help="run only these sections")
    args = parser.parse_args(argv)
    defaults = (2.0, 50, 5_000, 1) if args.quick else (5.0, 200, 50_000, 3)
    for name, default in zip(("seconds", "runs", "memory_requests", "repeats"), defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, default)
    require_wrk()
    print(f"# rituximab-cds benchmarks, {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}")
    from fhir_fixtures.server import analyze, post_bundle, start

    with ExitStack() as stack:
        fhir = start(run_name="bench")
        stack.callback(fhir.stop)
        post_bundle(fhir.base_url, heavy_bundle())
        analyze(fhir.db_path)
        database_url = stack.enter_context(pg_database_url())
        workloads = build_workloads(fhir.base_url)
        for w in workloads:
            print(f"- {w.name}: {w.description}, body {len(json.dumps(w.body)) / 1024:.0f} KiB")
        rows: list[dict[str, Any]] = []
        stages: list[StageResult] = []
        rss_after: list[float] | None = None
        if "stages" in args.only:
            stages = stage_table(workloads, args.runs, fhir.base_url)
        if "http" in args.only:
            rows = http_table(workloads, 2, args.seconds, database_url, fhir.base_url, layer=args.layer,
                              repeats=args.repeats)
        if "scale" in args.only:
            scale_table(workloads[1], args.seconds, database_url)
        if args.memory_requests and "memory" in args.only:
            rss_after = memory_table(workloads[1], args.memory_requests, database_url)
        if "course-review" in args.only:
            course_review_table(fhir.base_url, service_env(database_url, fhir.base_url), max(5, args.runs // 10))
        if args.profile:
            heavy = next(w for w in workloads if w.name == "heavy order-sign")
            Path(args.profile).write_text(profile_text(inprocess_app(None), heavy, 50))
            print(f"\npyinstrument profile of the heavy chart written to {args.profile}")
        if args.json and rows:
            Path(args.json).write_text(json.dumps(rows, indent=1))
        targets_table(stages, rows, rss_after)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
