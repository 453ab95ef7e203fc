"""Audit flag for sanitised identifiers; override reasons as codes only (drop the free-text display).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("identifiers_sanitised", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
    # The display was whatever text the client sent: the README promises reason codes only.
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("override_display")


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("override_display", sa.String(300)))
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("identifiers_sanitised")
