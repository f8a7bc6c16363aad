"""The migrations build the schema that tables.py describes, on an empty database."""

from __future__ import annotations

import importlib
import os
import pkgutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, make_url

import service.store
from service.store.db import make_engine
from service.store.migrate import alembic_config, upgrade_async
from service.store.tables import metadata

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/chiroref_test"
TABLES = {"resources", "resource_history", "search_index", "resource_orgs", "conditional_claims"}


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    store_pg_admin: Callable[[str], Awaitable[None]],
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"chiroref_store_mig_{uuid.uuid4().hex[:12]}"
    await store_pg_admin(f'CREATE DATABASE "{name}"')
    base = os.environ.get("CHIROREF_TEST_PG_URL", DEFAULT_PG_URL)
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        await store_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _register_all_tables() -> None:
    """Import every service.store module, so each table module joins `metadata`."""
    for module in pkgutil.iter_modules(service.store.__path__):
        importlib.import_module(f"service.store.{module.name}")


def _schema(conn: Connection) -> tuple[set[str], list[Any], str | None]:
    tables = set(inspect(conn).get_table_names())
    context = MigrationContext.configure(conn)
    return tables, compare_metadata(context, metadata), context.get_current_revision()


async def test_upgrade_builds_the_described_schema(empty_db_url: str) -> None:
    _register_all_tables()
    await upgrade_async(empty_db_url)
    await upgrade_async(empty_db_url)  # a second run is a no-op
    engine = make_engine(empty_db_url)
    try:
        async with engine.connect() as conn:
            tables, diff, revision = await conn.run_sync(_schema)
    finally:
        await engine.dispose()
    assert tables >= TABLES
    assert revision == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert diff == []
