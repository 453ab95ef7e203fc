"""The HTTP layer's own cost: the service with the rules replaced by a fixed answer, vs the Flask no-op.

``python -m benchmarks.layer [--calls N] [--workload NAME] [--log-level L]``
calls each WSGI app directly (no socket, no gunicorn), with the environ a
gunicorn worker would build for wrk's POST.  In the service, ``handle_hook``
returns the workload's real outcome, computed once (benchmarks.layer_app), so everything between
the socket and the rules is there: request context and hooks, body read and
depth check, audit entry and its send to the audit writer (over the audit
channel, as under ``serve``: a sink process receives and discards the
entries; their database work is the writer's, not the layer's), metrics
(multi-process mode, as under ``serve``), the answer's JSON, Server-Timing,
the request log.  The difference from the no-op is the layer's cost per call.

Counted twice: instructions (valgrind callgrind, N calls minus the warm-up
alone, as benchmarks.instructions) and wall time in process (median of
rounds).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("noop", "service")

_CHILD = r"""
import io, json, logging, os, sys, tempfile, time
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="layer-metrics-"))
from benchmarks.layer import build_app, environ_for
app_name, workload, calls, mode, level = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
app, path, raw = build_app(app_name, workload, level)
def call():
    out = []
    it = app(environ_for(path, raw), lambda status, headers, exc_info=None: out.append(status))
    try:
        for _ in it:
            pass
    finally:
        getattr(it, "close", lambda: None)()
    assert out[0].startswith("200"), out
for _ in range(200):
    call()
if mode == "time":
    rounds = []
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(calls):
            call()
        rounds.append((time.perf_counter() - t) / calls * 1e6)
    print(json.dumps(sorted(rounds)[3]))
else:
    for _ in range(calls):
        call()
"""


def environ_for(path: str, raw: bytes) -> dict[str, object]:
    """The WSGI environ gunicorn's gthread worker builds for wrk's POST (keep-alive, loopback)."""
    import io

    return {
        "REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "RAW_URI": path, "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000", "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)), "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(raw),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True,
        "wsgi.run_once": False, "wsgi.input_terminated": True,
    }


def build_app(app_name: str, workload: str, log_level: str = "WARNING") -> tuple[object, str, bytes]:
    """(WSGI app, path, body) for ``noop`` or ``service`` (rules replaced by the real outcome)."""
    from benchmarks.workloads import build_workloads

    w = next(w for w in build_workloads(None) if w.name == workload)
    path = f"/cds-services/{w.service_id}"
    raw = json.dumps(w.body).encode()
    if app_name == "noop":
        from benchmarks.noop_app import app as noop

        return noop, path, raw
    from benchmarks.layer_app import create_app
    from service.settings import Settings

    app = create_app(Settings.from_env({"CDS_JWT_REQUIRED": "false", "CDS_DATABASE_URL": "sqlite://",
                                        "CDS_LOG_LEVEL": log_level, "CDS_AUDIT_SOCKET": audit_sink()}))
    # The metrics' once-a-second flush: a run under callgrind lasts minutes, and the flushes it made
    # (a share that grew with the machine's load) counted as per-call work, +-40 K a call from run to
    # run; serving 500 calls a second, a flush is well under 1 K a call.
    from service import metrics

    metrics.PENDING.interval = 3600
    if log_level != "WARNING":
        import logging

        for handler in logging.getLogger().handlers:
            if getattr(handler, "_cds", False) and isinstance(handler, logging.StreamHandler):
                handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - the formatting is measured, not the tty
    return app, path, raw


_SINK = r"""
import sys
from service.store.audit_channel import AuditListener
AuditListener(sys.argv[1]).serve(lambda message: None, lambda: True)
"""


def audit_sink() -> str:
    """The path of an audit channel whose listener (a process of its own, not counted) discards every
    entry: the worker side of the audit, as under ``serve``, without the writer's database work."""
    import atexit
    import time

    path = str(Path(tempfile.mkdtemp(prefix="layer-audit-")) / "audit.sock")
    sink = subprocess.Popen([sys.executable, "-c", _SINK, path], cwd=ROOT)
    atexit.register(sink.kill)
    while not os.path.exists(path):
        time.sleep(0.01)
    return path


def _run(app_name: str, workload: str, calls: int, mode: str, level: str, valgrind: bool) -> str:
    cmd = [sys.executable, "-c", _CHILD, app_name, workload, str(calls), mode, level]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        if valgrind:
            cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *cmd]
        proc = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": "0"})
        if not valgrind:
            return proc.stdout.strip()
        match = re.search(r"^summary:\s+(\d+)", out.read_text(), re.MULTILINE)
        if not match:
            raise RuntimeError("no callgrind summary")
        return match.group(1)


def instructions(app_name: str, workload: str, calls: int, level: str = "WARNING") -> int:
    """Instructions of one call: (warm-up + calls) minus warm-up alone, over calls."""
    full = int(_run(app_name, workload, calls, "count", level, True))
    base = int(_run(app_name, workload, 0, "count", level, True))
    return (full - base) // calls


def microseconds(app_name: str, workload: str, calls: int, level: str = "WARNING") -> float:
    return float(_run(app_name, workload, calls, "time", level, False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.layer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="calls counted under callgrind")
    parser.add_argument("--workload", default="seed-b order-sign")
    parser.add_argument("--log-level", default="WARNING", help="the service's log level (bench: WARNING)")
    parser.add_argument("--no-valgrind", action="store_true", help="wall time only")
    args = parser.parse_args(argv)
    rows: dict[str, dict[str, float]] = {}
    for app_name in APPS:
        level = args.log_level if app_name == "service" else "WARNING"
        rows[app_name] = {"us": microseconds(app_name, args.workload, 2000, level)}
        if not args.no_valgrind:
            rows[app_name]["instructions"] = instructions(app_name, args.workload, args.calls, level)
    print(f"| app ({args.workload}, service log level {args.log_level}) | instructions per call | "
          "us per call (in process) |\n|---|---|---|")
    for app_name, r in rows.items():
        n = r.get("instructions")
        print(f"| {app_name} | {n / 1e3 if n else 0:.0f} K | {r['us']:.1f} |")
    if "instructions" in rows["noop"]:
        extra = rows["service"]["instructions"] - rows["noop"]["instructions"]
        extra_us = rows["service"]["us"] - rows["noop"]["us"]
        print(f"| service - noop (the layer) | {extra / 1e3:.0f} K | {extra_us:.1f} |")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
