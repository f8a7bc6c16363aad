"""Workflow queries the Repository's FHIR search cannot say in one statement.

- `open_task_counts`: open Tasks per owner for a set of clinics (routing's "least loaded"),
  one grouped query over the search index instead of one search per clinic.
- `grant`: let one more organisation see a resource without writing a new version (the
  clinic a referral is routed to must read the GP's ServiceRequest, which stays as sent).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import and_, exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from service.store.tables import resource_orgs, resources, search_index

__all__ = ["grant", "open_task_counts"]


async def open_task_counts(
    conn: AsyncConnection, owners: Collection[str], open_statuses: Collection[str]
) -> dict[str, int]:
    """`Organization/<id>` -> live Tasks it owns whose status is in `open_statuses`
    (owners without any are left out)."""
    if not owners:
        return {}
    o, s, r = search_index.alias("o").c, search_index.alias("s").c, resources.c
    is_open = exists().where(
        s.resource_type == "Task",
        s.resource_id == o.resource_id,
        s.param == "status",
        s.value.in_(sorted(open_statuses)),
    )
    live = exists().where(
        r.resource_type == "Task", r.id == o.resource_id, r.deleted.is_(False)
    )
    statement = (
        select(o.value, func.count())
        .where(o.resource_type == "Task", o.param == "owner", o.value.in_(sorted(owners)))
        .where(and_(is_open, live))
        .group_by(o.value)
    )
    return {str(ref): int(n) for ref, n in (await conn.execute(statement)).all()}


async def grant(conn: AsyncConnection, resource_type: str, id: str, org_ref: str) -> None:
    """Add `org_ref` to the organisations of a resource (idempotent)."""
    await grant_many(conn, [(resource_type, id, org_ref)])


async def grant_many(conn: AsyncConnection, grants: Iterable[tuple[str, str, str]]) -> None:
    """Add organisations to resources, `(type, id, org_ref)` each, in one statement; rows
    already there are kept (idempotent). A client's update (PUT, JSON Patch) keeps them
    (`Repository.update_reporting(..., keep_orgs=True)`); a Task's own update recomputes
    its organisations from its parties."""
    unique = dict.fromkeys(grants)
    rows = [{"resource_type": t, "resource_id": i, "org_ref": o} for t, i, o in unique]
    if not rows:
        return
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    await conn.execute(dialect_insert(resource_orgs).values(rows).on_conflict_do_nothing())
