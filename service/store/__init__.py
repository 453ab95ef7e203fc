"""Feedback and audit persistence (SQLAlchemy 2, Alembic migrations).

SQLite by default (``CDS_DATABASE_URL`` unset), PostgreSQL in production.
Audit writes happen on a background thread: a slow or failed database never
delays or fails a hook response; failures are logged and counted.
Feedback writes are synchronous: if the database is down the endpoint
answers 503 so the EHR retries, and nothing it was told is stored is lost.
"""

from service.store.feedback import FeedbackError, FeedbackResult, TooManyFeedbackItems, validate_feedback
from service.store.store import AuditEntry, Store, StoreUnavailable

__all__ = ["AuditEntry", "FeedbackError", "FeedbackResult", "Store", "StoreUnavailable", "TooManyFeedbackItems",
           "validate_feedback"]
