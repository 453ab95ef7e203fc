"""Side by side under gunicorn: source trees of the service and the Flask no-op, in turn, same run.

``python -m benchmarks.side_by_side [--tree DIR ...] [--rounds N] [--seconds S]``
starts each tree's service (``service:create_app()`` from that directory,
this interpreter; PostgreSQL audit, the http section's settings) and the
no-op, 2 workers x 4 threads each as ``benchmarks.run``; then, for the seed
workloads at 1 and 8 connections, runs wrk against each in turn, for
``rounds`` rounds, so each cell of each tree meets the same moment of the
shared machine.  Prints one row per cell with the ratios to the no-op.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path

from benchmarks import procs
from benchmarks.load import LoadResult, require_wrk, run_wrk
from benchmarks.procs import NOOP_APP, SERVICE_APP, gunicorn, pg_database_url
from benchmarks.run import service_env
from benchmarks.workloads import build_workloads


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (their threads included), from /proc."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.side_by_side", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", help="a source tree of the service (default: this one)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--layer", action="store_true",
                        help="also each tree's service with the rules replaced by their answer (benchmarks.layer_app)")
    parser.add_argument("--no-service", action="store_true", help="leave out the whole service (with --layer)")
    parser.add_argument("--workload", nargs="+", default=["seed-a order-sign", "seed-b order-sign"])
    args = parser.parse_args(argv)
    require_wrk()
    trees = [Path(t).resolve() for t in (args.tree or [procs.ROOT])]
    workloads = [w for w in build_workloads(None) if w.name in args.workload]
    results: dict[tuple[str, str, int], list[LoadResult]] = {}
    #: the workers' CPU time per request, ms: steadier than wall time on a shared machine
    cpu_ms: dict[tuple[str, str, int], list[float]] = {}
    with ExitStack() as stack:
        servers = {"noop": stack.enter_context(gunicorn(NOOP_APP, 2, {}))}
        for tree in trees:
            database_url = stack.enter_context(pg_database_url())
            procs.ROOT = tree  # gunicorn's working directory: the service is imported from there
            env = service_env(database_url, None)
            if not args.no_service:
                servers[str(tree)] = stack.enter_context(gunicorn(SERVICE_APP, 2, env))
            if args.layer:
                # A module outside the tree's packages, so any tree (one without it too) can serve it.
                shim = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                shutil.copy(Path(__file__).with_name("layer_app.py"), shim)
                env = env | {"PYTHONPATH": str(shim)}
                servers[f"{tree} layer"] = stack.enter_context(gunicorn("layer_app:create_app()", 2, env))
        for server in servers.values():  # warm-up: imports, caches, pools
            for w in workloads:
                run_wrk(f"{server.url}/cds-services/{w.service_id}", w.body, 8, 1)
        for _ in range(args.rounds):
            for w in workloads:
                for c in args.concurrency:
                    for name, server in servers.items():
                        pids = server.worker_pids()
                        cpu = cpu_seconds(pids)
                        r = run_wrk(f"{server.url}/cds-services/{w.service_id}", w.body, c, args.seconds)
                        cpu_ms.setdefault((name, w.name, c), []).append(
                            (cpu_seconds(pids) - cpu) * 1000 / max(r.requests, 1))
                        results.setdefault((name, w.name, c), []).append(r)
                        if r.non_2xx or r.socket_errors:
                            print(f"errors: {name} {w.name} c={c}: {r.non_2xx} non-2xx, {r.socket_errors} socket")
        rss = {name: s.worker_rss_mb() for name, s in servers.items()}
    procs.ROOT = Path(procs.__file__).resolve().parent.parent
    print(f"\n{args.rounds} rounds, wrk {args.seconds:g} s per cell; values per round\n")
    print("| workload | c | app | req/s | p50 ms | p99 ms | rps/noop | p99/noop | worker CPU ms per request |"
          "\n|---|---|---|---|---|---|---|---|---|")
    for w in workloads:
        for c in args.concurrency:
            base = results[("noop", w.name, c)]
            for name in servers:
                rs = results[(name, w.name, c)]
                label = "no-op" if name == "noop" else os.path.basename(name)
                rps = " / ".join(f"{r.rps:.0f}" for r in rs)
                p50 = " / ".join(f"{r.p50_ms:.2f}" for r in rs)
                p99 = " / ".join(f"{r.p99_ms:.2f}" for r in rs)
                ratio_rps = " / ".join(f"{r.rps / b.rps:.2f}x" for r, b in zip(rs, base, strict=True))
                ratio_p99 = " / ".join(f"{r.p99_ms / b.p99_ms:.2f}x" for r, b in zip(rs, base, strict=True))
                if name == "noop":
                    ratio_rps = ratio_p99 = ""
                cpu_cells = " / ".join(f"{v:.3f}" for v in cpu_ms[(name, w.name, c)])
                print(f"| {w.name} | {c} | {label} | {rps} | {p50} | {p99} | {ratio_rps} | {ratio_p99} | {cpu_cells} |")
    print("\nRSS per worker MB: " + ", ".join(f"{os.path.basename(k)} {v}" for k, v in rss.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
