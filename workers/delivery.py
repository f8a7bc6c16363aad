"""Deliver one outbox row (Saleor `send_webhook_request_async`, Celery guide: re-read,
idempotent before acks_late).

    lease (+ circuit breaker)  ->  POST  ->  record the attempt, apply the policy
                                              (retry later | delivered | failed: escalate)

The Celery task carries the outbox id only. A replayed or duplicated task message finds the
row delivered, leased or not yet due and does nothing, so a delivered message is never sent
again by this code (a worker killed after the POST but before recording it sends once more
after the lease runs out: at-least-once; the Bundle id lets the receiver drop the copy).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import httpx
from celery import shared_task

from service.settings import Settings
from service.store import outbox
from service.store.db import Store
from service.store.model import SYSTEM
from service.store.outbox import OutboxRow
from service.store.repository import Repository
from service.workflow.delivery_policy import (
    BreakerRule,
    Decision,
    RandomSource,
    RetryPolicy,
    admit,
    after_result,
    classify,
    decide,
)
from workers.escalation import FEEDBACK_DELIVERED, escalate_delivery, mark_business_status
from workers.transport import SendResult, post_message

__all__ = [
    "DELIVER_TASK",
    "DeliveryConfig",
    "DeliveryDeps",
    "Outcome",
    "deliver",
    "deliver_message",
    "next_in_line",
]

log = logging.getLogger(__name__)

DELIVER_TASK = "chiroref.deliver_message"
Outcome = Literal["skipped", "deferred", "delivered", "retry", "failed"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerRule = field(default_factory=BreakerRule)
    lease_seconds: float = 60.0
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, s: Settings) -> DeliveryConfig:
        policy = RetryPolicy(
            s.delivery_backoff_base_seconds, s.delivery_backoff_cap_seconds,
            s.delivery_max_attempts, s.delivery_max_age_seconds,
        )
        rule = BreakerRule(s.breaker_failure_threshold, s.breaker_open_seconds,
                           s.delivery_lease_seconds)
        return cls(policy, rule, s.delivery_lease_seconds, s.delivery_timeout_seconds)


@dataclass(frozen=True, slots=True)
class DeliveryDeps:
    store: Store
    client: httpx.AsyncClient
    config: DeliveryConfig = field(default_factory=DeliveryConfig)
    clock: Callable[[], datetime] = _utcnow
    rng: RandomSource = field(default_factory=random.Random)


async def deliver(outbox_id: str, deps: DeliveryDeps) -> Outcome:
    row = await _take(outbox_id, deps)
    if isinstance(row, str):
        return row
    timeout = deps.config.timeout_seconds
    result = await post_message(deps.client, row.endpoint_url, row.body, timeout)
    return await _record(row, result, deps)


async def _take(outbox_id: str, deps: DeliveryDeps) -> OutboxRow | Outcome:
    """Lease the row and pass the endpoint's breaker, in one short transaction."""
    now = deps.clock()
    async with deps.store.engine.begin() as conn:
        row = await outbox.lease(conn, outbox_id, deps.config.lease_seconds, now)
        if row is None:
            log.info("outbox %s: not due, leased or done; skipped", outbox_id)
            return "skipped"
        state = await outbox.breaker(conn, row.endpoint_ref)
        admission = admit(state, deps.config.breaker, now)
        if not admission.allowed and admission.retry_at is not None:
            await outbox.defer(conn, row.id, admission.retry_at)
            log.info("outbox %s: endpoint circuit open; deferred", outbox_id)
            return "deferred"
        if admission.breaker != state:
            await outbox.save_breaker(conn, row.endpoint_ref, admission.breaker)
    return row


async def _record(row: OutboxRow, result: SendResult, deps: DeliveryDeps) -> Outcome:
    now, cfg = deps.clock(), deps.config
    verdict = classify(result.status_code)
    decision = decide(cfg.policy, verdict, row.attempts + 1, row.created_at, now, deps.rng)
    async with deps.store.engine.begin() as conn:
        number = await outbox.record_attempt(
            conn, row.id, at=now, status_code=result.status_code, error=result.error,
            duration_ms=result.duration_ms, decision=decision,
        )
        state = await outbox.breaker(conn, row.endpoint_ref)
        ok = verdict != "retry"
        await outbox.save_breaker(conn, row.endpoint_ref, after_result(state, cfg.breaker, now, ok))
        if number is not None and row.task_id:
            repo = Repository(conn, SYSTEM, now)
            await _tell_task(repo, row.task_id, row.kind, decision, result)
    _log(row, number, result, decision)
    return decision.state


async def _tell_task(
    repo: Repository, task_id: str, kind: str, decision: Decision, result: SendResult
) -> None:
    """The end of a delivery shows on its Task (in the transaction that records it)."""
    if decision.state == "failed":
        await escalate_delivery(repo, task_id, _reason(decision, result))
    elif decision.state == "delivered" and kind == "feedback":
        await mark_business_status(repo, task_id, FEEDBACK_DELIVERED, "feedback delivered")


def _reason(decision: Decision, result: SendResult) -> str:
    return "; ".join(r for r in (decision.reason, result.error) if r)


def _log(row: OutboxRow, number: int | None, result: SendResult, decision: Decision) -> None:
    log.info(
        "outbox %s attempt %s: %s in %d ms -> %s",
        row.id, number, result.status_code or result.error, result.duration_ms, decision.state,
    )


@shared_task(name=DELIVER_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_message(outbox_id: str) -> str:
    """Celery entry point: ids only; the row is the truth."""
    from workers.runtime import current

    runtime = current()
    outcome = runtime.run(deliver(outbox_id, runtime.deps))
    if outcome in ("delivered", "failed"):
        following = runtime.run(next_in_line(outbox_id, runtime.deps.store))
        if following is not None:
            deliver_message.delay(following)
    return outcome


async def next_in_line(outbox_id: str, store: Store) -> str | None:
    """The next open message of the same referral, now free to go."""
    async with store.engine.connect() as conn:
        row = await outbox.get(conn, outbox_id)
        return None if row is None else await outbox.next_for_referral(conn, row.referral_id)
