"""Delivery on both engines.

- `deliver()` with the GP endpoint mocked by respx: success, 5xx then success, timeout then
  success, a 4xx that fails at once and escalates, giving up, the circuit breaker.
- A real `chiroref worker` and `chiroref beat` (subprocesses) delivering to a real HTTP
  receiver on 127.0.0.1: PostgreSQL + Redis (production), SQLite + the embedded SQLite
  broker (`chiroref serve`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import respx

from service.settings import Settings
from service.store import outbox
from service.store.db import Store
from service.store.model import SYSTEM, NewResource, SearchParam, SearchQuery
from service.workflow.delivery_policy import BreakerRule, RetryPolicy
from tests.integration.outbox_helpers import T0, add_message, empty_outbox
from tests.integration.workers_fixture import (
    REDIS_URL,
    gp_receiver,  # noqa: F401  (a fixture, used by name)
    worker_env,
    worker_processes,
)
from tests.support.receiver import Receiver
from workers.celery_app import create_celery
from workers.delivery import DELIVER_TASK, DeliveryConfig, DeliveryDeps, deliver
from workers.escalation import DELIVERY_FAILED, FEEDBACK_DELIVERED

URL = "https://gp.test/fhir/$process-message"
S = timedelta(seconds=1)


class Top:
    """The top of the jitter range: backoff = min(cap, base * 2**(n-1)) exactly."""

    def random(self) -> float:
        return 1.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def ostore(store: Store) -> AsyncIterator[Store]:
    await empty_outbox(store)
    yield store


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def deps(ostore: Store, clock: Clock) -> AsyncIterator[DeliveryDeps]:
    config = DeliveryConfig(
        RetryPolicy(base_seconds=10, cap_seconds=60, max_attempts=4),
        BreakerRule(failure_threshold=2, open_seconds=120, probe_seconds=30),
        lease_seconds=30,
        timeout_seconds=2,
    )
    async with httpx.AsyncClient() as client:
        yield DeliveryDeps(ostore, client, config, clock, Top())


async def _tries(store: Store, id: str) -> list[tuple[int | None, str]]:
    async with store.engine.connect() as conn:
        return [(t.status_code, t.outcome) for t in await outbox.attempts_of(conn, id)]


async def _row(store: Store, id: str) -> outbox.OutboxRow:
    async with store.engine.connect() as conn:
        row = await outbox.get(conn, id)
    assert row is not None
    return row


@respx.mock
async def test_success_is_delivered_once(deps: DeliveryDeps, ostore: Store) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200))
    task_id = await _task(ostore)
    mid = await add_message(ostore, task=task_id)
    assert await deliver(mid, deps) == "delivered"
    assert await deliver(mid, deps) == "skipped"  # a replayed task message
    assert route.call_count == 1
    assert (await _row(ostore, mid)).status == "delivered"
    async with ostore.begin(SYSTEM) as repo:
        task = await repo.read("Task", task_id)
    assert task.content["businessStatus"]["coding"] == [FEEDBACK_DELIVERED]


@respx.mock
async def test_server_error_then_success(deps: DeliveryDeps, ostore: Store, clock: Clock) -> None:
    respx.post(URL).mock(side_effect=[httpx.Response(503), httpx.Response(200)])
    mid = await add_message(ostore)
    assert await deliver(mid, deps) == "retry"
    row = await _row(ostore, mid)
    assert row.status == "pending" and row.next_attempt_at == T0 + 10 * S
    clock.advance(9)
    assert await deliver(mid, deps) == "skipped"  # not due yet
    clock.advance(1)
    assert await deliver(mid, deps) == "delivered"
    assert (await _row(ostore, mid)).status == "delivered"
    assert await _tries(ostore, mid) == [(503, "retry"), (200, "delivered")]


@respx.mock
async def test_timeout_then_success(deps: DeliveryDeps, ostore: Store, clock: Clock) -> None:
    respx.post(URL).mock(side_effect=[httpx.ReadTimeout("slow"), httpx.Response(202)])
    mid = await add_message(ostore)
    assert await deliver(mid, deps) == "retry"
    clock.advance(10)
    assert await deliver(mid, deps) == "delivered"
    assert await _tries(ostore, mid) == [(None, "retry"), (202, "delivered")]


@respx.mock
async def test_gives_up_after_max_attempts(deps: DeliveryDeps, ostore: Store, clock: Clock) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(500))
    mid = await add_message(ostore, endpoint="Endpoint/flaky", task=None)
    outcomes = []
    for _ in range(4):
        outcomes.append(await deliver(mid, deps))
        clock.advance(600)  # past the backoff and the breaker
    assert outcomes == ["retry", "retry", "retry", "failed"] and route.call_count == 4


async def _task(store: Store) -> str:
    task = {"resourceType": "Task", "status": "completed", "intent": "order",
            "owner": {"reference": "Organization/clinic"}, "id": "task-1"}
    async with store.begin(SYSTEM) as repo:
        await repo.create_many([NewResource(task, frozenset({"Organization/clinic"}))])
    return "task-1"


@respx.mock
async def test_client_error_fails_at_once_and_escalates(
    deps: DeliveryDeps, ostore: Store
) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(422))
    task_id = await _task(ostore)
    mid = await add_message(ostore, task=task_id)
    assert await deliver(mid, deps) == "failed"
    assert route.call_count == 1
    row = await _row(ostore, mid)
    assert row.status == "failed" and row.last_error == "rejected by the receiver; HTTP 422"
    async with ostore.begin(SYSTEM) as repo:
        task = await repo.read("Task", task_id)
        query = SearchQuery("Task", (SearchParam("business-status", ("delivery-failed",)),))
        found = await repo.search(query)
    assert task.version_id == 2 and task.content["businessStatus"]["coding"] == [DELIVERY_FAILED]
    assert [r.id for r in found.items] == [task_id]


@respx.mock
async def test_circuit_breaker_opens_and_probes(
    deps: DeliveryDeps, ostore: Store, clock: Clock
) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(503))
    first, second, third = [await add_message(ostore, referral=f"r{i}") for i in range(3)]
    assert await deliver(first, deps) == "retry"
    assert await deliver(second, deps) == "retry"  # second failure: the breaker opens
    assert await deliver(third, deps) == "deferred"  # not sent at all
    assert route.call_count == 2
    assert (await _row(ostore, third)).next_attempt_at == T0 + 120 * S
    clock.advance(121)
    route.mock(return_value=httpx.Response(200))
    assert await deliver(third, deps) == "delivered"  # the half-open probe
    assert await deliver(first, deps) == "delivered"  # closed again
    assert await _tries(ostore, third) == [(200, "delivered")]


async def test_real_worker_and_beat_deliver_each_message_once(
    ostore: Store, gp_receiver: Receiver, tmp_path: Path  # noqa: F811
) -> None:
    if ostore.dialect == "postgresql":  # production: Redis, prefork
        broker, pool = REDIS_URL, "prefork"
    else:  # `chiroref serve`: the embedded broker, one solo worker
        broker, pool = f"sqla+sqlite:///{tmp_path / 'broker.db'}", "solo"
    url = f"{gp_receiver.url}/$process-message"
    nudged, swept, flaky = [await add_message(ostore, referral=f"r{i}", url=url, at=_now())
                            for i in range(3)]
    gp_receiver.fail_first.add(flaky)
    env = worker_env(str(ostore.engine.url.render_as_string(hide_password=False)), broker)
    with worker_processes(env, tmp_path, pool=pool):
        settings = Settings(broker_url=broker, celery_queue=env["CHIROREF_CELERY_QUEUE"])
        create_celery(settings).send_task(DELIVER_TASK, args=[nudged])
        await asyncio.to_thread(gp_receiver.wait_for, [nudged, swept, flaky], 60)
        await _until_delivered(ostore, [nudged, swept, flaky])
        await asyncio.sleep(1.5)  # a few more sweeps: nothing is sent again
    assert [gp_receiver.count(i) for i in (nudged, swept, flaky)] == [1, 1, 2]
    async with ostore.engine.connect() as conn:
        [status] = await outbox.status(conn, referral_id="r2")
    assert [t.outcome for t in status.tries] == ["retry", "delivered"]


def _now() -> datetime:
    return datetime.now(T0.tzinfo)


async def _until_delivered(store: Store, ids: list[str], seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.1)):
        rows = [await _row(store, i) for i in ids]
        if all(r.status == "delivered" for r in rows):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not delivered: {[(r.id, r.status) for r in rows]}")
