"""The delivery outbox: outbox, outbox_attempts, delivery_endpoints (circuit breakers).

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    _outbox()
    op.create_table(
        "outbox_attempts",
        sa.Column("outbox_id", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.String, nullable=True),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("outbox_id", "attempt", name="pk_outbox_attempts"),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], name="fk_outbox_attempts_outbox"),
    )
    op.create_table(
        "delivery_endpoints",
        sa.Column("endpoint_ref", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("open_until", TIME, nullable=True),
        sa.Column("probe_until", TIME, nullable=True),
        sa.PrimaryKeyConstraint("endpoint_ref", name="pk_delivery_endpoints"),
    )


def _outbox() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("referral_id", sa.String(64), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=True),
        sa.Column("endpoint_ref", sa.String(200), nullable=False),
        sa.Column("endpoint_url", sa.String, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("lease_until", TIME, nullable=True),
        sa.Column("last_error", sa.String, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("delivered_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_referral", "outbox", ["referral_id", "created_at"])
    op.create_index("ix_outbox_task", "outbox", ["task_id"])


def downgrade() -> None:
    for table in ("delivery_endpoints", "outbox_attempts", "outbox"):
        op.drop_table(table)
