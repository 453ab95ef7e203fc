"""Where a request's time goes inside a gunicorn worker, and where its slow ones lose it.

``python -m benchmarks.trace [--app service|noop] [--concurrency 1] [--seconds 5] [--workload NAME]``
serves the app as ``benchmarks.run`` does (2 workers x 4 threads, PostgreSQL
audit) with benchmarks/worker_trace.py installed in its workers, drives it with
wrk, then prints per stage the percentiles of the requests of the cell: the wait
for a pool thread (``queue``), reading the request (``pre-app``), the app (wall
and CPU time of its thread), writing the answer (``post-app``); the garbage
collections during the cell; and the slowest requests broken down the same way.
An app whose wall time is far above its CPU time was waiting: for the GIL (other
threads of its worker) or for a core (other processes of the machine).  At one
connection, also the gap from an answer written to the next request handed to a
pool thread: wrk's turn-around, loopback and the worker's main thread.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.load import require_wrk, run_wrk
from benchmarks.procs import NOOP_APP, SERVICE_APP, gunicorn, pg_database_url
from benchmarks.run import service_env
from benchmarks.workloads import build_workloads

#: columns of a row of benchmarks/worker_trace.py
ENQUEUED, STARTED, APP_START, APP_END, DONE, HANDLE_CPU, APP_CPU = range(7)
STAGES = {
    "queue (enqueued -> pool thread)": lambda r: r[STARTED] - r[ENQUEUED],
    "pre-app (read the request)": lambda r: r[APP_START] - r[STARTED],
    "app, wall": lambda r: r[APP_END] - r[APP_START],
    "app, CPU of its thread": lambda r: r[APP_CPU],
    "post-app (write the answer)": lambda r: r[DONE] - r[APP_END],
    "enqueued -> written": lambda r: r[DONE] - r[ENQUEUED],
}


def read_rows(trace_dir: Path, since: float) -> tuple[list[list[float]], list[tuple[float, int]]]:
    rows = [[float(x) for x in line.split("\t")] for f in trace_dir.glob("req-*.tsv") for line in f.open()]
    gcs = [(float(b) - float(a), int(g)) for f in trace_dir.glob("gc-*.tsv")
           for a, b, g in (line.split("\t") for line in f.open()) if float(a) >= since]
    return [r for r in rows if r[ENQUEUED] >= since], gcs


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.trace", description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", choices=["service", "noop"], default="service")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workload", default="seed-a order-sign")
    args = parser.parse_args(argv)
    require_wrk()
    w = next(w for w in build_workloads(None) if w.name == args.workload)
    trace_dir = Path(tempfile.mkdtemp(prefix="bench-trace-"))
    factory = ("service", "create_app") if args.app == "service" else tuple(NOOP_APP.split(":"))
    setup = f"import benchmarks.worker_trace as t; t.install{factory!r}"
    with pg_database_url() as database_url:
        env = (service_env(database_url, None) if args.app == "service" else {}) | {"TRACE_DIR": str(trace_dir)}
        with gunicorn(SERVICE_APP if args.app == "service" else NOOP_APP, 2, env, setup=setup) as server:
            url = f"{server.url}/cds-services/{w.service_id}"
            run_wrk(url, w.body, 8, 2)  # warm-up
            since = time.perf_counter()
            r = run_wrk(url, w.body, args.concurrency, args.seconds)
    rows, gcs = read_rows(trace_dir, since)
    shutil.rmtree(trace_dir, ignore_errors=True)
    print(f"\n{args.app}, {w.name}, c={args.concurrency}, {args.seconds:g} s: wrk {r.rps:.0f} req/s, p50 "
          f"{r.p50_ms:.2f} / p99 {r.p99_ms:.2f} ms; {len(rows)} requests traced; load average "
          f"{os.getloadavg()[0]:.1f}\n")
    print("| ms | p50 | p90 | p99 | max | mean |\n|---|---|---|---|---|---|")
    for name, stage in STAGES.items():
        values = [stage(row) * 1000 for row in rows]
        print(f"| {name} | {percentile(values, .5):.2f} | {percentile(values, .9):.2f} | "
              f"{percentile(values, .99):.2f} | {max(values):.2f} | {statistics.mean(values):.2f} |")
    if args.concurrency == 1:  # one request at a time: the gaps between them are the client's and the kernel's
        ordered = sorted(rows)
        gaps = [(b[ENQUEUED] - a[DONE]) * 1000 for a, b in zip(ordered, ordered[1:], strict=False)]
        print(f"| written -> next request enqueued (wrk, loopback, the worker's main thread) | "
              f"{percentile(gaps, .5):.2f} | {percentile(gaps, .9):.2f} | {percentile(gaps, .99):.2f} | "
              f"{max(gaps):.2f} | {statistics.mean(gaps):.2f} |")
    longest = max((d for d, _ in gcs), default=0.0) * 1000
    print(f"\ngarbage collections in the cell: {len(gcs)} (generations {sorted({g for _, g in gcs})}), "
          f"longest {longest:.2f} ms")
    slowest = sorted(rows, key=STAGES["enqueued -> written"])[-max(1, len(rows) // 100):]
    print(f"\nthe slowest 1% ({len(slowest)} requests), mean ms per stage: " + ", ".join(
        f"{name.split(' (')[0]} {statistics.mean(stage(row) for row in slowest) * 1000:.2f}"
        for name, stage in STAGES.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
