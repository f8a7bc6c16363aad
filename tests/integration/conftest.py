"""Integration fixtures.

Store fixtures (prefixed `store_`, plus `store` itself): a migrated Store on each engine.
SQLite: a copy of a file migrated once per session, in tmp_path. PostgreSQL: a private
database created per session on the server of CHIROREF_TEST_PG_URL (so parallel runs by
other suites do not collide), migrated once, emptied before each test. An unreachable
PostgreSQL fails the tests; nothing is skipped.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from service.store.db import Store
from service.store.migrate import upgrade
from service.store.model import NewResource
from tests.support.pg import private_database

STORE_TABLES = "conditional_claims, resource_orgs, search_index, resource_history, resources"


@pytest.fixture(scope="session")
def store_pg_url() -> Iterator[str]:
    """A migrated private PostgreSQL database for this session, dropped at the end."""
    with private_database("chiroref_store") as url:
        yield url


@pytest.fixture(scope="session")
def store_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store-template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a migrated database on each engine (SQLite: a fresh copy per test)."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("store_pg_url")
        return url
    path = tmp_path / "store.db"
    shutil.copy(request.getfixturevalue("store_sqlite_template"), path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """A migrated, empty Store on each engine."""
    opened = await Store.open(store_url)
    if opened.dialect == "postgresql":
        async with opened.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {STORE_TABLES} CASCADE"))
    yield opened
    await opened.close()


def store_resource(rtype: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": rtype, "id": str(uuid.uuid4()), **fields}


@pytest.fixture
def store_new() -> Callable[..., NewResource]:
    """Factory: store_new("Task", orgs={"Organization/a"}, claim="k", status="requested")."""

    def make(
        rtype: str, orgs: frozenset[str] | set[str] = frozenset(), claim: str | None = None,
        **fields: Any,
    ) -> NewResource:
        return NewResource(store_resource(rtype, **fields), frozenset(orgs), claim)

    return make
