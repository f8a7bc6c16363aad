"""How outbound messages are retried, given up on and held back. Pure: data and functions of
plain values, with `now` and the random source as arguments.

    classify(status_code | None, transport_error) -> Verdict   delivered | retry | permanent
    decide(policy, verdict, attempts, created_at, now, rng) -> Decision
    backoff(policy, attempts, rng) -> seconds                  capped exponential, full jitter
    admit(breaker, rule, now) -> Admission                     per-endpoint circuit breaker
    after_result(breaker, rule, now, ok) -> Breaker
    may_lease(target, siblings, now) -> bool                   one in flight per referral, in order
    message_url(endpoint) -> str                               where to POST for an Endpoint

Never retry a 3xx or a 4xx, except 408 (timeout), 425 (too early) and 429 (too many
requests): the receiver has told us the message itself is wrong (Saleor
`webhook/transport/utils.py`). Transport errors and 5xx are retried with backoff until
`max_attempts` or `max_age`; then the delivery fails for good and is escalated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final, Literal, Protocol

__all__ = [
    "RETRYABLE_4XX",
    "Admission",
    "Breaker",
    "BreakerRule",
    "Decision",
    "OutboxState",
    "RandomSource",
    "RetryPolicy",
    "Sibling",
    "Verdict",
    "admit",
    "after_result",
    "backoff",
    "classify",
    "decide",
    "may_lease",
    "message_url",
]

Verdict = Literal["delivered", "retry", "permanent"]
OutboxState = Literal["pending", "in-flight", "delivered", "failed"]

RETRYABLE_4XX: Final = frozenset({408, 425, 429})
REST_CONNECTION: Final = "hl7-fhir-rest"
MESSAGING_CONNECTION: Final = "hl7-fhir-msg"


class RandomSource(Protocol):
    """`random.Random` or a test double."""

    def random(self) -> float: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_seconds: float = 5.0
    cap_seconds: float = 3600.0
    max_attempts: int = 12
    max_age_seconds: float = 3 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with the row after an attempt: `next_attempt_at` is set for `retry`."""

    state: Literal["delivered", "retry", "failed"]
    next_attempt_at: datetime | None = None
    reason: str | None = None


def classify(status_code: int | None) -> Verdict:
    """None (no response: timeout, refused, reset) is retried like a 5xx."""
    if status_code is None or status_code >= 500 or status_code in RETRYABLE_4XX:
        return "retry"
    if 200 <= status_code < 300:
        return "delivered"
    return "permanent"


def backoff(policy: RetryPolicy, attempts: int, rng: RandomSource) -> float:
    """Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2**(n-1))]."""
    ceiling = min(policy.cap_seconds, policy.base_seconds * 2 ** max(attempts - 1, 0))
    return rng.random() * ceiling


def decide(
    policy: RetryPolicy,
    verdict: Verdict,
    attempts: int,
    created_at: datetime,
    now: datetime,
    rng: RandomSource,
) -> Decision:
    """`attempts` counts the one just made."""
    if verdict == "delivered":
        return Decision("delivered")
    if verdict == "permanent":
        return Decision("failed", reason="rejected by the receiver")
    if attempts >= policy.max_attempts:
        return Decision("failed", reason=f"gave up after {attempts} attempts")
    retry_at = now + timedelta(seconds=backoff(policy, attempts, rng))
    if retry_at - created_at > timedelta(seconds=policy.max_age_seconds):
        return Decision("failed", reason=f"gave up after {attempts} attempts (too old)")
    return Decision("retry", next_attempt_at=retry_at)


# -- circuit breaker, one per endpoint ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BreakerRule:
    failure_threshold: int = 5
    open_seconds: float = 60.0
    probe_seconds: float = 60.0  # how long one half-open probe holds the others back


@dataclass(frozen=True, slots=True)
class Breaker:
    """Closed: `open_until` is None. Open: now < open_until. Half-open: after open_until,
    one probe at a time (`probe_until` marks the probe in flight)."""

    failures: int = 0
    open_until: datetime | None = None
    probe_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    allowed: bool
    breaker: Breaker  # the state to save (a probe marks itself)
    retry_at: datetime | None = None  # when refused: try again then


def admit(breaker: Breaker, rule: BreakerRule, now: datetime) -> Admission:
    if breaker.open_until is None:
        return Admission(True, breaker)
    if now < breaker.open_until:
        return Admission(False, breaker, breaker.open_until)
    if breaker.probe_until is not None and now < breaker.probe_until:
        return Admission(False, breaker, breaker.probe_until)
    probing = replace(breaker, probe_until=now + timedelta(seconds=rule.probe_seconds))
    return Admission(True, probing)


def after_result(breaker: Breaker, rule: BreakerRule, now: datetime, ok: bool) -> Breaker:
    """`ok`: the endpoint answered (any status but a retryable one). A failure while
    half-open, or the threshold reached while closed, opens the breaker again."""
    if ok:
        return Breaker()
    failures = breaker.failures + 1
    half_open = breaker.open_until is not None
    if half_open or failures >= rule.failure_threshold:
        return Breaker(failures, now + timedelta(seconds=rule.open_seconds), None)
    return Breaker(failures, None, None)


# -- ordering: one delivery in flight per referral, oldest first ----------------------------


@dataclass(frozen=True, slots=True)
class Sibling:
    """An outbox row of the same referral, as the lease sees it."""

    id: str
    status: OutboxState
    created_at: datetime
    next_attempt_at: datetime
    lease_until: datetime | None = None


def _leasable(row: Sibling, now: datetime) -> bool:
    if row.status == "pending":
        return row.next_attempt_at <= now
    return row.status == "in-flight" and row.lease_until is not None and row.lease_until <= now


def _blocks(other: Sibling, target: Sibling, now: datetime) -> bool:
    if other.id == target.id:
        return False
    if other.status == "in-flight" and other.lease_until is not None and other.lease_until > now:
        return True
    older = (other.created_at, other.id) < (target.created_at, target.id)
    return older and other.status in ("pending", "in-flight")


def may_lease(target: Sibling, siblings: Iterable[Sibling], now: datetime) -> bool:
    """The target is due, and no other row of its referral is in flight or older and open."""
    return _leasable(target, now) and not any(_blocks(s, target, now) for s in siblings)


# -- where to send ---------------------------------------------------------------------------


def message_url(endpoint: Mapping[str, Any]) -> str:
    """hl7-fhir-rest: `{address}/$process-message`; hl7-fhir-msg (or other): the address."""
    address = str(endpoint["address"])
    codes = {(endpoint.get("connectionType") or {}).get("code")}
    if REST_CONNECTION in codes:
        return f"{address.rstrip('/')}/$process-message"
    return address
