"""The migrations build the schema that tables.py describes, on an empty database."""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

import service.store
from service.store.db import make_engine
from service.store.migrate import alembic_config, upgrade_async
from service.store.tables import metadata
from tests.support.pg import database_url, pg_admin

NOW = datetime(2026, 11, 26, tzinfo=UTC)
TABLES = {"resources", "resource_history", "search_index", "resource_orgs", "conditional_claims"}


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"chiroref_store_mig_{uuid.uuid4().hex[:12]}"
    await pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(name)
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


async def test_dropping_the_resource_foreign_keys_keeps_every_row(empty_db_url: str) -> None:
    """0003 rebuilds the tables on SQLite (batch mode): the rows written under 0002 stay."""
    await upgrade_async(empty_db_url, "0002")
    engine = make_engine(empty_db_url)
    key = {"resource_type": "Task", "id": "t1"}
    version = {**key, "version_id": 1, "last_updated": NOW, "deleted": False,
               "content": '{"resourceType": "Task", "id": "t1"}'}
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO resources VALUES (:resource_type, :id, :version_id,"
                " :last_updated, :deleted, :content)"), version)
            await conn.execute(text(
                "INSERT INTO resource_history VALUES (:resource_type, :id, :version_id,"
                " :last_updated, :deleted, :content)"), version)
            await conn.execute(text(
                "INSERT INTO resource_orgs VALUES ('Task', 't1', 'Organization/o1')"))
            await conn.execute(text(
                "INSERT INTO conditional_claims VALUES ('Task', 'k1', 't1')"))
        await upgrade_async(empty_db_url)
        async with engine.connect() as conn:
            counts = {table: (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar()
                      for table in ("resources", "resource_history", "resource_orgs",
                                    "conditional_claims")}
            foreign = await conn.run_sync(
                lambda sync: {t: inspect(sync).get_foreign_keys(t) for t in counts})
    finally:
        await engine.dispose()
    assert counts == dict.fromkeys(counts, 1)
    assert all(keys == [] for keys in foreign.values()), foreign
