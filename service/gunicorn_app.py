"""Run the service under gunicorn from Python (``rituximab-cds serve``).

gunicorn answers some malformed requests itself, before the app sees them
(400 bad request line, 431 header fields too large, 414 URI too long), with
an HTML page.  It has no setting for that, so :func:`json_error` replaces its
error writer in the master before the workers fork: every answer is JSON.
gunicorn has no header or body read timeout; put a buffering proxy in front
(``deploy/nginx/``, docs/deployment.md).

Before the workers start, the master runs the database migrations once in a
short-lived process (``rituximab-cds db upgrade``) and starts the audit writer
process (service/store/audit_writer.py), which it restarts if it dies: the
workers neither migrate nor load the database libraries to write the audit.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

log = logging.getLogger(__name__)


#: bound on the start-up migration (Alembic + a schema lock wait); past it the service starts anyway
MIGRATE_TIMEOUT_SECONDS = 120


class GunicornService(BaseApplication):  # type: ignore[misc,unused-ignore]
    def __init__(self, options: dict[str, Any], app: str | None = None,
                 supervise: Callable[[], None] | None = None) -> None:
        self.options = options
        #: "module:attribute" of another WSGI app to serve with the same options (the benchmark's no-op)
        self.app_uri = app
        #: called by the master about once a second (restarts the audit writer if it died)
        self.supervise = supervise
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key.lower(), value)

    def load(self) -> Any:
        if self.app_uri:
            return gunicorn_util.import_app(self.app_uri)
        # Each worker builds its own app (no shared state besides PostgreSQL/Redis and the audit writer).
        from service import create_app

        return create_app()

    def run(self) -> None:
        _SupervisingArbiter(self).run()


class _SupervisingArbiter(Arbiter):
    """gunicorn's master loop, which also keeps the audit writer running."""

    def manage_workers(self) -> None:
        supervise = getattr(self.app, "supervise", None)
        if supervise is not None:
            supervise()
        super().manage_workers()


def _child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``util.write_error``, with the service's JSON error body instead of HTML."""
    body = json.dumps({"error": reason.lower().replace(" ", "_"), "message": mesg or reason}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)


def share_between_workers(env: MutableMapping[str, str]) -> None:
    """What the workers of one ``serve`` must share, set in the master before they fork."""
    # Metrics of all workers are aggregated through files in this folder; it must be
    # set before any worker imports prometheus_client.
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="rituximab-cds-metrics-")
    # Without Redis the workers share the JWT replay cache (and the course-review sessions) through
    # a directory: with one cache per worker, a token refused as a replay by one worker was accepted
    # by the next.
    if not env.get("CDS_REDIS_URL") and not env.get("CDS_REPLAY_CACHE_DIR"):
        env["CDS_REPLAY_CACHE_DIR"] = tempfile.mkdtemp(prefix="rituximab-cds-replay-")
    # One course-review cookie key for every worker: with a key per worker, a launch signed by one
    # worker was refused by the next.  Set CDS_APP_SECRET_KEY so sessions also survive a restart.
    if not env.get("CDS_APP_SECRET_KEY"):
        env["CDS_APP_SECRET_KEY"] = secrets.token_urlsafe(32)
        log.warning("CDS_APP_SECRET_KEY is not set: course-review sessions use a key made for this run "
                    "(shared by its workers; they end at restart)")
    # The workers send their audit entries to the writer process listening here.
    if not env.get("CDS_AUDIT_SOCKET"):
        env["CDS_AUDIT_SOCKET"] = str(Path(tempfile.mkdtemp(prefix="rituximab-cds-audit-")) / "audit.sock")


def worker_options(host: str, port: int, workers: int, threads: int = 4, timeout: int = 30) -> dict[str, Any]:
    """gunicorn settings of ``serve`` (the benchmark's no-op runs with the same)."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "timeout": timeout,
        "accesslog": None,  # our own structured log line per request
        "errorlog": "-",
        "keepalive": 5,
        # Each worker listens on a socket of its own (SO_REUSEPORT), and the kernel spreads new
        # connections over them.  On one shared socket, the worker whose main thread woke first
        # accepted a burst of connections alone; kept alive, they stayed there, and 8 connections
        # opened at once were all served by one worker (one GIL) while the other idled
        # (benchmarks/RESULTS.md: throughput at 8 connections then varied 2.5x from run to run).
        "reuse_port": True,
    }


def migrate_schema() -> None:
    """Upgrade the database schema once, in a process of its own (Alembic's pages leave with it)."""
    try:
        done = subprocess.run([sys.executable, "-m", "service.cli", "db", "upgrade"], check=False,
                              timeout=MIGRATE_TIMEOUT_SECONDS, stdout=subprocess.DEVNULL)
        failed = done.returncode != 0
    except subprocess.TimeoutExpired:
        failed = True
    if failed:  # as before: start without the store rather than not at all
        log.error("database migration at start-up failed; audit and feedback will fail until it is reachable")


#: glibc malloc arenas per process under ``serve`` (unless MALLOC_ARENA_MAX is set)
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt parameter number (glibc malloc.h)


def limit_malloc_arenas(env: MutableMapping[str, str]) -> None:
    """At most ``MALLOC_ARENAS`` malloc arenas in this process, the workers it forks and the processes it starts.

    glibc gives threads that allocate at the same time arenas of their own (up to 8 per core),
    and memory freed in one arena is not reused by the others: with 4 request threads a worker
    held about 3 MB more after 50,000 calls (benchmarks/RESULTS.md).  Python code allocates under
    the GIL, so its threads seldom contend for an arena.  A MALLOC_ARENA_MAX already in the
    environment was applied by glibc at start and is left alone."""
    if env.get("MALLOC_ARENA_MAX"):
        return
    env["MALLOC_ARENA_MAX"] = str(MALLOC_ARENAS)  # read by glibc at the start of the processes started from here
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, MALLOC_ARENAS)  # this process, inherited by forked workers
    except (OSError, AttributeError):  # not glibc: its allocator has its own policy
        pass


def serve(host: str, port: int, workers: int, threads: int = 4, timeout: int = 30) -> None:
    from service.store.audit_writer import AuditWriterProcess

    share_between_workers(os.environ)
    limit_malloc_arenas(os.environ)
    migrate_schema()
    writer = AuditWriterProcess(os.environ["CDS_AUDIT_SOCKET"])
    writer.start()
    gunicorn_util.write_error = json_error  # inherited by every forked worker
    options = worker_options(host, port, workers, threads, timeout)
    options |= {"child_exit": _child_exit, "on_exit": lambda _arbiter: writer.stop()}
    try:
        GunicornService(options, supervise=writer.ensure_running).run()
    finally:
        writer.stop()


def serve_app(app: str, host: str, port: int, workers: int, threads: int = 4) -> None:
    """Serve another WSGI app ("module:attribute") with ``serve``'s worker settings (benchmarks)."""
    limit_malloc_arenas(os.environ)
    GunicornService(worker_options(host, port, workers, threads), app=app).run()
