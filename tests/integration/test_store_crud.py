"""Create, read, vread, update, delete and history on both engines."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from service.errors import Gone, NotFound, PreconditionFailed
from service.store.db import Store
from service.store.errors import Deadlocked
from service.store.model import SYSTEM, Caller, NewResource

New = Callable[..., NewResource]
ORG_A, ORG_B = "Organization/a", "Organization/b"


async def _create(store: Store, *items: NewResource) -> None:
    async with store.begin(SYSTEM) as repo:
        await repo.create_many(items)


async def test_create_fills_id_version_and_last_updated(store: Store, store_new: New) -> None:
    item = store_new("ServiceRequest", status="active", meta={"profile": ["urn:p"]})
    async with store.begin(SYSTEM) as repo:
        [created] = await repo.create_many([item])
        now = repo.now
    meta = created.content["meta"]
    assert (created.id, created.version_id, created.last_updated) == (item.id, 1, now)
    assert meta == {"profile": ["urn:p"], "versionId": "1", "lastUpdated": meta["lastUpdated"]}
    assert datetime.fromisoformat(meta["lastUpdated"]) == now
    assert meta["lastUpdated"].endswith("+00:00") and now.tzinfo == UTC
    assert "meta" not in item.content or "versionId" not in item.content["meta"]


async def test_read_returns_what_create_stored(store: Store, store_new: New) -> None:
    referral, task = store_new("ServiceRequest", status="active"), store_new("Task")
    async with store.begin(SYSTEM) as repo:
        created = await repo.create_many([referral, task])
    async with store.begin(SYSTEM, readonly=True) as repo:
        read = [await repo.read(c.resource_type, c.id) for c in created]
    assert read == created
    assert list(read[0].content)[:3] == ["resourceType", "id", "meta"]


async def test_read_unknown_is_not_found(store: Store) -> None:
    async with store.begin(SYSTEM) as repo:
        with pytest.raises(NotFound):
            await repo.read("Task", "nope")


async def test_update_writes_a_new_version(store: Store, store_new: New) -> None:
    item = store_new("Task", status="requested")
    await _create(store, item)
    async with store.begin(SYSTEM) as repo:
        updated = await repo.update(
            "Task", item.id, {**item.content, "status": "accepted"}, frozenset(), 1
        )
    assert updated.version_id == 2 and updated.content["meta"]["versionId"] == "2"
    async with store.begin(SYSTEM) as repo:
        assert (await repo.read("Task", item.id)).content["status"] == "accepted"
        assert (await repo.vread("Task", item.id, 1)).content["status"] == "requested"
        assert (await repo.vread("Task", item.id, 2)) == updated


async def test_update_with_stale_version_is_412(store: Store, store_new: New) -> None:
    item = store_new("Task", status="requested")
    await _create(store, item)
    async with store.begin(SYSTEM) as repo:
        await repo.update("Task", item.id, item.content, frozenset(), None)
    async with store.begin(SYSTEM) as repo:
        with pytest.raises(PreconditionFailed):
            await repo.update("Task", item.id, item.content, frozenset(), 1)


async def test_update_unknown_is_not_found(store: Store) -> None:
    async with store.begin(SYSTEM) as repo:
        with pytest.raises(NotFound):
            await repo.update("Task", "nope", {"resourceType": "Task"}, frozenset(), None)


async def test_vread_unknown_version_is_not_found(store: Store, store_new: New) -> None:
    item = store_new("Task")
    await _create(store, item)
    async with store.begin(SYSTEM) as repo:
        with pytest.raises(NotFound):
            await repo.vread("Task", item.id, 2)


async def test_delete_then_read_is_gone_and_history_shows_it(
    store: Store, store_new: New
) -> None:
    item = store_new("Task", status="requested")
    await _create(store, item)
    async with store.begin(SYSTEM) as repo:
        deleted = await repo.delete("Task", item.id, 1)
    assert deleted is not None and deleted.deleted and deleted.version_id == 2
    async with store.begin(SYSTEM) as repo:
        with pytest.raises(Gone):
            await repo.read("Task", item.id)
        with pytest.raises(Gone):
            await repo.vread("Task", item.id, 2)
        assert await repo.delete("Task", item.id) is None  # already deleted
        history = await repo.history("Task", item.id, 10, 0)
    assert [(v.version_id, v.deleted) for v in history.items] == [(2, True), (1, False)]


async def test_delete_with_stale_version_is_412(store: Store, store_new: New) -> None:
    item = store_new("Task")
    await _create(store, item)
    async with store.begin(SYSTEM) as repo:
        with pytest.raises(PreconditionFailed):
            await repo.delete("Task", item.id, 7)


async def test_update_after_delete_revives(store: Store, store_new: New) -> None:
    item = store_new("Task", status="requested")
    await _create(store, item)
    async with store.begin(SYSTEM) as repo:
        await repo.delete("Task", item.id)
        revived = await repo.update("Task", item.id, item.content, frozenset(), None)
    async with store.begin(SYSTEM) as repo:
        assert (await repo.read("Task", item.id)).version_id == revived.version_id == 3


async def test_history_is_newest_first_and_pages(store: Store, store_new: New) -> None:
    item = store_new("Task", status="requested")
    await _create(store, item)
    for status in ("received", "accepted", "in-progress"):
        async with store.begin(SYSTEM) as repo:
            await repo.update("Task", item.id, {**item.content, "status": status}, frozenset())
    async with store.begin(SYSTEM) as repo:
        first = await repo.history("Task", item.id, 2, 0)
        second = await repo.history("Task", item.id, 2, 2)
        with pytest.raises(NotFound):
            await repo.history("Task", "nope", 10, 0)
    assert first.total == second.total == 4
    assert [v.version_id for v in first.items + second.items] == [4, 3, 2, 1]
    assert second.items[0].content["status"] == "received"


async def test_error_inside_begin_rolls_back(store: Store, store_new: New) -> None:
    item = store_new("Task")
    with pytest.raises(RuntimeError):
        async with store.begin(SYSTEM) as repo:
            await repo.create_many([item])
            raise RuntimeError("boom")
    async with store.begin(SYSTEM) as repo:
        with pytest.raises(NotFound):
            await repo.read("Task", item.id)


async def test_other_organisation_sees_not_found(store: Store, store_new: New) -> None:
    mine, theirs = store_new("Task", orgs={ORG_A}), store_new("Task", orgs={ORG_B})
    await _create(store, mine, theirs)
    clinic_a = Caller("clinic-a", frozenset({ORG_A}))
    async with store.begin(clinic_a) as repo:
        assert (await repo.read("Task", mine.id)).id == mine.id
        for attempt in (
            repo.read("Task", theirs.id),
            repo.vread("Task", theirs.id, 1),
            repo.history("Task", theirs.id, 10, 0),
            repo.update("Task", theirs.id, theirs.content, frozenset({ORG_A})),
            repo.delete("Task", theirs.id),
        ):
            with pytest.raises(NotFound):
                await attempt


async def test_update_replaces_organisations(store: Store, store_new: New) -> None:
    item = store_new("Task", orgs={ORG_A})
    await _create(store, item)
    async with store.begin(SYSTEM) as repo:
        await repo.update("Task", item.id, item.content, frozenset({ORG_B}))
    async with store.begin(Caller("a", frozenset({ORG_A}))) as repo:
        with pytest.raises(NotFound):
            await repo.read("Task", item.id)
    async with store.begin(Caller("b", frozenset({ORG_B}))) as repo:
        assert (await repo.read("Task", item.id)).version_id == 2


async def _update_task(store: Store, item: NewResource, expected: int | None) -> int | None:
    try:
        async with store.begin(SYSTEM) as repo:
            stored = await repo.update("Task", item.id, item.content, frozenset(), expected)
    except PreconditionFailed:
        return None
    return stored.version_id


async def test_concurrent_updates_never_share_a_version(store: Store, store_new: New) -> None:
    item = store_new("Task", status="requested")
    await _create(store, item)
    versions = await asyncio.gather(*(_update_task(store, item, None) for _ in range(8)))
    assert sorted(v for v in versions if v is not None) == list(range(2, 10))


async def test_concurrent_if_match_updates_let_one_win(store: Store, store_new: New) -> None:
    item = store_new("Task", status="requested")
    await _create(store, item)
    versions = await asyncio.gather(*(_update_task(store, item, 1) for _ in range(8)))
    assert [v for v in versions if v is not None] == [2]
    async with store.begin(SYSTEM) as repo:
        assert (await repo.history("Task", item.id, 50, 0)).total == 2


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # SQLite: one writer
async def test_a_deadlock_is_a_409_that_wrote_nothing(store: Store, store_new: New) -> None:
    """Two transactions update two rows in opposite orders: PostgreSQL rolls one back,
    which `Store.begin` reports as Deadlocked (409, `lock-error`), not a database error."""
    a, b = store_new("Patient", active=True), store_new("Patient", active=True)
    await _create(store, a, b)
    both_hold_one = asyncio.Barrier(2)

    async def update(first: NewResource, second: NewResource) -> str:
        try:
            async with store.begin(SYSTEM) as repo:
                await repo.update(first.resource_type, first.id, first.content, frozenset())
                await both_hold_one.wait()
                await repo.update(second.resource_type, second.id, second.content, frozenset())
        except Deadlocked as exc:
            assert exc.status == 409 and exc.issues[0].code == "lock-error"
            return "deadlocked"
        return "written"

    outcomes = await asyncio.wait_for(asyncio.gather(update(a, b), update(b, a)), 30)
    assert sorted(outcomes) == ["deadlocked", "written"]
    async with store.begin(SYSTEM) as repo:
        versions = [(await repo.read("Patient", r.id)).version_id for r in (a, b)]
    assert versions == [2, 2]  # the winner wrote both; the loser's first update rolled back


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # SQLite locks nothing
async def test_lock_rows_takes_any_number_of_rows(store: Store, store_new: New) -> None:
    """Two array parameters, not two bound values per row (asyncpg allows 32,767)."""
    kept = store_new("Patient", active=True)
    await _create(store, kept)
    wanted = [("Patient", kept.id), *(("Patient", f"absent-{n}") for n in range(20_000))]
    async with store.begin(SYSTEM) as repo:
        await repo.lock_rows(wanted)
        await repo.update("Patient", kept.id, kept.content, frozenset())
    async with store.begin(SYSTEM) as repo:
        assert (await repo.read("Patient", kept.id)).version_id == 2
