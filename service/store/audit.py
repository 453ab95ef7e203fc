"""What one audit row says, and its wire form between a worker and the audit writer process.

No SQLAlchemy here: a gunicorn worker builds entries and sends them to the writer
process (service/store/audit_channel.py) without loading the database libraries.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

log = logging.getLogger(__name__)

#: the lost-entry counter, counted by the workers (service/metrics.py) and by the audit writer
#: process (which has no Flask, so no service.metrics): one name and help, summed by /metrics
AUDIT_FAILURES_METRIC = ("cds_audit_write_failures_total", "Audit rows that could not be written")


class StoreUnavailable(Exception):
    """The database cannot be reached (feedback -> 503)."""


class AuditFailures:
    """Audit entries lost by one store: counted, logged (the reason only), and told to listeners
    (the metrics).  Both stores, the worker's and the database's, count the same way."""

    def __init__(self) -> None:
        self._failure_lock = threading.Lock()
        self.audit_failures = 0
        self.failure_listeners: list[Any] = []

    def count_failure(self, reason: str) -> None:
        """One audit entry lost."""
        with self._failure_lock:
            self.audit_failures += 1
        log.error("audit write failed", extra={"reason": reason})
        for listener in self.failure_listeners:
            listener()


@dataclass
class AuditEntry:
    service_id: str
    status: int
    hook: str | None = None
    hook_instance: str | None = None
    patient_ref: str | None = None
    latency_ms: float | None = None
    fhir_queries: int = 0
    fhir_ms: float | None = None
    data_origins: dict[str, str] | None = None
    #: [{"uuid", "topic", "indicator", "rules": [{"id", "version"}]}]
    cards: list[dict[str, Any]] = field(default_factory=list)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))


def encode_entry(entry: AuditEntry) -> bytes:
    """One entry as one message: JSON, the time in RFC 3339 with its offset.

    orjson writes the dataclass and its datetime itself: ``dataclasses.asdict`` deep-copies every
    card and cost a worker about 110 µs per call."""
    return orjson.dumps(entry)


def decode_entry(message: bytes) -> AuditEntry:
    """The entry of one message; ValueError/TypeError/KeyError if it is not one."""
    fields = orjson.loads(message)  # orjson.JSONDecodeError is a ValueError
    if not isinstance(fields, dict):
        raise ValueError("an audit message is a JSON object")
    fields["time"] = datetime.fromisoformat(fields["time"])
    return AuditEntry(**fields)
