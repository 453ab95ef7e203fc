"""Under ``rituximab-cds serve`` the audit goes through one writer process, on the real PostgreSQL.

The workers hand their entries to the writer over a Unix socket and never load
the database libraries for it; a killed or frozen writer costs audit rows
(counted), never a hook call; the master starts a killed writer again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from benchmarks.procs import Server, free_port
from service.demo import terminate, wait_healthy
from tests.integration.stores import pg_schema, pg_url
from tests.integration.test_store_http import seed_request

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SIGN = "/cds-services/rituximab-order-sign"


@contextmanager
def served(tmp_path: Path, database_url: str, workers: int = 2) -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, "CDS_JWT_REQUIRED": "false", "CDS_DATABASE_URL": database_url,
           "CDS_LOG_LEVEL": "WARNING", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    (tmp_path / "metrics").mkdir()
    for name in ("CDS_AUDIT_SOCKET", "CDS_REDIS_URL", "CDS_REPLAY_CACHE_DIR"):
        env.pop(name, None)
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", str(workers)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server("service", f"http://127.0.0.1:{port}", proc)
    try:
        wait_healthy(server.url, proc)
        wait_until(lambda: len(server.worker_pids()) == workers and len(server.helper_pids()) == 1)
        yield server
    finally:
        terminate(proc, timeout=20)


def wait_until(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)


def audit_rows(database_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one())
    finally:
        engine.dispose()


def call(server: Server, n: int) -> list[int]:
    body = seed_request()
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda _: requests.post(server.url + SIGN, json=body, timeout=10).status_code, range(n)))


def failures_counted(server: Server) -> float:
    metrics = requests.get(server.url + "/metrics", timeout=10).text
    lines = [ln for ln in metrics.splitlines() if ln.startswith("cds_audit_write_failures_total ")]
    return float(lines[0].split()[1]) if lines else 0.0


def loaded_database_libraries(pid: int) -> set[str]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {lib for lib in ("sqlalchemy", "psycopg") if f"/{lib}" in maps}


def test_rows_land_through_the_writer_and_the_workers_hold_no_database_library(tmp_path):
    with pg_schema() as schema, served(tmp_path, pg_url(schema)) as server:
        assert call(server, 40) == [200] * 40
        wait_until(lambda: audit_rows(pg_url(schema)) == 40)  # the master migrated: the tables exist
        for worker in server.worker_pids():
            assert loaded_database_libraries(worker) == set()
        assert loaded_database_libraries(server.proc.pid) == set()
        (writer,) = server.helper_pids()
        assert loaded_database_libraries(writer) == {"sqlalchemy", "psycopg"}
        assert failures_counted(server) == 0


def test_a_killed_writer_fails_no_call_counts_the_lost_rows_and_is_started_again(tmp_path):
    with pg_schema() as schema, served(tmp_path, pg_url(schema)) as server:
        url = pg_url(schema)
        assert call(server, 10) == [200] * 10
        wait_until(lambda: audit_rows(url) == 10)
        (writer,) = server.helper_pids()
        os.kill(writer, signal.SIGKILL)
        wait_until(lambda: writer not in server.helper_pids(), 5)
        assert call(server, 20) == [200] * 20  # while it is gone (the master restarts it after a few seconds)
        assert failures_counted(server) > 0
        wait_until(lambda: len(server.helper_pids()) == 1 and server.helper_pids()[0] != writer)
        before = audit_rows(url)

        def rows_land_again() -> bool:  # once the new writer listens and the workers reconnect
            assert call(server, 5) == [200] * 5
            time.sleep(0.3)
            return audit_rows(url) > before

        wait_until(rows_land_again, 60)


def test_a_frozen_writer_blocks_no_call(tmp_path):
    with pg_schema() as schema, served(tmp_path, pg_url(schema)) as server:
        url = pg_url(schema)
        assert call(server, 5) == [200] * 5
        wait_until(lambda: audit_rows(url) == 5)
        (writer,) = server.helper_pids()
        os.kill(writer, signal.SIGSTOP)
        try:
            # More entries than the socket buffers of two workers hold; each call has 10 s.
            assert call(server, 600) == [200] * 600
            assert failures_counted(server) > 0
        finally:
            os.kill(writer, signal.SIGCONT)
        wait_until(lambda: audit_rows(url) > 5)  # what the buffers held is written once it runs again
