"""The transactional outbox (Polar `webhook/`, Saleor `EventDelivery`): rows are the truth,
a broker message is only a nudge.

Every function takes the `AsyncConnection` of the caller's transaction, so the row is
written with the change it reports (`add`) and leased, recorded and swept in short
transactions of their own (workers). Times are UTC and passed in (`now`).

    add            write a pending message (in the transaction that completes the Task)
    lease          take a due row for `seconds`; None when delivered, leased, not due,
                   unknown, or another row of its referral is in flight or older and open
    defer          give a leased row back untried (circuit breaker open)
    record_attempt log one try and apply the policy's Decision
    due            ids the sweeper should nudge (FOR UPDATE SKIP LOCKED on PostgreSQL)
    status         delivery status by referral or Task, with its attempts
    breaker / save_breaker   the circuit breaker of an endpoint
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Row, and_, exists, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from service.store.outbox_tables import delivery_endpoints, outbox, outbox_attempts
from service.workflow.delivery_policy import Breaker, Decision, Sibling, may_lease

__all__ = [
    "AttemptRow",
    "DeliveryStatus",
    "OutboxRow",
    "add",
    "attempts_of",
    "breaker",
    "defer",
    "due",
    "get",
    "lease",
    "next_for_referral",
    "record_attempt",
    "save_breaker",
    "status",
]

o = outbox.c
OPEN_STATES = ("pending", "in-flight")


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: str
    kind: str
    referral_id: str
    task_id: str | None
    endpoint_ref: str
    endpoint_url: str
    body: str  # the serialised message Bundle
    status: str
    attempts: int
    next_attempt_at: datetime
    lease_until: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class AttemptRow:
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    outcome: str  # delivered | retry | failed | deferred


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    row: OutboxRow
    tries: list[AttemptRow] = field(default_factory=list)


async def add(
    conn: AsyncConnection,
    *,
    id: str,
    kind: str,
    referral_id: str,
    task_id: str | None,
    endpoint_ref: str,
    endpoint_url: str,
    body: Mapping[str, Any] | str,
    now: datetime,
) -> str:
    """A pending message, due now. `id` is the message Bundle id."""
    text = body if isinstance(body, str) else orjson.dumps(body).decode()
    values = {
        "id": id, "kind": kind, "referral_id": referral_id, "task_id": task_id,
        "endpoint_ref": endpoint_ref, "endpoint_url": endpoint_url, "body": text,
        "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
    }
    await conn.execute(insert(outbox).values(values))
    return id


async def get(conn: AsyncConnection, id: str) -> OutboxRow | None:
    row = (await conn.execute(select(outbox).where(o.id == id))).first()
    return None if row is None else _row(row)


async def lease(conn: AsyncConnection, id: str, seconds: float, now: datetime) -> OutboxRow | None:
    """Lock the referral's open rows (in id order), then take this one if `may_lease`."""
    referral = await conn.scalar(select(o.referral_id).where(o.id == id))
    if referral is None:
        return None
    siblings = await _siblings(conn, referral, id)
    target = next((s for s in siblings if s.id == id), None)
    if target is None or not may_lease(target, siblings, now):
        return None
    lease_until = now + timedelta(seconds=seconds)
    leased = {"status": "in-flight", "lease_until": lease_until}
    await conn.execute(update(outbox).where(o.id == id).values(leased))
    return await get(conn, id)


async def _siblings(conn: AsyncConnection, referral: str, id: str) -> list[Sibling]:
    statement = (
        select(o.id, o.status, o.created_at, o.next_attempt_at, o.lease_until)
        .where(o.referral_id == referral, or_(o.status.in_(OPEN_STATES), o.id == id))
        .order_by(o.id)
        .with_for_update()
    )
    rows = (await conn.execute(statement)).all()
    return [Sibling(r.id, r.status, r.created_at, r.next_attempt_at, r.lease_until) for r in rows]


async def defer(conn: AsyncConnection, id: str, until: datetime) -> None:
    """Back to pending, untried, due at `until` (its lease is dropped)."""
    values = {"status": "pending", "lease_until": None, "next_attempt_at": until}
    await conn.execute(update(outbox).where(o.id == id, o.status == "in-flight").values(values))


