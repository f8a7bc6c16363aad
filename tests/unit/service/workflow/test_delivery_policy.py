from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.workflow.delivery_policy import (
    Breaker,
    BreakerRule,
    Decision,
    RetryPolicy,
    Sibling,
    admit,
    after_result,
    backoff,
    classify,
    decide,
    may_lease,
    message_url,
)

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


class Fixed:
    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(
    ("code", "verdict"),
    [
        (200, "delivered"), (202, "delivered"), (None, "retry"), (500, "retry"),
        (503, "retry"), (408, "retry"), (425, "retry"), (429, "retry"),
        (301, "permanent"), (400, "permanent"), (404, "permanent"), (422, "permanent"),
    ],
)
def test_classify(code: int | None, verdict: str) -> None:
    assert classify(code) == verdict


def test_backoff_doubles_up_to_the_cap_with_full_jitter() -> None:
    policy = RetryPolicy(base_seconds=2, cap_seconds=30)
    top = [backoff(policy, n, Fixed(1.0)) for n in range(1, 7)]
    assert top == [2, 4, 8, 16, 30, 30]
    assert backoff(policy, 5, Fixed(0.0)) == 0
    assert backoff(policy, 3, Fixed(0.5)) == 4


def test_decide_retries_then_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(base_seconds=10, max_attempts=3)
    first = decide(policy, "retry", 1, T0, T0, Fixed(1.0))
    assert first == Decision("retry", T0 + timedelta(seconds=10))
    assert decide(policy, "retry", 3, T0, T0, Fixed(1.0)).state == "failed"


def test_decide_gives_up_when_too_old() -> None:
    policy = RetryPolicy(base_seconds=10, max_age_seconds=3600)
    later = T0 + timedelta(seconds=3595)
    assert decide(policy, "retry", 2, T0, later, Fixed(1.0)).state == "failed"
    assert decide(policy, "retry", 2, T0, later, Fixed(0.0)).state == "retry"


def test_decide_never_retries_a_permanent_refusal() -> None:
    decision = decide(RetryPolicy(), "permanent", 1, T0, T0, Fixed(0.5))
    assert decision.state == "failed" and decision.next_attempt_at is None
    assert decide(RetryPolicy(), "delivered", 4, T0, T0, Fixed(0.5)).state == "delivered"


RULE = BreakerRule(failure_threshold=3, open_seconds=60, probe_seconds=20)


def _fail(breaker: Breaker, times: int, now: datetime = T0) -> Breaker:
    for _ in range(times):
        breaker = after_result(breaker, RULE, now, ok=False)
    return breaker


def test_breaker_opens_after_threshold_consecutive_failures() -> None:
    assert _fail(Breaker(), 2).open_until is None
    opened = _fail(Breaker(), 3)
    assert opened.open_until == T0 + timedelta(seconds=60)
    refused = admit(opened, RULE, T0 + timedelta(seconds=10))
    assert not refused.allowed and refused.retry_at == opened.open_until


def test_success_resets_the_count() -> None:
    breaker = after_result(_fail(Breaker(), 2), RULE, T0, ok=True)
    assert _fail(breaker, 2).open_until is None


def test_half_open_lets_one_probe_through() -> None:
    later = T0 + timedelta(seconds=61)
    probe = admit(_fail(Breaker(), 3), RULE, later)
    assert probe.allowed and probe.breaker.probe_until == later + timedelta(seconds=20)
    other = admit(probe.breaker, RULE, later + timedelta(seconds=1))
    assert not other.allowed and other.retry_at == probe.breaker.probe_until


def test_failed_probe_reopens_and_good_probe_closes() -> None:
    later = T0 + timedelta(seconds=61)
    probing = admit(_fail(Breaker(), 3), RULE, later).breaker
    reopened = after_result(probing, RULE, later, ok=False)
    assert reopened.open_until == later + timedelta(seconds=60)
    assert after_result(probing, RULE, later, ok=True) == Breaker()


def _row(id: str, status: str = "pending", age: int = 0, lease: int | None = None) -> Sibling:
    lease_until = None if lease is None else T0 + timedelta(seconds=lease)
    return Sibling(id, status, T0 - timedelta(seconds=age), T0, lease_until)  # type: ignore[arg-type]


def test_oldest_open_message_of_a_referral_goes_first() -> None:
    old, new = _row("a", age=10), _row("b", age=5)
    assert may_lease(old, [old, new], T0)
    assert not may_lease(new, [old, new], T0)
    assert may_lease(new, [_row("a", "delivered", age=10), new], T0)
    assert may_lease(new, [_row("a", "failed", age=10), new], T0)


def test_one_in_flight_per_referral() -> None:
    flying, new = _row("a", "in-flight", age=1, lease=30), _row("b", age=0)
    assert not may_lease(new, [flying, new], T0)
    assert not may_lease(flying, [flying, new], T0)  # its lease still holds
    expired = _row("a", "in-flight", age=1, lease=-1)
    assert may_lease(expired, [expired, new], T0)


def test_not_due_yet_is_not_leased() -> None:
    row = Sibling("a", "pending", T0, T0 + timedelta(seconds=5))
    assert not may_lease(row, [row], T0)
    assert not may_lease(_row("a", "delivered"), [], T0)


def test_message_url_by_connection_type() -> None:
    rest = {"address": "https://gp.test/fhir/", "connectionType": {"code": "hl7-fhir-rest"}}
    msg = {"address": "https://gp.test/in", "connectionType": {"code": "hl7-fhir-msg"}}
    assert message_url(rest) == "https://gp.test/fhir/$process-message"
    assert message_url(msg) == "https://gp.test/in"
