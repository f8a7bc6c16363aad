"""The one-shot connections (service/store/direct_pool.py) against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from service.store import db
from service.store.db import Store, asyncpg_connect_args
from service.store.direct_pool import DirectPool
from service.store.model import SYSTEM

pytestmark = pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)

Opened = list[Any]


@pytest.fixture
def opened() -> Opened:
    """Every connection the pool under test opened, in order."""
    return []


@pytest.fixture
async def make_pool(store_url: str, opened: Opened) -> AsyncIterator[Callable[..., DirectPool]]:
    pools: list[DirectPool] = []

    async def connect() -> Any:
        conn = await asyncpg.connect(**asyncpg_connect_args(store_url))
        opened.append(conn)
        return conn

    def make(max_size: int = 2, **kwargs: Any) -> DirectPool:
        pool = DirectPool(connect, max_size, **kwargs)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.close()


async def until(condition: Callable[[], bool], seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 (polls the pool's public counters)
            await asyncio.sleep(0.01)


async def until_waiting(pool: DirectPool, count: int) -> None:
    await until(lambda: pool.waiting == count)


async def backend(conn: Any) -> int:
    pid: int = await conn.fetchval("SELECT pg_backend_pid()")
    return pid


async def test_sequential_users_share_one_connection(
    make_pool: Callable[..., DirectPool], opened: Opened
) -> None:
    pool = make_pool()
    pids = []
    for _ in range(3):
        async with pool.connection() as conn:
            pids.append(await backend(conn))
    assert len(set(pids)) == 1 and len(opened) == 1 and pool.size == 1


async def test_no_more_than_max_size_and_waiters_are_served_in_order(
    make_pool: Callable[..., DirectPool], opened: Opened
) -> None:
    pool = make_pool(max_size=2)
    release = asyncio.Event()
    order: list[int] = []

    async def user(n: int) -> None:
        async with pool.connection() as conn:
            order.append(n)
            await conn.fetchval("SELECT 1")
            if n < 2:
                await release.wait()

    holders = [asyncio.create_task(user(n)) for n in range(2)]
    await until(lambda: len(order) == 2)
    waiters = []
    for n in range(2, 5):  # queued one after the other
        waiters.append(asyncio.create_task(user(n)))
        await until_waiting(pool, n - 1)
    assert sorted(order) == [0, 1] and pool.size == 2  # the other three wait
    release.set()
    await asyncio.wait_for(asyncio.gather(*holders, *waiters), 10)
    assert order[2:] == [2, 3, 4] and len(opened) == 2


async def test_a_server_error_keeps_the_connection(
    make_pool: Callable[..., DirectPool], opened: Opened
) -> None:
    pool = make_pool()
    with pytest.raises(asyncpg.PostgresError):
        async with pool.connection() as conn:
            await conn.execute("SELECT * FROM no_such_table")
    async with pool.connection() as conn:
        assert await conn.fetchval("SELECT 41 + 1") == 42
        assert not conn.is_in_transaction()
    assert len(opened) == 1


async def test_any_other_failure_closes_the_connection(
    make_pool: Callable[..., DirectPool], opened: Opened
) -> None:
    pool = make_pool()
    with pytest.raises(RuntimeError):
        async with pool.connection():
            raise RuntimeError("the caller failed half-way")
    assert opened[0].is_closed() and pool.size == 0
    async with pool.connection() as conn:
        assert await conn.fetchval("SELECT 1") == 1
    assert len(opened) == 2


async def test_a_cancelled_statement_does_not_come_back(
    make_pool: Callable[..., DirectPool], opened: Opened
) -> None:
    pool = make_pool()

    started = asyncio.Event()

    async def slow() -> None:
        async with pool.connection() as conn:
            started.set()
            await conn.execute("SELECT pg_sleep(5)")

    task = asyncio.create_task(slow())
    await asyncio.wait_for(started.wait(), 10)
    await asyncio.sleep(0.1)  # the statement is on its way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert opened[0].is_closed()
    async with pool.connection() as conn:
        assert await conn.fetchval("SELECT 1") == 1


async def test_a_connection_left_in_a_transaction_is_closed(
    make_pool: Callable[..., DirectPool], opened: Opened
) -> None:
    pool = make_pool()
    async with pool.connection() as conn:
        await conn.execute("BEGIN")
    assert opened[0].is_closed() and pool.size == 0


async def test_a_connection_idle_too_long_is_replaced(
    make_pool: Callable[..., DirectPool], opened: Opened
) -> None:
    pool = make_pool(max_idle_seconds=0.05)
    async with pool.connection() as conn:
        first = await backend(conn)
    await asyncio.sleep(0.1)
    async with pool.connection() as conn:
        assert await backend(conn) != first
    assert opened[0].is_closed() and pool.size == 1


async def test_a_connection_closed_by_the_server_is_replaced(
    make_pool: Callable[..., DirectPool], opened: Opened, store_url: str
) -> None:
    pool = make_pool()
    async with pool.connection() as conn:
        victim = await backend(conn)
    killer = await asyncpg.connect(**asyncpg_connect_args(store_url))
    try:
        await killer.execute("SELECT pg_terminate_backend($1)", victim)
    finally:
        await killer.close()
    await asyncio.sleep(0.1)  # the server's goodbye reaches the client: is_closed()
    for _ in range(2):  # had it not, the first use would fail and drop the connection
        try:
            async with pool.connection() as conn:
                assert await backend(conn) != victim
            break
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            continue
    else:
        pytest.fail("no working connection after the server closed one")
    assert opened[0].is_closed() and pool.size == 1


async def test_a_failed_connect_frees_its_place(store_url: str) -> None:
    attempts: list[int] = []

    async def connect() -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("refused")
        return await asyncpg.connect(**asyncpg_connect_args(store_url))

    pool = DirectPool(connect, 1)
    try:
        with pytest.raises(OSError):
            async with pool.connection():
                pass
        assert pool.size == 0
        async with pool.connection() as conn:
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


async def test_a_cancelled_waiter_passes_the_connection_on(
    make_pool: Callable[..., DirectPool], opened: Opened
) -> None:
    pool = make_pool(max_size=1)
    release = asyncio.Event()

    async def holder() -> None:
        async with pool.connection():
            await release.wait()

    async def user() -> int:
        async with pool.connection() as conn:
            return await backend(conn)

    held = asyncio.create_task(holder())
    await until(lambda: pool.size == 1)
    doomed = asyncio.create_task(user())
    await until(lambda: pool.waiting == 1)
    served = asyncio.create_task(user())
    await until(lambda: pool.waiting == 2)
    doomed.cancel()
    release.set()
    assert await asyncio.wait_for(served, 5) > 0
    await held
    assert len(opened) == 1


async def test_close_ends_everything(
    make_pool: Callable[..., DirectPool], opened: Opened
) -> None:
    pool = make_pool(max_size=1)
    async with pool.connection():
        pass
    in_use = pool.connection()
    conn = await in_use.__aenter__()
    waiting = asyncio.create_task(pool.connection().__aenter__())
    await until(lambda: pool.waiting == 1)
    await pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        await waiting
    await in_use.__aexit__(None, None, None)
    assert conn.is_closed()
    with pytest.raises(RuntimeError, match="closed"):
        async with pool.connection():
            pass


async def test_a_waiter_cancelled_after_being_handed_a_connection_passes_it_on(
    make_pool: Callable[..., DirectPool], opened: Opened
) -> None:
    """The release hands the connection to the first waiter, which is cancelled before it
    runs: the connection goes on to the next waiter instead of being lost."""
    pool = make_pool(max_size=1)
    held = pool.connection()
    await held.__aenter__()

    async def user() -> int:
        async with pool.connection() as conn:
            return await backend(conn)

    doomed = asyncio.create_task(user())
    await until_waiting(pool, 1)
    served = asyncio.create_task(user())
    await until_waiting(pool, 2)
    await held.__aexit__(None, None, None)  # hands it to `doomed`, synchronously
    doomed.cancel()  # before `doomed` has run again
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert await asyncio.wait_for(served, 5) > 0
    assert len(opened) == 1 and pool.size == 1


async def test_one_shot_returns_its_lease_when_the_repository_cannot_be_built(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with store.one_shot(SYSTEM):
        pass
    pool = store._direct_pool
    assert pool is not None and pool.size == 1

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no repository")

    monkeypatch.setattr(db, "Repository", refuse)
    with pytest.raises(RuntimeError, match="no repository"):
        async with store.one_shot(SYSTEM):
            pass
    monkeypatch.undo()
    async with store.one_shot(SYSTEM):  # the same connection again, none leaked or opened
        pass
    assert pool.size == 1 and pool.waiting == 0
