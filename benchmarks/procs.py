"""Start and measure the processes under test: gunicorn apps, a PostgreSQL schema, RSS."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from service.demo import terminate, wait_healthy
from tests.integration.stores import PG_DSN, pg_schema, pg_url

ROOT = Path(__file__).resolve().parent.parent
#: The service, started exactly as in production: ``rituximab-cds serve`` (migrations once in the
#: master, the audit writer process, the same gunicorn settings and hooks).
SERVICE_APP = "service"
#: The baseline: a Flask no-op under ``serve``'s gunicorn settings, without the service's hooks.
NOOP_APP = "benchmarks.noop_app:app"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A gunicorn master on loopback, its workers and its helper processes (the audit writer)."""

    app: str
    url: str
    proc: subprocess.Popen[bytes]

    def _children(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []

    def worker_pids(self) -> list[int]:
        """gunicorn's workers: the master's children forked from it (same command line)."""
        master = _cmdline(self.proc.pid)
        return [pid for pid in self._children() if _cmdline(pid) == master]

    def helper_pids(self) -> list[int]:
        """The master's other children (the audit writer process)."""
        workers = set(self.worker_pids())
        return [pid for pid in self._children() if pid not in workers]

    def worker_rss_mb(self) -> list[float]:
        return [rss_mb(pid) for pid in self.worker_pids()]

    def memory_mb(self) -> dict[str, float]:
        """RSS of the master, of every worker and of the helpers; their sum; and the sum of their PSS.

        The RSS sum counts every page a forked worker shares with its master once per process;
        PSS shares such pages out, so its sum is the memory the server really takes."""
        pids = {"master": self.proc.pid} | {f"worker {i + 1}": pid for i, pid in enumerate(self.worker_pids())}
        pids |= {_name(pid): pid for pid in self.helper_pids()}
        parts = {name: rss_mb(pid) for name, pid in pids.items()}
        parts["sum of RSS"] = round(sum(parts.values()), 1)
        parts["sum of PSS"] = round(sum(pss_mb(pid) for pid in pids.values()), 1)
        return parts


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _name(pid: int) -> str:
    args = _cmdline(pid).split(b"\0")
    return args[2].decode().rsplit(".", 1)[-1] if len(args) > 2 and args[1] == b"-m" else str(pid)


def rss_mb(pid: int) -> float:
    """Resident set size of one process, from /proc (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def pss_mb(pid: int) -> float:
    """Proportional set size of one process (shared pages divided among their sharers), 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def server_command(app: str, port: int, workers: int, threads: int, setup: str = "") -> list[str]:
    """The server's command line; ``setup``: Python statements run in its master first (benchmarks.trace)."""
    if app == SERVICE_APP:
        args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                "--threads", str(threads)]
        if not setup:
            return [sys.executable, "-m", "service.cli", *args]
        return [sys.executable, "-c", f"{setup}\nfrom service.cli import main\nraise SystemExit(main({args!r}))"]
    code = f"from service.gunicorn_app import serve_app; serve_app({app!r}, '127.0.0.1', {port}, {workers}, {threads})"
    return [sys.executable, "-c", f"{setup}\n{code}" if setup else code]


@contextmanager
def gunicorn(app: str, workers: int, env: dict[str, str], threads: int = 4, setup: str = "") -> Iterator[Server]:
    """Run the service (``SERVICE_APP``) as ``rituximab-cds serve`` does, or another WSGI app
    ("module:attribute") with the same gunicorn settings (gthread, ``threads`` per worker);
    ``setup`` runs in the server's master before it starts (see :func:`server_command`)."""
    port = free_port()
    metrics_dir = tempfile.mkdtemp(prefix="bench-metrics-")
    full_env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir, **env}
    log = open(Path(tempfile.gettempdir()) / f"bench-{port}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(server_command(app, port, workers, threads, setup), cwd=ROOT, env=full_env,
                            stdout=log, stderr=log)
    server = Server(app, f"http://127.0.0.1:{port}", proc)
    try:
        wait_healthy(server.url, proc)
        while len(server.worker_pids()) < workers:
            time.sleep(0.05)
        yield server
    finally:
        terminate(proc, timeout=20)
        log.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)


@contextmanager
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for the service's audit/feedback store, dropped afterwards."""
    with pg_schema() as schema:
        yield pg_url(schema)


def count_rows(database_url: str, table: str) -> int:
    schema = database_url.rsplit("%3D", 1)[1]
    with psycopg.connect(PG_DSN) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()
    return int(row[0]) if row else 0
