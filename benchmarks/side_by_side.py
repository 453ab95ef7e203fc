"""Side by side under gunicorn: source trees of the service and the Flask no-op, in turn, same run.

``python -m benchmarks.side_by_side [--tree DIR ...] [--rounds N] [--seconds S]``
starts each tree's service (``service:create_app()`` from that directory,
this interpreter; PostgreSQL audit, the http section's settings) and the
no-op, 2 workers x 4 threads each as ``benchmarks.run``; then, for the seed
workloads at 1 and 8 connections, runs wrk against each in turn, for
``rounds`` rounds, so each cell of each tree meets the same moment of the
shared machine.  Prints, per workload, concurrency and app, the median of
the rounds and their range, the ratios to the no-op (each round's cell against
the no-op's cell of the same round), and the CPU time per request of each
process that serves it: the workers, the audit writer, PostgreSQL (every
backend on the machine: other users of the database count too) and wrk.
``--workers``/``--threads`` change the gunicorn settings of every app alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path

from benchmarks import procs
from benchmarks.load import LoadResult, Spread, ratios, require_wrk, run_wrk
from benchmarks.procs import NOOP_APP, SERVICE_APP, gunicorn, pg_database_url
from benchmarks.run import service_env
from benchmarks.workloads import build_workloads


def cpu_seconds(pids: list[int], system_only: bool = False) -> float:
    """User + system CPU time of these processes so far (their threads included), from /proc;
    ``system_only``: the kernel's part alone (system calls, the network stack, thread wake-ups)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime (fields 14 and 15 of stat)
        total += int(fields[12]) if system_only else int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """Every PostgreSQL process on the machine (the audit rows' inserts run in one of them)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


#: where a request's CPU time goes, besides the workers
CPU_PARTS = ("workers", "writer", "postgres", "wrk")


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
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of every app")
    parser.add_argument("--threads", type=int, nargs="+", default=[4],
                        help="threads per worker (1: the sync worker); several values: every app under each, in turn")
    args = parser.parse_args(argv)
    require_wrk()
    here = procs.ROOT
    trees = [Path(t).resolve() for t in (args.tree or [here])]
    workloads = [w for w in build_workloads(None) if w.name in args.workload]
    results: dict[tuple[str, str, int], list[LoadResult]] = {}
    #: CPU time per request, ms, per process group (CPU_PARTS): steadier than wall time on a shared machine
    cpu_ms: dict[tuple[str, str, int, str], list[float]] = {}
    with ExitStack() as stack:
        servers: dict[str, procs.Server] = {}
        #: the no-op each server is compared with: the one under the same gunicorn settings
        baseline: dict[str, str] = {}
        for threads in args.threads:
            suffix = f" t{threads}" if len(args.threads) > 1 else ""

            def start(name: str, app: str, env: dict[str, str], threads: int = threads, suffix: str = suffix) -> None:
                servers[name + suffix] = stack.enter_context(gunicorn(app, args.workers, env, threads=threads))
                baseline[name + suffix] = "noop" + suffix

            procs.ROOT = here
            start("noop", NOOP_APP, {})
            for tree in trees:
                database_url = stack.enter_context(pg_database_url())
                procs.ROOT = tree  # gunicorn's working directory: the service is imported from there
                env = service_env(database_url, None)
                if not args.no_service:
                    start(str(tree), SERVICE_APP, env)
                if args.layer:
                    # A module outside the tree's packages, so any tree (one without it too) can serve it.
                    shim = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                    shutil.copy(Path(__file__).with_name("layer_app.py"), shim)
                    start(f"{tree} layer", "layer_app:create_app()", env | {"PYTHONPATH": str(shim)})
        for server in servers.values():  # warm-up: imports, caches, pools
            for w in workloads:
                run_wrk(f"{server.url}/cds-services/{w.service_id}", w.body, 8, 1)
        for _ in range(args.rounds):
            for w in workloads:
                for c in args.concurrency:
                    for name, server in servers.items():
                        groups = {"workers": server.worker_pids(), "writer": server.helper_pids(),
                                  "postgres": postgres_pids()}
                        before = {part: cpu_seconds(pids) for part, pids in groups.items()}
                        before_system = cpu_seconds(groups["workers"], system_only=True)
                        r = run_wrk(f"{server.url}/cds-services/{w.service_id}", w.body, c, args.seconds)
                        per_request = max(r.requests, 1)
                        for part, pids in groups.items():
                            cpu_ms.setdefault((name, w.name, c, part), []).append(
                                (cpu_seconds(pids) - before[part]) * 1000 / per_request)
                        cpu_ms.setdefault((name, w.name, c, "wrk"), []).append(r.wrk_cpu_ms)
                        cpu_ms.setdefault((name, w.name, c, "workers, system"), []).append(
                            (cpu_seconds(groups["workers"], system_only=True) - before_system) * 1000 / per_request)
                        results.setdefault((name, w.name, c), []).append(r)
                        if r.non_2xx or r.socket_errors:
                            print(f"errors: {name} {w.name} c={c}: {r.non_2xx} non-2xx, {r.socket_errors} socket")
        rss = {name: s.worker_rss_mb() for name, s in servers.items()}
    procs.ROOT = here
    print(f"\n{args.rounds} rounds, wrk {args.seconds:g} s per cell, {args.workers} workers x "
          f"{'/'.join(map(str, args.threads))} threads; "
          "median of the rounds (range); ratios per round against the no-op's cell of the same round\n")
    print("| workload | c | app | req/s | p50 ms | p99 ms | rps/noop | p99/noop | CPU ms/req: "
          + " + ".join(CPU_PARTS) + " | of which workers' system |\n|---|---|---|---|---|---|---|---|---|---|")
    for w in workloads:
        for c in args.concurrency:
            for name in servers:
                base = results[(baseline[name], w.name, c)]
                rs = results[(name, w.name, c)]
                label = name if name.startswith("noop") else os.path.basename(name)
                rps = Spread([r.rps for r in rs]).text()
                p50 = Spread([r.p50_ms for r in rs]).text("{:.2f}")
                p99 = Spread([r.p99_ms for r in rs]).text("{:.2f}")
                ratio_rps = ratio_p99 = ""
                if name != baseline[name]:
                    ratio_rps = ratios([r.rps for r in rs], [b.rps for b in base]).text("{:.2f}", "x")
                    ratio_p99 = ratios([r.p99_ms for r in rs], [b.p99_ms for b in base]).text("{:.2f}", "x")
                parts = [Spread(cpu_ms[(name, w.name, c, part)]).median for part in CPU_PARTS]
                cpu = " + ".join(f"{v:.3f}" for v in parts) + f" = {sum(parts):.3f}"
                system = Spread(cpu_ms[(name, w.name, c, "workers, system")]).median
                print(f"| {w.name} | {c} | {label} | {rps} | {p50} | {p99} | {ratio_rps} | {ratio_p99} | {cpu} "
                      f"| {system:.3f} |")
    print("\nRSS per worker MB: " + ", ".join(f"{os.path.basename(k)} {v}" for k, v in rss.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
