"""Index resource_history by last_updated, for type and system history (`GET
[type]/_history`, `GET /_history`, newest first). Each version written pays one more
B-tree entry (docs/performance.md, round 8).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_resource_history_updated", "resource_history", ["last_updated"])


def downgrade() -> None:
    op.drop_index("ix_resource_history_updated", table_name="resource_history")
