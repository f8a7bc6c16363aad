"""Store-specific errors. The general ones (NotFound, Gone, PreconditionFailed) come from
service.errors; `ClaimTaken` is the store's own signal for a lost conditional create."""

from __future__ import annotations

from profiles.issues import Issue
from service.errors import Conflict


class ClaimTaken(Conflict):
    """A conditional-create key already belongs to a resource (the database said so).

    The transaction is spoiled (PostgreSQL aborts it): let it roll back, then in a new
    transaction `find_claim(resource_type, key)` returns the winner. Uncaught it renders
    as a 409.
    """

    def __init__(self, resource_type: str, key: str) -> None:
        message = f"{resource_type} matching {key!r} already exists"
        super().__init__(Issue("error", "duplicate", None, message))
        self.resource_type = resource_type
        self.key = key


class Deadlocked(Conflict):
    """PostgreSQL chose this transaction to end a deadlock (SQLSTATE 40P01: two
    transactions locked rows in opposite orders, e.g. Bundles of PUTs). It was rolled
    back; run again it will most likely pass. Uncaught it renders as a 409."""

    def __init__(self) -> None:
        super().__init__(Issue("error", "lock-error", None,
                               "the transaction met another in a deadlock and was rolled "
                               "back; nothing was written: send it again"))


DEADLOCK_SQLSTATE = "40P01"


def is_deadlock(error: BaseException | None) -> bool:
    """A driver error (asyncpg's, or the one under SQLAlchemy's DBAPIError) that is
    PostgreSQL ending this transaction for a deadlock."""
    return getattr(error, "sqlstate", None) == DEADLOCK_SQLSTATE

DEADLOCK_RETRIES = 2  # runs after the first before a Deadlocked is answered (409)


class StaleRead(Exception):
    """A one-shot create relied on a cached version that is no longer current, so its
    statement wrote nothing (read_cache.py). The entries are dropped: build the create
    again from fresh reads. Never reaches a client."""