async def record_attempt(
    conn: AsyncConnection,
    id: str,
    *,
    at: datetime,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    decision: Decision,
) -> int | None:
    """Log the try and apply `decision`; the attempt number, or None when the row is no
    longer in flight (another worker finished it after this one's lease ran out)."""
    number = await conn.scalar(
        update(outbox)
        .where(o.id == id, o.status == "in-flight")
        .values(_after(decision, error, at))
        .returning(o.attempts)
    )
    if number is None:
        return None
    attempt = {
        "outbox_id": id, "attempt": number, "at": at, "status_code": status_code,
        "error": error, "duration_ms": duration_ms, "outcome": decision.state,
    }
    await conn.execute(insert(outbox_attempts).values(attempt))
    return int(number)


def _after(decision: Decision, error: str | None, at: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"attempts": o.attempts + 1, "lease_until": None, "last_error": error}
    if decision.state == "delivered":
        return {**values, "status": "delivered", "delivered_at": at, "last_error": None}
    if decision.state == "failed":
        reason = "; ".join(r for r in (decision.reason, error) if r)
        return {**values, "status": "failed", "last_error": reason}
    return {**values, "status": "pending", "next_attempt_at": decision.next_attempt_at}


async def due(conn: AsyncConnection, now: datetime, limit: int) -> list[str]:
    """Pending rows due by `now` and in-flight rows whose lease ran out, oldest first,
    skipping rows held back by an older open row of their referral."""
    older = outbox.alias("older")
    blocked = exists().where(
        older.c.referral_id == o.referral_id,
        older.c.status.in_(OPEN_STATES),
        older.c.created_at < o.created_at,
    )
    statement = (
        select(o.id)
        .where(_is_due(now), ~blocked)
        .order_by(o.next_attempt_at, o.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=outbox)
    )
    return list((await conn.scalars(statement)).all())


def _is_due(now: datetime) -> Any:
    pending = and_(o.status == "pending", o.next_attempt_at <= now)
    expired = and_(o.status == "in-flight", o.lease_until <= now)
    return or_(pending, expired)


async def next_for_referral(conn: AsyncConnection, referral_id: str) -> str | None:
    """The oldest open row of a referral: the one to nudge after its predecessor is done."""
    statement = (
        select(o.id)
        .where(o.referral_id == referral_id, o.status.in_(OPEN_STATES))
        .order_by(o.created_at, o.id)
        .limit(1)
    )
    found = await conn.scalar(statement)
    return None if found is None else str(found)


async def status(
    conn: AsyncConnection, *, referral_id: str | None = None, task_id: str | None = None
) -> list[DeliveryStatus]:
    """Every message of a referral or a Task, oldest first, with its attempts."""
    if (referral_id is None) == (task_id is None):
        raise ValueError("give exactly one of referral_id, task_id")
    where = o.referral_id == referral_id if referral_id is not None else o.task_id == task_id
    rows = (await conn.execute(select(outbox).where(where).order_by(o.created_at, o.id))).all()
    return [DeliveryStatus(_row(r), await attempts_of(conn, r.id)) for r in rows]


async def attempts_of(conn: AsyncConnection, id: str) -> list[AttemptRow]:
    a = outbox_attempts.c
    statement = (
        select(a.attempt, a.at, a.status_code, a.error, a.duration_ms, a.outcome)
        .where(a.outbox_id == id)
        .order_by(a.attempt)
    )
    return [AttemptRow(*r) for r in (await conn.execute(statement)).all()]


async def breaker(conn: AsyncConnection, endpoint_ref: str) -> Breaker:
    """The endpoint's breaker, locked (PostgreSQL) until the transaction ends."""
    e = delivery_endpoints.c
    statement = (
        select(e.failures, e.open_until, e.probe_until)
        .where(e.endpoint_ref == endpoint_ref)
        .with_for_update()
    )
    row = (await conn.execute(statement)).first()
    return Breaker() if row is None else Breaker(row.failures, row.open_until, row.probe_until)


async def save_breaker(conn: AsyncConnection, endpoint_ref: str, state: Breaker) -> None:
    """Upsert (two workers may meet a new endpoint at once)."""
    values = {
        "failures": state.failures, "open_until": state.open_until,
        "probe_until": state.probe_until,
    }
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(delivery_endpoints).values(endpoint_ref=endpoint_ref, **values)
    await conn.execute(
        statement.on_conflict_do_update(index_elements=["endpoint_ref"], set_=values)
    )


def _row(row: Row[Any]) -> OutboxRow:
    return OutboxRow(**{f.name: getattr(row, f.name) for f in fields(OutboxRow)})

