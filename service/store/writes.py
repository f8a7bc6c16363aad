"""Writing versions: the portable path (one executemany per table, used on SQLite) and the
dispatch to the PostgreSQL single-statement path (pg_writes.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from service.store import pg_writes, sqlite_writes
from service.store.errors import ClaimTaken
from service.store.rows import VersionRows, index_rows, org_rows, resource_row
from service.store.tables import (
    conditional_claims,
    resource_history,
    resource_orgs,
    resources,
    search_index,
)


async def insert_versions(conn: AsyncConnection, batch: Sequence[VersionRows]) -> None:
    """Version 1 of each resource with its history, index, organisation and claim rows."""
    if conn.dialect.name == "postgresql":
        await pg_writes.insert_versions(conn, batch)
        return
    driver = await sqlite_writes.driver_of(conn)
    if driver is not None:
        try:
            await sqlite_writes.insert_versions(driver, batch)
        except sqlite3.IntegrityError as exc:
            if "conditional_claims" not in str(exc):
                raise
            raise await _taken(conn, batch) from exc
        return
    await _insert(conn, resources, [resource_row(r) for r in batch])
    await _insert_claims(conn, batch)
    await _insert(conn, resource_history, [resource_row(r) for r in batch])
    await _insert(conn, search_index, [row for r in batch for row in index_rows(r)])
    await _insert(conn, resource_orgs, [row for r in batch for row in org_rows(r)])


async def replace_version(conn: AsyncConnection, rows: VersionRows, keep_orgs: bool) -> None:
    """Make `rows` the current version; its index rows replace the old ones, and so do its
    organisations unless `keep_orgs` (a delete keeps them for history and 410s)."""
    if conn.dialect.name == "postgresql":
        await pg_writes.replace_version(conn, rows, keep_orgs)
        return
    row = resource_row(rows)
    key = (resources.c.resource_type == rows.resource_type) & (resources.c.id == rows.id)
    await conn.execute(update(resources).where(key).values(row))
    await _insert(conn, resource_history, [row])
    await conn.execute(delete(search_index).where(*_owned(search_index, rows)))
    await _insert(conn, search_index, index_rows(rows))
    if not keep_orgs:
        await conn.execute(delete(resource_orgs).where(*_owned(resource_orgs, rows)))
        await _insert(conn, resource_orgs, org_rows(rows))


async def drop_claims(conn: AsyncConnection, rtype: str, rid: str) -> None:
    """A deleted resource frees its conditional-create keys."""
    c = conditional_claims.c
    await conn.execute(
        delete(conditional_claims).where(c.resource_type == rtype, c.resource_id == rid)
    )


def _owned(table: Table, rows: VersionRows) -> tuple[Any, ...]:
    return (table.c.resource_type == rows.resource_type, table.c.resource_id == rows.id)


async def _insert(conn: AsyncConnection, table: Table, values: list[dict[str, Any]]) -> None:
    if values:
        await conn.execute(insert(table), values)


async def _insert_claims(conn: AsyncConnection, batch: Sequence[VersionRows]) -> None:
    claims = [
        {"resource_type": r.resource_type, "claim_key": r.claim_key, "resource_id": r.id}
        for r in batch
        if r.claim_key is not None
    ]
    try:
        await _insert(conn, conditional_claims, claims)
    except IntegrityError as exc:
        raise await _taken(conn, batch) from exc


async def _taken(conn: AsyncConnection, batch: Sequence[VersionRows]) -> ClaimTaken:
    """Which claim was refused: the first held by another resource (or repeated in batch)."""
    c = conditional_claims.c
    claimed = [r for r in batch if r.claim_key is not None]
    for r in claimed:
        held_by = select(c.resource_id).where(
            c.resource_type == r.resource_type, c.claim_key == r.claim_key, c.resource_id != r.id
        )
        if await conn.scalar(held_by) is not None:
            return ClaimTaken(r.resource_type, str(r.claim_key))
    return ClaimTaken(claimed[0].resource_type, str(claimed[0].claim_key))
