"""Private PostgreSQL databases on the server of CHIROREF_TEST_PG_URL, so parallel runs
by other suites never collide.

    with private_database("chiroref_e2e") as url: ...   # created, migrated; dropped after
    await pg_admin('CREATE DATABASE "x"'); database_url("x")
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from service.store.migrate import upgrade

PG_URL = os.environ.get(
    "CHIROREF_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/chiroref_test"
)


async def pg_admin(statement: str) -> None:
    """Run one statement (CREATE/DROP DATABASE) on the PG_URL server, outside a transaction."""
    engine = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def database_url(name: str) -> str:
    """PG_URL with database `name`."""
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@contextmanager
def private_database(prefix: str) -> Iterator[str]:
    """A fresh database `<prefix>_<hex>`, migrated as `chiroref migrate` does; its URL.
    Dropped at the end (WITH (FORCE): connections left open do not keep it)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        url = database_url(name)
        upgrade(url)
        yield url
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
