"""Drop the foreign keys from resource_history, resource_orgs and conditional_claims to
resources.

Those rows are derived: written in the same statement as their resource and never left
behind by a delete (resources rows are never deleted; a FHIR delete is a flagged version).
The check per row cost about a tenth of PostgreSQL's CPU per create (docs/performance.md,
round 7), as it did for search_index, which never had one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (table, constraint, its column naming the resource id)
_FKS = (
    ("resource_history", "fk_resource_history_resources", "id"),
    ("resource_orgs", "fk_resource_orgs_resources", "resource_id"),
    ("conditional_claims", "fk_conditional_claims_resources", "resource_id"),
)


def upgrade() -> None:
    for table, name, _ in _FKS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    for table, name, id_col in _FKS:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(
                name, "resources", ["resource_type", id_col], ["resource_type", "id"]
            )
