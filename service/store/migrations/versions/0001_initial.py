"""The store: current resources, history, search index, organisations, claims.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen here, not imported from tables.py: a migration must not change when code does.
SEARCH_INDEXES = (
    ("ix_search_index_value", "value"),
    ("ix_search_index_norm", "norm"),
    ("ix_search_index_date", "low", "high"),
)
TIME = sa.DateTime(timezone=True)
DOCUMENT = sa.Text().with_variant(postgresql.JSONB(), "postgresql")
NORM = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def _resource_fk(name: str, id_col: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["resource_type", id_col], ["resources.resource_type", "resources.id"], name=name
    )


def _version_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("last_updated", TIME, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("content", DOCUMENT, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "resources",
        *_version_columns(),
        sa.PrimaryKeyConstraint("resource_type", "id", name="pk_resources"),
    )
    columns = ["resource_type", "last_updated", "id"]
    op.create_index("ix_resources_type_updated", "resources", columns)
    op.create_table(
        "resource_history",
        *_version_columns(),
        sa.PrimaryKeyConstraint("resource_type", "id", "version_id", name="pk_resource_history"),
        _resource_fk("fk_resource_history_resources", "id"),
    )
    _search_index()
    _orgs_and_claims()


def _search_index() -> None:
    op.create_table(
        "search_index",
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("param", sa.String(64), nullable=False),
        sa.Column("system", sa.String, nullable=True),
        sa.Column("value", sa.String, nullable=True),
        sa.Column("norm", NORM, nullable=True),
        sa.Column("low", TIME, nullable=True),
        sa.Column("high", TIME, nullable=True),
    )
    table = "search_index"
    op.create_index("ix_search_index_resource", table, ["resource_type", "resource_id"])
    for name, column, *more in SEARCH_INDEXES:  # partial: rows with that kind of value
        where = sa.text(f"{column} IS NOT NULL")
        columns = ["resource_type", "param", column, *more]
        op.create_index(name, table, columns, postgresql_where=where, sqlite_where=where)


def _orgs_and_claims() -> None:
    op.create_table(
        "resource_orgs",
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("org_ref", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint(
            "resource_type", "resource_id", "org_ref", name="pk_resource_orgs"
        ),
        _resource_fk("fk_resource_orgs_resources", "resource_id"),
    )
    op.create_index("ix_resource_orgs_org", "resource_orgs", ["org_ref", "resource_type"])
    op.create_table(
        "conditional_claims",
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("claim_key", sa.String, nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("resource_type", "claim_key", name="pk_conditional_claims"),
        _resource_fk("fk_conditional_claims_resources", "resource_id"),
    )


def downgrade() -> None:
    for table in ("conditional_claims", "resource_orgs", "search_index", "resource_history"):
        op.drop_table(table)
    op.drop_table("resources")
