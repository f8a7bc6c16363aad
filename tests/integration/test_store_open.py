"""Store.open / Store.close and the app lifespan around them.

PostgreSQL URLs with query options open both the SQLAlchemy engine and the plain asyncpg
pool of `one_shot` (the options are translated for asyncpg, not sent as server settings);
unknown options are refused before anything connects; closing and a failed start-up
release what was opened.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

import service.app as app_module
from service.app import create_app
from service.settings import Settings
from service.store.db import Store, asyncpg_connect_args
from service.store.model import SYSTEM, NewResource


def with_query(url: str, **query: str) -> str:
    return make_url(url).update_query_dict(query).render_as_string(hide_password=False)


@pytest.mark.parametrize(
    "options",
    [
        {"ssl": "disable"},
        {"prepared_statement_cache_size": "0"},
        {"ssl": "disable", "prepared_statement_cache_size": "0", "command_timeout": "30"},
    ],
    ids=["ssl", "prepared_statement_cache_size", "several"],
)
async def test_open_postgres_url_with_options_creates_through_one_shot(
    store_pg_url: str, store_new: Callable[..., NewResource], options: dict[str, str]
) -> None:
    store = await Store.open(with_query(store_pg_url, **options))
    cache_sizes: list[int] = []  # asyncpg's statement_cache_size of each direct connection
    store.direct_listeners.append(lambda conn: cache_sizes.append(conn._stmt_cache.get_max_size()))
    try:
        [created] = await store.create_many(SYSTEM, [store_new("Patient")])
        async with store.begin(SYSTEM, readonly=True) as repo:
            assert (await repo.read("Patient", created.id)).id == created.id
    finally:
        await store.close()
    assert cache_sizes, "the create went through the direct asyncpg pool"
    expected = 0 if options.get("prepared_statement_cache_size") == "0" else 100  # default
    assert set(cache_sizes) == {expected}


def test_asyncpg_connect_args_translates_the_url() -> None:
    url = "postgresql+asyncpg://u:pw@db.example:6432/chiro?ssl=require&prepared_statement_cache_size=0"
    assert asyncpg_connect_args(url) == {
        "host": "db.example",
        "port": 6432,
        "user": "u",
        "password": "pw",
        "database": "chiro",
        "ssl": "require",
        "statement_cache_size": 0,
    }
    multi = asyncpg_connect_args("postgresql+asyncpg://u@/chiro?host=a:5432&host=b:5433")
    assert (multi["host"], multi["port"]) == (["a", "b"], [5432, 5433])


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        ("sslmode=require", "unsupported option 'sslmode'"),
        ("application_name=x", "unsupported option 'application_name'"),
        ("ssl=sometimes", "option 'ssl' of the database URL must be one of"),
        ("prepared_statement_cache_size=lots", "must be an integer"),
    ],
)
async def test_open_refuses_unknown_or_malformed_options_before_connecting(
    query: str, complaint: str
) -> None:
    # Port 9 (discard): nothing listens, so a connection attempt would fail differently.
    url = f"postgresql+asyncpg://u:s3cret@127.0.0.1:9/chiro?{query}"
    with pytest.raises(ValueError, match=complaint) as raised:
        await Store.open(url)
    assert "s3cret" not in str(raised.value)


class FailingPool:
    async def close(self) -> None:
        raise OSError("pool close failed")


class RecordingEngine:
    disposed = False

    async def dispose(self) -> None:
        self.disposed = True


async def test_close_disposes_the_engine_when_the_pool_close_fails() -> None:
    engine = RecordingEngine()
    store = Store(engine, FailingPool())  # type: ignore[arg-type]
    with pytest.raises(OSError, match="pool close failed"):
        await store.close()
    assert engine.disposed


async def test_lifespan_closes_the_store_when_load_demo_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[Store] = []
    real_close = Store.close

    async def close(self: Store) -> None:
        closed.append(self)
        await real_close(self)

    async def broken_demo(store: Store, base_url: str) -> None:
        raise RuntimeError("demo load failed")

    monkeypatch.setattr(Store, "close", close)
    monkeypatch.setattr(app_module, "load_demo", broken_demo)
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}", load_demo=True
    )
    app: FastAPI = create_app(settings)
    with pytest.raises(RuntimeError, match="demo load failed"):
        async with app.router.lifespan_context(app):
            pytest.fail("the app started")
    assert closed == [app.state.store]
