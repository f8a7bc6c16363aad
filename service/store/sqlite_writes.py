"""SQLite create in one hop to the aiosqlite thread.

Through SQLAlchemy every statement costs about three hops between the event loop and
aiosqlite's worker thread (cursor, execute, close), ~20 per create; here the inserts of
all five tables run as one function on that thread, inside the transaction SQLAlchemy
began (BEGIN IMMEDIATE). Values are converted as the column types would convert them.
Relies on aiosqlite's `_execute` / `_conn` (stable since 0.17); without them the
portable path is used.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from service.store.rows import VersionRows

_VERSION_COLUMNS = "resource_type, id, version_id, last_updated, deleted, content"
_INSERTS = (
    f"INSERT INTO resources ({_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
    "INSERT INTO conditional_claims (resource_type, claim_key, resource_id) VALUES (?, ?, ?)",
    f"INSERT INTO resource_history ({_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
    "INSERT INTO search_index (resource_type, resource_id, param, system, value, norm, low,"
    " high) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "INSERT INTO resource_orgs (resource_type, resource_id, org_ref) VALUES (?, ?, ?)",
)


async def driver_of(conn: AsyncConnection) -> Any | None:
    """The aiosqlite connection under `conn`, if it offers the one-hop seam."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    usable = hasattr(driver, "_execute") and hasattr(driver, "_conn")
    return driver if usable else None


async def insert_versions(driver: Any, batch: Sequence[VersionRows]) -> None:
    """Raises sqlite3.IntegrityError as the portable path's driver would."""
    await driver._execute(_run, driver._conn, _plan(batch))


def _run(db: sqlite3.Connection, plan: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
    for sql, rows in plan:
        if rows:
            db.executemany(sql, rows)


def _plan(batch: Sequence[VersionRows]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    versions = [_version(r) for r in batch]
    claims = [(r.resource_type, r.claim_key, r.id) for r in batch if r.claim_key is not None]
    index = [
        (r.resource_type, r.id, v.param, v.system, v.value, v.norm, _time(v.low), _time(v.high))
        for r in batch
        for v in r.index
    ]
    orgs = [(r.resource_type, r.id, org) for r in batch for org in sorted(r.orgs)]
    return list(zip(_INSERTS, (versions, claims, versions, index, orgs), strict=True))


def _version(rows: VersionRows) -> tuple[Any, ...]:
    s = rows.stored
    return (s.resource_type, s.id, s.version_id, _time(s.last_updated), int(s.deleted),
            rows.document)


def _time(moment: datetime | None) -> str | None:
    """SQLAlchemy's SQLite DATETIME storage format, in UTC, the year in four digits as
    SQLAlchemy binds it (glibc's strftime writes year 1 as "1", which neither sorts nor
    reads back)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
