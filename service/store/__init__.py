"""Feedback and audit persistence (SQLAlchemy 2, Alembic migrations).

SQLite by default (``CDS_DATABASE_URL`` unset), PostgreSQL in production.
Audit writes happen in the background: a slow or failed database never
delays or fails a hook response; failures are logged and counted.  Under
``rituximab-cds serve`` one audit writer process per server holds the
database connection and the workers send it their entries (audit_channel.py,
audit_writer.py); elsewhere (tests, the Flask test client) a thread of the
process writes them.
Feedback writes are synchronous: if the database is down the endpoint
answers 503 so the EHR retries, and nothing it was told is stored is lost.

The names below are loaded on first use, so that importing the package (a
worker does, for AuditEntry) does not load SQLAlchemy, psycopg and jsonschema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.lazy_names import lazy_names

if TYPE_CHECKING:
    from service.store.audit import AuditEntry, StoreUnavailable
    from service.store.feedback import FeedbackError, FeedbackResult, TooManyFeedbackItems, validate_feedback
    from service.store.store import Store

_HOME = {
    "AuditEntry": "service.store.audit",
    "StoreUnavailable": "service.store.audit",
    "FeedbackError": "service.store.feedback",
    "FeedbackResult": "service.store.feedback",
    "TooManyFeedbackItems": "service.store.feedback",
    "validate_feedback": "service.store.feedback",
    "Store": "service.store.store",
}

__all__ = ["AuditEntry", "FeedbackError", "FeedbackResult", "Store", "StoreUnavailable", "TooManyFeedbackItems",
           "validate_feedback"]

__getattr__ = lazy_names(__name__, _HOME)
