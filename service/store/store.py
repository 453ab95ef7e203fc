"""The Store: audit, feedback, override report, retention."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, delete, event, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from service.store.audit import AuditEntry, AuditFailures, StoreUnavailable
from service.store.batch_writer import BatchWriter
from service.store.deadline import DatabaseDeadline
from service.store.feedback import FeedbackResult, dedupe_key
from service.store.models import AuditCard, AuditEvent, Feedback

log = logging.getLogger(__name__)

__all__ = ["AuditEntry", "Store", "StoreUnavailable", "make_engine"]


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def storable(value: str | None, length: int | None) -> tuple[str | None, bool]:
    """(value safe for a String(length) column, whether it had to change).

    PostgreSQL refuses NUL in text and values over a column's length; the whole
    audit row would be lost.  The row is kept instead, with the value cut and
    control characters replaced, and flagged so nobody mistakes it for the original.
    """
    if value is None:
        return None, False
    safe = _CONTROL.sub("\ufffd", value)
    if length is not None and len(safe) > length:
        safe = safe[:length]
    return safe, safe != value


def _audit_cards(entry: AuditEntry) -> list[dict[str, Any]]:
    """The audit_card rows of one entry (without their event id)."""
    rows = []
    for card in entry.cards:
        rules = card.get("rules") or [{"id": "unknown", "version": "0"}]
        rows.append({
            "card_uuid": card["uuid"], "topic": card["topic"], "indicator": card["indicator"],
            "rule_id": rules[0]["id"], "rule_version": str(rules[0]["version"]),
            "rules": ",".join(f"{r['id']}@{r['version']}" for r in rules),
        })
    return rows


def _audit_length(column: str) -> int | None:
    return getattr(AuditEvent.__table__.c[column].type, "length", None)


def normalize_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite://", "sqlite:///:memory:")
        # One shared connection for an in-memory database, or every thread would see its own empty one.
        extra: dict[str, Any] = {"poolclass": StaticPool} if in_memory else {}
        return create_engine(url, connect_args={"timeout": 5, "check_same_thread": False}, pool_pre_ping=True,
                             **extra)
    # No pool_pre_ping: DatabaseDeadline pings at checkout, where its timer can cut a silent server off.
    # connect_timeout 2 s is libpq's minimum; pool_timeout bounds the wait for a free connection.
    engine = create_engine(url, pool_size=5, max_overflow=5, pool_timeout=1,
                           connect_args={"connect_timeout": 2})

    @event.listens_for(engine, "connect")
    def _bounded_statements(dbapi_conn: Any, _record: Any) -> None:
        # Set per connection (not via the URL's "options", which deployments use for search_path).
        with dbapi_conn.cursor() as cur:
            cur.execute("SET statement_timeout = 5000")
        dbapi_conn.commit()

    return engine


#: Client-side bounds (seconds) on one unit of database work (see service/store/deadline.py).
FEEDBACK_SECONDS = 2.0  # default of CDS_DATABASE_TIMEOUT_SECONDS: feedback's 503 + Retry-After comes this soon
AUDIT_BATCH_SECONDS = 5.0
REPORT_SECONDS = 10.0
MIGRATE_SECONDS = 30.0
#: An audit row waits at most this long for others to share its transaction: under load one commit
#: per call cost about a millisecond of each call's latency (benchmarks/RESULTS.md); a row is
#: still written within a tenth of a second.
AUDIT_LINGER_SECONDS = 0.1

#: audit_event's columns as COPY sends them (id first, data_origins last: JSON text)
_EVENT_COLUMNS = ("id", "created_at", "service_id", "hook", "hook_instance", "patient_ref", "identifiers_sanitised",
                  "status", "latency_ms", "fhir_queries", "fhir_ms", "data_origins")
_CARD_COLUMNS = ("event_id", "card_uuid", "topic", "indicator", "rule_id", "rule_version", "rules")
_NEXT_EVENT_IDS = "SELECT nextval(pg_get_serial_sequence('audit_event', 'id')) FROM generate_series(1, %s)"
_COPY_EVENTS = f"COPY audit_event ({', '.join(_EVENT_COLUMNS)}) FROM STDIN"
_COPY_CARDS = f"COPY audit_card ({', '.join(_CARD_COLUMNS)}) FROM STDIN"


class Store(AuditFailures):
    def __init__(self, engine: Engine, patient_hash_key: str = "", timeout_seconds: float = FEEDBACK_SECONDS) -> None:
        super().__init__()
        self.engine = engine
        #: bound on a feedback write or health check (audit batches and reports get longer ones)
        self.timeout_seconds = timeout_seconds
        # SQLite is a local file with its own busy timeout; only a networked server can go silent.
        self._deadline = DatabaseDeadline(engine) if engine.dialect.name == "postgresql" else None
        self.patient_hash_key = patient_hash_key.encode()
        #: psycopg's errors where audit rows go by COPY (PostgreSQL through psycopg 3), else none
        self._driver_errors: tuple[type[Exception], ...] = ()
        if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
            import psycopg

            self._driver_errors = (psycopg.Error,)
        self._writer: BatchWriter[AuditEntry] = BatchWriter(self._write_audit_batch, self.count_failure,
                                                            name="audit-writer", linger_seconds=AUDIT_LINGER_SECONDS)
        atexit.register(self.close)

    @classmethod
    def from_settings(cls, settings: Any) -> Store:
        return cls(make_engine(settings.database_url), settings.audit_patient_hash_key,
                   settings.database_timeout_seconds)

    # --- schema ---

    def _limit(self, seconds: float) -> contextlib.AbstractContextManager[None]:
        return self._deadline.limit(seconds) if self._deadline else contextlib.nullcontext()

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration (Alembic ``upgrade head``).

        Alembic is imported here only: under ``serve`` this runs once, in a short-lived process
        (``rituximab-cds db upgrade``), so no long-lived process carries its pages."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self._limit(MIGRATE_SECONDS), self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def healthy(self) -> bool:
        try:
            with self._limit(self.timeout_seconds), self.engine.connect() as conn:
                conn.execute(select(1))
            return True
        except SQLAlchemyError:
            return False

    # --- audit ---

    def patient_reference(self, patient_id: str | None) -> str | None:
        if patient_id is None or not self.patient_hash_key:
            return patient_id
        return "hmac-sha256:" + hmac.new(self.patient_hash_key, patient_id.encode(), hashlib.sha256).hexdigest()

    def record_audit(self, entry: AuditEntry) -> None:
        """Queue the audit write; never raises, never blocks the response."""
        self._writer.submit(entry)

    def flush(self, timeout: float = 10) -> None:
        """Wait for queued audit writes (tests, shutdown)."""
        self._writer.flush(timeout)

    def _write_audit_batch(self, entries: list[AuditEntry]) -> None:
        """All queued entries in one transaction; if that fails, one by one (each failure counted)."""
        write = self._copy_audit_rows if self._driver_errors else self._insert_audit_rows
        errors: tuple[type[Exception], ...] = (SQLAlchemyError, *self._driver_errors)
        try:
            with self._limit(AUDIT_BATCH_SECONDS), self.engine.begin() as conn:
                write(conn, entries)
            return
        except errors as exc:
            if len(entries) == 1:
                self.count_failure(type(exc).__name__)
                return
        for entry in entries:
            self._write_audit_batch([entry])

    def _insert_audit_rows(self, conn: Connection, entries: list[AuditEntry]) -> None:
        """Two multi-row INSERTs (events, returning their ids; then their cards) rather than ORM
        objects: this thread shares the GIL with the hooks, and the ORM's unit of work cost
        about 0.5 ms of CPU per audited call."""
        events = [self._audit_row(e) for e in entries]
        ids = conn.execute(insert(AuditEvent).returning(AuditEvent.id, sort_by_parameter_order=True),
                           events).scalars().all()
        cards = [card | {"event_id": event_id}
                 for entry, event_id in zip(entries, ids, strict=True) for card in _audit_cards(entry)]
        if cards:
            conn.execute(insert(AuditCard), cards)

    def _copy_audit_rows(self, conn: Connection, entries: list[AuditEntry]) -> None:
        """PostgreSQL: the events' ids drawn from their sequence, then both tables by COPY.

        The multi-row INSERTs cost the writer about 1,070 K instructions per entry (batches of 40
        entries of 5 cards), much of it psycopg splitting the statement's text anew for every
        batch (a statement of more than 50 parameters is not cached) and SQLAlchemy building it;
        COPY sends the rows as data (356 K per entry, benchmarks/audit_writer_cost.py)."""
        driver: Any = conn.connection.driver_connection  # psycopg.Connection
        cursor = driver.cursor()
        try:
            cursor.execute(_NEXT_EVENT_IDS, (len(entries),))
            ids = [event_id for (event_id,) in cursor.fetchall()]
            with cursor.copy(_COPY_EVENTS) as copy:
                for event_id, entry in zip(ids, entries, strict=True):
                    row = self._audit_row(entry)
                    origins = row["data_origins"]
                    copy.write_row((event_id, *(row[c] for c in _EVENT_COLUMNS[1:-1]),
                                    None if origins is None else orjson.dumps(origins).decode()))
            with cursor.copy(_COPY_CARDS) as copy:
                for event_id, entry in zip(ids, entries, strict=True):
                    for card in _audit_cards(entry):
                        copy.write_row((event_id, *(card[c] for c in _CARD_COLUMNS[1:])))
        except self._driver_errors:
            if cursor.connection.broken:
                conn.invalidate()  # the deadline cut its socket, or the server went: never pool it again
            raise
        finally:
            cursor.close()

    def _audit_row(self, entry: AuditEntry) -> dict[str, Any]:
        hook_instance, cut_instance = storable(entry.hook_instance, _audit_length("hook_instance"))
        patient_ref, cut_patient = storable(self.patient_reference(entry.patient_ref), _audit_length("patient_ref"))
        return {
            "created_at": entry.time, "service_id": entry.service_id, "hook": entry.hook,
            "hook_instance": hook_instance, "patient_ref": patient_ref,
            "identifiers_sanitised": cut_instance or cut_patient,
            "status": entry.status, "latency_ms": entry.latency_ms, "fhir_queries": entry.fhir_queries,
            "fhir_ms": entry.fhir_ms, "data_origins": entry.data_origins,
        }

    # --- feedback ---

    def record_feedback(self, service_id: str, items: list[dict[str, Any]]) -> FeedbackResult:
        """Store validated feedback idempotently; StoreUnavailable if the database is down."""
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        stored = unknown = 0
        try:
            with self._limit(self.timeout_seconds), Session(self.engine) as session, session.begin():
                cards = [item["card"] for item in items]
                known = set(session.scalars(select(AuditCard.card_uuid).where(AuditCard.card_uuid.in_(cards))))
                for item in items:
                    reason = item.get("overrideReason") or {}
                    coding = reason.get("reason") or {}
                    row = {
                        "dedupe_key": dedupe_key(service_id, item), "service_id": service_id,
                        "card_uuid": item["card"], "outcome": item["outcome"],
                        "outcome_timestamp": item["outcomeTimestamp"],
                        "accepted_suggestions": sorted(s["id"] for s in item.get("acceptedSuggestions") or []) or None,
                        # Codes only: display and userComment are free text (counted, never stored).
                        "override_system": coding.get("system"), "override_code": coding.get("code"),
                        "has_comment": bool(reason.get("userComment")),
                        "known_card": item["card"] in known, "received_at": datetime.now(UTC),
                    }
                    # RETURNING tells whether the row was new (rowcount is -1 with some drivers).
                    inserted = session.execute(insert(Feedback).values(**row).on_conflict_do_nothing(
                        index_elements=["dedupe_key"]).returning(Feedback.id)).first()
                    if inserted is not None:
                        stored += 1
                        unknown += item["card"] not in known
        except SQLAlchemyError as exc:
            log.error("feedback write failed", extra={"reason": type(exc).__name__})
            raise StoreUnavailable(type(exc).__name__) from exc
        return FeedbackResult(stored=stored, duplicates=len(items) - stored, unknown_cards=unknown)

    # --- analytics and retention ---

    def override_report(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """Per topic and rule: shown, accepted, overridden, no feedback, override rate, top reasons."""
        from service.store.report import build_report

        with self._limit(REPORT_SECONDS), Session(self.engine) as session:
            return build_report(session, since)

    def purge_audit(self, older_than_days: int) -> int:
        cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
        with Session(self.engine) as session, session.begin():
            old = select(AuditEvent.id).where(AuditEvent.created_at < cutoff)
            session.execute(delete(AuditCard).where(AuditCard.event_id.in_(old)))
            result = session.execute(delete(AuditEvent).where(AuditEvent.created_at < cutoff))
            return int(result.rowcount or 0)

    def count(self, model: type[Any]) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def close(self) -> None:
        self._writer.close()
