"""The garbage collector's share of a call: thresholds compared on whole calls through the WSGI app.

``python -m benchmarks.gc_pauses [--calls N] [--threshold G0,G1,G2 ...]``
runs, for each threshold setting in its own process, the service's WSGI app
(rules and all, JWT off, audit to an in-memory SQLite) on the seed workloads
and the heavy chart, each call with the raw body as a fresh request (the
parsed body is new objects every time, as under gunicorn).  Prints per call
p50/p99/max, and the time the collector spent (``gc.callbacks``) per call
and in its longest pause, with the number of collections of each generation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

from benchmarks.layer import ROOT

_CHILD = r"""
import gc, json, logging, os, sys, tempfile, time
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="gc-metrics-"))
from benchmarks.layer import environ_for
from benchmarks.workloads import build_workloads
from service import create_app
from service.settings import Settings
threshold, calls = sys.argv[1], int(sys.argv[2])
app = create_app(Settings.from_env({"CDS_JWT_REQUIRED": "false", "CDS_DATABASE_URL": "sqlite://",
                                    "CDS_LOG_LEVEL": "WARNING"}))
if threshold != "service":
    gc.set_threshold(*map(int, threshold.split(",")))
pauses, started = [], [0.0]
def on_gc(phase, info):
    if phase == "start":
        started[0] = time.perf_counter()
    else:
        pauses.append((info["generation"], time.perf_counter() - started[0]))
gc.callbacks.append(on_gc)
out = {"threshold": list(gc.get_threshold())}
for w in build_workloads(None):
    if w.name not in ("seed-a order-sign", "seed-b order-sign", "heavy order-sign"):
        continue
    path, raw = f"/cds-services/{w.service_id}", json.dumps(w.body).encode()
    def call():
        it = app(environ_for(path, raw), lambda status, headers, exc_info=None: None)
        for _ in it:
            pass
        it.close()
    n = calls if w.name.startswith("seed") else max(20, calls // 20)
    for _ in range(min(n, 50)):
        call()
    pauses.clear()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    times.sort()
    gc_total = sum(p for _, p in pauses)
    out[w.name] = {"p50_ms": times[n // 2] * 1e3, "p99_ms": times[int(n * 0.99)] * 1e3, "max_ms": times[-1] * 1e3,
                   "gc_ms_per_call": gc_total / n * 1e3, "gc_max_ms": max((p for _, p in pauses), default=0) * 1e3,
                   "collections": [sum(1 for g, _ in pauses if g == k) for k in range(3)]}
import resource
out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def measure(threshold: str, calls: int) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", _CHILD, threshold, str(calls)], cwd=ROOT, check=True,
                          capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.gc_pauses", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="seed calls per setting (heavy: a twentieth)")
    parser.add_argument("--threshold", nargs="+", default=["700,10,10", "service"],
                        help="gc thresholds to compare; 'service' is what create_app leaves")
    parser.add_argument("--rounds", type=int, default=1, help="settings run in turn, this many times")
    args = parser.parse_args(argv)
    print("| threshold | workload | p50 ms | p99 ms | max ms | gc ms per call | longest gc pause ms | "
          "collections gen0/1/2 | peak RSS MB |\n|---|---|---|---|---|---|---|---|---|")
    for _ in range(args.rounds):
        for threshold in args.threshold:
            r = measure(threshold, args.calls)
            for name, v in r.items():
                if name in ("threshold", "max_rss_mb"):
                    continue
                print(f"| {threshold} ({','.join(map(str, r['threshold']))}) | {name} | {v['p50_ms']:.2f} | "
                      f"{v['p99_ms']:.2f} | {v['max_ms']:.1f} | {v['gc_ms_per_call']:.3f} | {v['gc_max_ms']:.2f} | "
                      f"{'/'.join(map(str, v['collections']))} | {r['max_rss_mb']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
