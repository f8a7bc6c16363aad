"""The outbox store on both engines: lease, one in flight per referral, attempts, due."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import orjson
import pytest

from service.store import outbox
from service.store.db import Store
from service.workflow.delivery_policy import Breaker, Decision
from tests.integration.outbox_helpers import T0, add_message, empty_outbox

S = timedelta(seconds=1)


@pytest.fixture
async def ostore(store: Store) -> AsyncIterator[Store]:
    await empty_outbox(store)
    yield store


async def _lease(
    store: Store, id: str, now: datetime = T0, seconds: float = 30
) -> outbox.OutboxRow | None:
    async with store.engine.begin() as conn:
        return await outbox.lease(conn, id, seconds, now)


async def _record(
    store: Store, id: str, decision: Decision, at: datetime = T0, code: int | None = 200
) -> int | None:
    async with store.engine.begin() as conn:
        return await outbox.record_attempt(
            conn, id, at=at, status_code=code, error=None if code == 200 else f"HTTP {code}",
            duration_ms=12, decision=decision,
        )


async def test_add_then_lease_once(ostore: Store) -> None:
    mid = await add_message(ostore)
    row = await _lease(ostore, mid)
    assert row is not None and row.status == "in-flight" and row.lease_until == T0 + 30 * S
    assert orjson.loads(row.body)["id"] == mid
    assert await _lease(ostore, mid) is None  # already leased
    assert await _lease(ostore, "unknown") is None


async def test_expired_lease_can_be_taken_again(ostore: Store) -> None:
    mid = await add_message(ostore)
    assert await _lease(ostore, mid, seconds=10) is not None
    assert await _lease(ostore, mid, now=T0 + 5 * S) is None
    assert await _lease(ostore, mid, now=T0 + 11 * S) is not None


async def test_delivered_row_is_never_leased_again(ostore: Store) -> None:
    mid = await add_message(ostore)
    await _lease(ostore, mid)
    assert await _record(ostore, mid, Decision("delivered"), at=T0 + S) == 1
    assert await _lease(ostore, mid, now=T0 + 3600 * S) is None
    assert await _record(ostore, mid, Decision("delivered")) is None  # a stale worker
    [state] = await _status(ostore, referral_id="sr-1")
    assert state.row.status == "delivered" and state.row.delivered_at == T0 + S
    assert [(t.attempt, t.status_code, t.outcome) for t in state.tries] == [(1, 200, "delivered")]


async def test_one_in_flight_per_referral_in_order(ostore: Store) -> None:
    first = await add_message(ostore, at=T0)
    second = await add_message(ostore, at=T0 + S)
    other = await add_message(ostore, referral="sr-2", at=T0 + S)
    now = T0 + 2 * S
    assert await _lease(ostore, second, now=now) is None  # the older one goes first
    assert await _lease(ostore, first, now=now) is not None
    assert await _lease(ostore, second, now=now) is None  # the first is in flight
    assert await _lease(ostore, other, now=now) is not None  # other referrals are free
    await _record(ostore, first, Decision("delivered"), at=now)
    async with ostore.engine.connect() as conn:
        assert await outbox.next_for_referral(conn, "sr-1") == second
    assert await _lease(ostore, second, now=now) is not None


async def test_retry_waits_for_next_attempt_at(ostore: Store) -> None:
    mid = await add_message(ostore)
    await _lease(ostore, mid)
    retry = Decision("retry", next_attempt_at=T0 + 20 * S)
    assert await _record(ostore, mid, retry, code=503) == 1
    assert await _lease(ostore, mid, now=T0 + 10 * S) is None
    row = await _lease(ostore, mid, now=T0 + 20 * S)
    assert row is not None and row.attempts == 1 and row.last_error == "HTTP 503"
    assert await _record(ostore, mid, Decision("failed", reason="gave up"), code=503) == 2
    [state] = await _status(ostore, task_id="task-1")
    assert state.row.status == "failed" and state.row.last_error == "gave up; HTTP 503"
    assert [t.outcome for t in state.tries] == ["retry", "failed"]


async def test_defer_gives_the_row_back_untried(ostore: Store) -> None:
    mid = await add_message(ostore)
    await _lease(ostore, mid)
    async with ostore.engine.begin() as conn:
        await outbox.defer(conn, mid, T0 + 60 * S)
    assert await _lease(ostore, mid, now=T0 + 59 * S) is None
    row = await _lease(ostore, mid, now=T0 + 60 * S)
    assert row is not None and row.attempts == 0


async def test_due_finds_pending_and_expired_leases_not_blocked_rows(ostore: Store) -> None:
    pending = await add_message(ostore, referral="a", at=T0)
    blocked = await add_message(ostore, referral="a", at=T0 + S)
    crashed = await add_message(ostore, referral="b", at=T0)
    later = await add_message(ostore, referral="c", at=T0 + 100 * S)
    await _lease(ostore, crashed, seconds=10)
    async with ostore.engine.begin() as conn:
        assert set(await outbox.due(conn, T0 + 5 * S, 100)) == {pending}
    async with ostore.engine.begin() as conn:
        assert set(await outbox.due(conn, T0 + 11 * S, 100)) == {pending, crashed}
    async with ostore.engine.begin() as conn:
        found = await outbox.due(conn, T0 + 200 * S, 100)
    assert set(found) == {pending, crashed, later} and blocked not in found
    async with ostore.engine.begin() as conn:
        assert len(await outbox.due(conn, T0 + 200 * S, 2)) == 2


async def test_due_skips_rows_locked_by_another_sweeper(store_pg_url: str) -> None:
    """PostgreSQL only: on SQLite a second writer waits for the first (one writer)."""
    ostore = await Store.open(store_pg_url)
    await empty_outbox(ostore)
    first = await add_message(ostore, referral="a")
    second = await add_message(ostore, referral="b")
    async with ostore.engine.begin() as one:
        claimed = await outbox.due(one, T0, 1)
        async with ostore.engine.begin() as two:
            rest = await outbox.due(two, T0, 10)
    await ostore.close()
    assert set(claimed) | set(rest) == {first, second}
    assert not set(claimed) & set(rest)


async def test_breaker_state_round_trips(ostore: Store) -> None:
    state = Breaker(3, T0 + 60 * S, None)
    async with ostore.engine.begin() as conn:
        assert await outbox.breaker(conn, "Endpoint/x") == Breaker()
        await outbox.save_breaker(conn, "Endpoint/x", state)
        await outbox.save_breaker(conn, "Endpoint/x", Breaker(4, T0, T0 + S))
    async with ostore.engine.begin() as conn:
        assert await outbox.breaker(conn, "Endpoint/x") == Breaker(4, T0, T0 + S)


async def _status(store: Store, **key: str) -> list[outbox.DeliveryStatus]:
    async with store.engine.connect() as conn:
        return await outbox.status(conn, **key)
