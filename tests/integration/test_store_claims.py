"""Conditional-create claims: the database refuses a second holder, even under races."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event

from service.errors import NotFound
from service.store import sqlite_writes
from service.store.db import Store
from service.store.errors import ClaimTaken
from service.store.model import SYSTEM, Caller, NewResource, SearchParam, SearchQuery

New = Callable[..., NewResource]
KEY = "identifier=urn:oid:2.16.578.1.12.4.1.2|ref-1"


async def _try_create(store: Store, items: list[NewResource], one_shot: bool = False) -> str | None:
    try:
        if one_shot:
            created = await store.create_many(SYSTEM, items)
        else:
            async with store.begin(SYSTEM) as repo:
                created = await repo.create_many(items)
    except ClaimTaken as exc:
        assert (exc.resource_type, exc.key) == ("ServiceRequest", KEY)
        return None
    return created[0].id


async def _count(store: Store, rtype: str) -> int:
    async with store.begin(SYSTEM) as repo:
        return (await repo.search(SearchQuery(rtype, summary="count"))).total


@pytest.mark.parametrize("one_shot", [False, True], ids=["begin", "one-shot"])
async def test_eight_concurrent_creates_make_one(
    store: Store, store_new: New, one_shot: bool
) -> None:
    batches = [
        [store_new("ServiceRequest", claim=KEY), store_new("Task", status="requested")]
        for _ in range(8)
    ]
    results = await asyncio.gather(*(_try_create(store, b, one_shot) for b in batches))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    async with store.begin(SYSTEM) as repo:
        found = await repo.find_claim("ServiceRequest", KEY)
    assert found is not None and found.id == winners[0]
    assert await _count(store, "ServiceRequest") == 1
    assert await _count(store, "Task") == 1


@pytest.mark.parametrize("one_shot", [False, True], ids=["begin", "one-shot"])
async def test_claim_taken_leaves_nothing_behind(
    store: Store, store_new: New, one_shot: bool
) -> None:
    first = store_new("ServiceRequest", claim=KEY)
    assert await _try_create(store, [first]) == first.id
    loser = store_new("ServiceRequest", claim=KEY, status="active", orgs={"Organization/a"})
    task = store_new("Task", status="requested", orgs={"Organization/a"})
    assert await _try_create(store, [task, loser], one_shot) is None
    async with store.begin(SYSTEM) as repo:
        for item in (loser, task):
            with pytest.raises(NotFound):
                await repo.read(item.resource_type, item.id)
    assert await _count(store, "Task") == 0


async def test_claims_are_per_resource_type(store: Store, store_new: New) -> None:
    async with store.begin(SYSTEM) as repo:
        both = [store_new("ServiceRequest", claim=KEY), store_new("Task", claim=KEY)]
        await repo.create_many(both)
        assert (await repo.find_claim("Task", KEY)) is not None
        assert (await repo.find_claim("Task", "other")) is None


async def test_delete_frees_the_claim(store: Store, store_new: New) -> None:
    first = store_new("ServiceRequest", claim=KEY)
    await _try_create(store, [first])
    async with store.begin(SYSTEM) as repo:
        await repo.delete("ServiceRequest", first.id)
        assert await repo.find_claim("ServiceRequest", KEY) is None
    second = store_new("ServiceRequest", claim=KEY)
    assert await _try_create(store, [second]) == second.id


async def test_find_claim_respects_isolation(store: Store, store_new: New) -> None:
    await _try_create(store, [store_new("ServiceRequest", orgs={"Organization/a"}, claim=KEY)])
    async with store.begin(Caller("b", frozenset({"Organization/b"}))) as repo:
        assert await repo.find_claim("ServiceRequest", KEY) is None
    async with store.begin(Caller("a", frozenset({"Organization/a"}))) as repo:
        assert await repo.find_claim("ServiceRequest", KEY) is not None


async def test_statements_per_create(store: Store, store_new: New) -> None:
    """The round-trip budget: PostgreSQL one statement, SQLite one per table."""
    referral = store_new("ServiceRequest", claim=KEY, orgs={"Organization/a"}, status="active")
    batch = [referral, store_new("Task", status="requested")]
    if store.dialect == "postgresql":
        await store.create_many(SYSTEM, [store_new("Task", status="requested")])  # warm up
        assert await _pg_round_trips(store, batch) == ["WITH"]
        return
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(" ".join(statement.split()[:2]))

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    await store.create_many(SYSTEM, batch)
    assert seen == ["BEGIN IMMEDIATE"]  # the inserts went in one hop (sqlite_writes)


async def test_portable_sqlite_path_claims_too(
    store: Store, store_new: New, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without aiosqlite's one-hop seam, one executemany per table, same semantics."""

    async def no_seam(conn: Any) -> None:
        return None

    monkeypatch.setattr(sqlite_writes, "driver_of", no_seam)
    first = store_new("ServiceRequest", claim=KEY, status="active", orgs={"Organization/a"})
    assert await _try_create(store, [first]) == first.id
    loser = [store_new("Task"), store_new("ServiceRequest", claim=KEY)]
    assert await _try_create(store, loser) is None
    assert await _count(store, "Task") == 0
    async with store.begin(SYSTEM) as repo:
        active = SearchParam("status", ("active",))
        page = await repo.search(SearchQuery("ServiceRequest", (active,)))
    assert [r.id for r in page.items] == [first.id]


async def _pg_round_trips(store: Store, batch: list[NewResource]) -> list[str]:
    """The first word of each query asyncpg sends (the pool holds one connection here;
    asyncpg's one-time type introspection happened in the warm-up)."""
    sent: list[str] = []

    def watch(driver: Any) -> None:
        driver.add_query_logger(lambda q: sent.append(q.query.split()[0].upper()))

    store.direct_listeners.append(watch)  # the one-shot path's connections
    try:
        await store.create_many(SYSTEM, batch)
        await asyncio.sleep(0)  # asyncpg calls query loggers with call_soon
    finally:
        store.direct_listeners.remove(watch)
    return sent


async def test_update_frees_conditional_claims_and_keeps_identity_claims(
    store: Store, store_new: New
) -> None:
    identity = "referral?requester=Organization/a&identifier=urn:x|1"
    patient = store_new("Patient", claim="identifier=urn:x|1")
    task = store_new("Task", claim=identity, status="requested")
    await _try_create(store, [patient])
    await _try_create(store, [task])
    async with store.begin(SYSTEM) as repo:
        await repo.update("Patient", patient.id, patient.content, frozenset())
        await repo.update("Task", task.id, task.content | {"status": "accepted"}, frozenset())
    async with store.begin(SYSTEM) as repo:
        assert await repo.find_claim("Patient", "identifier=urn:x|1") is None
        kept = await repo.find_claim("Task", identity)
        assert kept is not None and kept.id == task.id
