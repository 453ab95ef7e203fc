"""The audit writer process of one ``rituximab-cds serve``: the only holder of the audit database.

The gunicorn master starts it before the workers (``AuditWriterProcess``);
each worker sends it entries over the audit channel.  It writes them exactly
as the in-process writer does (``Store.record_audit``: batched, bounded queue,
a frozen database cut off by the deadline, every lost entry counted), so
SQLAlchemy and psycopg are loaded once per server instead of once per worker.
It stops on SIGTERM/SIGINT or when the master that started it is gone,
writing what it has queued first.

Run by the master as ``python -m service.store.audit_writer SOCKET_PATH``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

log = logging.getLogger(__name__)

#: how long the master waits for a (re)started writer to listen
START_SECONDS = 20.0
#: a writer that keeps dying is restarted at most this often
RESTART_SECONDS = 5.0


def _failure_counter() -> Any:
    """The workers' ``cds_audit_write_failures_total``, counted here too (summed by /metrics)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    from prometheus_client import Counter

    from service.store.audit import AUDIT_FAILURES_METRIC

    return Counter(*AUDIT_FAILURES_METRIC)


def main(argv: list[str] | None = None) -> int:
    from service.log_format import configure_logging
    from service.settings import Settings
    from service.store.audit import decode_entry
    from service.store.audit_channel import AuditListener
    from service.store.store import Store

    (path,) = sys.argv[1:] if argv is None else argv
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    store = Store.from_settings(settings)
    counter = _failure_counter()
    if counter is not None:
        store.failure_listeners.append(counter.inc)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    master = os.getppid()

    def handle(message: bytes) -> None:
        try:
            entry = decode_entry(message)
        except (ValueError, TypeError, KeyError):
            store.count_failure("undecodable audit message")
            return
        store.record_audit(entry)

    listener = AuditListener(path)
    try:
        listener.serve(handle, lambda: not stopping.is_set() and os.getppid() == master)
    finally:
        listener.close()
        store.close()  # writes what is queued
    return 0


class AuditWriterProcess:
    """The master's handle on the writer: start it, start it again if it died, stop it."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = 0.0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        """Start the writer and wait until it listens (entries sent before that would be dropped)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        self._started = time.monotonic()
        # A session of its own: a Ctrl-C at the terminal reaches the master and the workers, and the
        # writer stops only after them (on_exit), so their last entries are still written.
        self._proc = subprocess.Popen([sys.executable, "-m", "service.store.audit_writer", self.socket_path],
                                      start_new_session=True)
        deadline = self._started + START_SECONDS
        while not os.path.exists(self.socket_path) and self._proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if not os.path.exists(self.socket_path):
            log.error("the audit writer did not start; audit entries are dropped and counted until it does")

    def ensure_running(self) -> None:
        """Restart a writer that exited (the master calls this about once a second)."""
        if self._proc is None or self._proc.poll() is None:
            return
        if time.monotonic() - self._started < RESTART_SECONDS:
            return
        log.error("the audit writer exited; starting it again", extra={"exit_code": self._proc.returncode})
        self.start()

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (the writer writes what it has queued), SIGKILL past ``timeout``."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
