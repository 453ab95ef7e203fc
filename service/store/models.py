"""Tables: one audit row per invocation, one row per card shown, one per distinct feedback.

No access tokens, JWTs or clinical values are stored: cards are kept as
uuid, topic, indicator and the rules behind them; the patient reference as
given or as a keyed hash (``CDS_AUDIT_PATIENT_HASH_KEY``).  Override reasons
are kept as codes only: the display and comment a client sends are free text
that may carry patient details.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    service_id: Mapped[str] = mapped_column(String(64))
    hook: Mapped[str | None] = mapped_column(String(64))
    hook_instance: Mapped[str | None] = mapped_column(String(128), index=True)
    patient_ref: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    fhir_queries: Mapped[int] = mapped_column(Integer, default=0)
    fhir_ms: Mapped[float | None] = mapped_column(Float)
    #: section -> "prefetch" | "query" | "unavailable"
    data_origins: Mapped[dict[str, str] | None] = mapped_column(JSON)
    #: hook_instance or patient_ref was cut to its column or had control characters replaced
    identifiers_sanitised: Mapped[bool] = mapped_column(Boolean, default=False)
    cards: Mapped[list[AuditCard]] = relationship(back_populates="event", cascade="all, delete-orphan")


class AuditCard(Base):
    __tablename__ = "audit_card"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("audit_event.id", ondelete="CASCADE"), index=True)
    card_uuid: Mapped[str] = mapped_column(String(64), unique=True)
    topic: Mapped[str] = mapped_column(String(32))
    indicator: Mapped[str] = mapped_column(String(16))
    rule_id: Mapped[str] = mapped_column(String(64))
    rule_version: Mapped[str] = mapped_column(String(16))
    #: every rule behind the card, "id@version" comma-separated (the summary card has several)
    rules: Mapped[str] = mapped_column(Text)
    event: Mapped[AuditEvent] = relationship(back_populates="cards")


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: sha256 of (service, card, outcome, timestamp, suggestions, reason): the same report twice is one row
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    service_id: Mapped[str] = mapped_column(String(64))
    card_uuid: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    outcome_timestamp: Mapped[str] = mapped_column(String(40))
    accepted_suggestions: Mapped[list[str] | None] = mapped_column(JSON)
    override_system: Mapped[str | None] = mapped_column(String(200))
    override_code: Mapped[str | None] = mapped_column(String(100))
    has_comment: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the card uuid was in the audit when the feedback arrived
    known_card: Mapped[bool] = mapped_column(Boolean)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
