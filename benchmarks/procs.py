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
SERVICE_APP = "service:create_app()"
NOOP_APP = "benchmarks.noop_app:app"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A gunicorn master on loopback."""

    app: str
    url: str
    proc: subprocess.Popen[bytes]

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []

    def worker_rss_mb(self) -> list[float]:
        return [rss_mb(pid) for pid in self.worker_pids()]


def rss_mb(pid: int) -> float:
    """Resident set size of one process, from /proc (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


@contextmanager
def gunicorn(app: str, workers: int, env: dict[str, str], threads: int = 4) -> Iterator[Server]:
    """Run ``app`` under gunicorn with the service's production worker settings
    (gthread, 4 threads per worker, as ``rituximab-cds serve``)."""
    port = free_port()
    metrics_dir = tempfile.mkdtemp(prefix="bench-metrics-")
    full_env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir, **env}
    log = open(Path(tempfile.gettempdir()) / f"bench-{port}.log", "wb")  # noqa: SIM115 - closed below
    cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
           "--threads", str(threads), "--worker-class", "gthread", "--keep-alive", "5",
           "--timeout", "60", app]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log, stderr=log)
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
