"""PostgreSQL reads on the raw asyncpg connection of a one-shot Repository
(`Store.one_shot`): constant SQL text, so asyncpg prepares each statement once per
connection, and SQLAlchemy's compile and execution layers are skipped (the intake hot path
reads a referral's requester PractitionerRole this way)."""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from service.store.model import StoredResource
from service.store.sqltypes import fhir_order

# The caller's isolation (Repository._visible) in SQL: no organisations (NULL) = SYSTEM.
_READ_CURRENT = """
SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.content
FROM resources r
WHERE r.resource_type = $1 AND r.id = $2
  AND (CAST($3 AS text[]) IS NULL OR EXISTS (
      SELECT 1 FROM resource_orgs o
      WHERE o.resource_type = r.resource_type AND o.resource_id = r.id
        AND o.org_ref = ANY(CAST($3 AS text[]))))
"""


async def read_current(
    driver: Any, resource_type: str, id: str, org_refs: Set[str] | None
) -> StoredResource | None:
    """The current row (deleted or not) if the caller may see it, else None."""
    orgs = None if org_refs is None else sorted(org_refs)
    row = await driver.fetchrow(_READ_CURRENT, resource_type, id, orgs)
    if row is None:
        return None
    resource_type, rid, version, last_updated, deleted, content = row
    return StoredResource(resource_type, rid, version, last_updated, fhir_order(content), deleted)
