"""Audit events, audit cards and feedback.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("hook", sa.String(64)),
        sa.Column("hook_instance", sa.String(128)),
        sa.Column("patient_ref", sa.String(128)),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Float),
        sa.Column("fhir_queries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("fhir_ms", sa.Float),
        sa.Column("data_origins", sa.JSON),
    )
    op.create_index("ix_audit_event_created_at", "audit_event", ["created_at"])
    op.create_index("ix_audit_event_hook_instance", "audit_event", ["hook_instance"])
    op.create_table(
        "audit_card",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Integer, sa.ForeignKey("audit_event.id", ondelete="CASCADE"), nullable=False),
        sa.Column("card_uuid", sa.String(64), nullable=False, unique=True),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("indicator", sa.String(16), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("rule_version", sa.String(16), nullable=False),
        sa.Column("rules", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_card_event_id", "audit_card", ["event_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dedupe_key", sa.String(64), nullable=False, unique=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("card_uuid", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("outcome_timestamp", sa.String(40), nullable=False),
        sa.Column("accepted_suggestions", sa.JSON),
        sa.Column("override_system", sa.String(200)),
        sa.Column("override_code", sa.String(100)),
        sa.Column("override_display", sa.String(300)),
        sa.Column("has_comment", sa.Boolean, nullable=False),
        sa.Column("known_card", sa.Boolean, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("audit_card")
    op.drop_table("audit_event")
