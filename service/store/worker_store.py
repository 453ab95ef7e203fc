"""A gunicorn worker's store under ``rituximab-cds serve``.

Audit entries go to the server's audit writer process (audit_writer.py) over
the audit channel: the worker never loads SQLAlchemy or psycopg for them.
Feedback and the override report need the database's own answer (stored? 503?),
so they go through a Store made on their first call, which loads the database
libraries in that worker only then.  The schema is the master's business: it
ran the migrations before the workers started.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from service.settings import Settings
from service.store.audit import AuditEntry, AuditFailures, encode_entry
from service.store.audit_channel import AuditSender

if TYPE_CHECKING:
    from service.store.feedback import FeedbackResult
    from service.store.store import Store


class WorkerStore(AuditFailures):
    def __init__(self, settings: Settings, audit_socket: str) -> None:
        super().__init__()
        self._settings = settings
        self._lock = threading.Lock()
        self._database: Store | None = None
        self._sender = AuditSender(audit_socket, self.count_failure)
        # audit_failures counts the entries this worker could not hand to the writer
        # (the writer counts its own failures)

    # --- audit: to the writer process ---

    def record_audit(self, entry: AuditEntry) -> None:
        """Send the entry to the writer; never raises, never blocks the response."""
        self._sender.send(encode_entry(entry))

    def flush(self, timeout: float = 10) -> None:
        """Nothing waits here: the writer process holds the queue."""

    # --- what needs the database's answer: a Store of this worker, made on first use ---

    @property
    def database(self) -> Store:
        with self._lock:
            if self._database is None:
                from service.store.store import Store

                self._database = Store.from_settings(self._settings)
            return self._database

    def record_feedback(self, service_id: str, items: list[dict[str, Any]]) -> FeedbackResult:
        return self.database.record_feedback(service_id, items)

    def override_report(self, since: datetime | None = None) -> list[dict[str, Any]]:
        return self.database.override_report(since)

    def healthy(self) -> bool:
        return self.database.healthy()

    def count(self, model: type[Any]) -> int:
        return self.database.count(model)

    def close(self) -> None:
        self._sender.close()
        with self._lock:
            database, self._database = self._database, None
        if database is not None:
            database.close()
