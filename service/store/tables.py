"""The store's tables (SQLAlchemy Core). The Alembic migrations create them; this module
only describes them for queries. Every time is UTC.

- `resources`: the current version of each resource (deleted ones stay, flagged).
- `resource_history`: every version, the current one included.
- `search_index`: one row per extracted search value (token, reference, date, string, uri).
- `resource_orgs`: the organisations a resource belongs to (per-organisation isolation).
- `conditional_claims`: conditional-create keys; the primary key refuses duplicates.

No foreign keys to `resources`: every other table's rows are derived, written in the same
statement as their resource (and replaced with it), and a `resources` row is never deleted
(a FHIR delete is a flagged version). A check per row cost about a tenth of PostgreSQL's
CPU per create (migration 0003, docs/performance.md round 7).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    text,
)

from service.store.sqltypes import Document, UtcDateTime

metadata = MetaData()

TYPE_LEN, ID_LEN = 64, 64
NORM_TYPE = String().with_variant(String(collation="C"), "postgresql")


def _partial(name: str, column: str, *more: str) -> Index:
    where = text(f"{column} IS NOT NULL")
    columns = ("resource_type", "param", column, *more)
    return Index(name, *columns, postgresql_where=where, sqlite_where=where)


# (index name, the column that must be set, further columns); the migration uses it too.
SEARCH_INDEXES = (
    ("ix_search_index_value", "value"),
    ("ix_search_index_norm", "norm"),
    ("ix_search_index_date", "low", "high"),
)

resources = Table(
    "resources",
    metadata,
    Column("resource_type", String(TYPE_LEN), nullable=False),
    Column("id", String(ID_LEN), nullable=False),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", UtcDateTime, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("content", Document, nullable=False),
    PrimaryKeyConstraint("resource_type", "id", name="pk_resources"),
    Index("ix_resources_type_updated", "resource_type", "last_updated", "id"),
)

resource_history = Table(
    "resource_history",
    metadata,
    Column("resource_type", String(TYPE_LEN), nullable=False),
    Column("id", String(ID_LEN), nullable=False),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", UtcDateTime, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("content", Document, nullable=False),
    PrimaryKeyConstraint("resource_type", "id", "version_id", name="pk_resource_history"),
    # type and system history (`GET [type]/_history`, `GET /_history`): newest first
    Index("ix_resource_history_updated", "last_updated"),
)

search_index = Table(
    "search_index",
    metadata,
    Column("resource_type", String(TYPE_LEN), nullable=False),
    Column("resource_id", String(ID_LEN), nullable=False),
    Column("param", String(64), nullable=False),
    Column("system", String, nullable=True),  # token system; reference target type
    Column("value", String, nullable=True),  # token code, "Type/id", raw string, uri
    # string: normalised; reference: target id. Byte order ("C") on PostgreSQL as on
    # SQLite, so a prefix search is an index range scan on both.
    Column("norm", NORM_TYPE, nullable=True),
    Column("low", UtcDateTime, nullable=True),  # date range [low, high)
    Column("high", UtcDateTime, nullable=True),
    # Partial indexes: each row enters only the index for its kind of value.
    Index("ix_search_index_resource", "resource_type", "resource_id"),
    *(_partial(name, column, *more) for name, column, *more in SEARCH_INDEXES),
)

resource_orgs = Table(
    "resource_orgs",
    metadata,
    Column("resource_type", String(TYPE_LEN), nullable=False),
    Column("resource_id", String(ID_LEN), nullable=False),
    Column("org_ref", String(200), nullable=False),
    PrimaryKeyConstraint("resource_type", "resource_id", "org_ref", name="pk_resource_orgs"),
    Index("ix_resource_orgs_org", "org_ref", "resource_type"),
)

conditional_claims = Table(
    "conditional_claims",
    metadata,
    Column("resource_type", String(TYPE_LEN), nullable=False),
    Column("claim_key", String, nullable=False),
    Column("resource_id", String(ID_LEN), nullable=False),
    PrimaryKeyConstraint("resource_type", "claim_key", name="pk_conditional_claims"),
)

ALL_TABLES = (conditional_claims, resource_orgs, search_index, resource_history, resources)
